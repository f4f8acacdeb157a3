"""Named efficiency profiles: `default` ships with Garrison; `garrison calibrate` writes others."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import ValidationError

from garrison.errors import InputError
from garrison.sizing.efficiency import DEFAULT_EFFICIENCY, Efficiency


def garrison_home() -> Path:
    """$GARRISON_HOME, else ~/.garrison: history database and calibration profiles live here."""
    return Path(os.environ.get("GARRISON_HOME", "~/.garrison")).expanduser()


def profile_path(name: str) -> Path:
    return garrison_home() / "calibrations" / f"{name}.json"


def load_efficiency(name: str = "default") -> Efficiency:
    """The efficiency factors of a named profile (`default` needs no file)."""
    if name == "default":
        return DEFAULT_EFFICIENCY
    path = profile_path(name)
    if not path.is_file():
        raise InputError(
            "--calibration",
            f"no profile named {name!r} in {path.parent}",
            "run `garrison calibrate --name NAME` first, or use `default`",
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Efficiency.model_validate(data.get("efficiency", data))
    except (ValueError, ValidationError):
        raise InputError(
            str(path), "not a valid calibration profile", "re-run `garrison calibrate`"
        ) from None
