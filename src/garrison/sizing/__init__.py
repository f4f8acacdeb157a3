"""Sizing physics: memory per GPU, KV capacity, and step time from a roofline."""
