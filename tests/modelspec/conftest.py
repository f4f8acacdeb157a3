"""Fixtures for modelspec tests: the shared reference configs (skipped when absent) and small configs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REFERENCE = Path("/work/shared/reference/models")


def load_reference(dirname: str) -> dict[str, Any]:
    """config.json of one reference model dir; skips the test when the shared folder is absent."""
    folder = REFERENCE / dirname
    for name in ("config.json", "config.reconstructed.json"):
        if (folder / name).is_file():
            data: dict[str, Any] = json.loads((folder / name).read_text())
            return data
    pytest.skip(f"reference config {dirname} not available here")


def reference_dirs() -> list[str]:
    """Every reference model dir present (empty when the shared folder is absent)."""
    if not REFERENCE.is_dir():
        return []
    return sorted(p.name for p in REFERENCE.iterdir() if p.is_dir())


@pytest.fixture
def reference() -> Any:
    """`reference(dirname)` -> config dict, skipping when the shared reference set is absent."""
    return load_reference
