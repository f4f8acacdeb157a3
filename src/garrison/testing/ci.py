"""Skip locally, fail in CI: a test that needs a real component (a tool, the llama-server build)
skips with the install hint on a developer machine, but under CI, where `scripts/test.sh` installed
everything, a missing component is a broken set-up and must fail. Only for tests: pytest (the
`test` extra) is imported when a helper runs, so importing this module never needs it.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn


def in_ci() -> bool:
    """True when the `CI` environment variable is set to true/1/yes (as CI systems do)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> NoReturn:
    """`pytest.skip(reason)` on a developer machine, `pytest.fail(reason)` under CI."""
    import pytest

    if in_ci():
        pytest.fail(f"{reason} [CI=true: a missing real component is a failure]", pytrace=False)
    pytest.skip(reason)


def require_tool(name: str, apt_package: str | None = None) -> str:
    """Path of executable `name`; otherwise skip (or fail under CI) naming the apt package."""
    path = shutil.which(name)
    if path is None:
        skip_or_fail(f"`{name}` not installed (apt-get install {apt_package or name})")
    return path
