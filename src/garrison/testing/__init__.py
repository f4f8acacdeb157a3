"""Helpers that tests (and other helpers' tests) share: tiny real artefacts, no downloads."""
