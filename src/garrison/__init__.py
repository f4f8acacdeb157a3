"""Garrison: requirements in, a sized, justified, deployable self-hosted LLM platform out."""

__version__ = "0.1.0"
