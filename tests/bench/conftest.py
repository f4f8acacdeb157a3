"""Bench tests reuse the CLI-as-subprocess and FAKE stub server fixtures of tests/verify."""

from __future__ import annotations

from verify.conftest import cli, cli_env, stub  # noqa: F401  (fixtures)
