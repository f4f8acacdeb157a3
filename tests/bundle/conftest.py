"""Bundle test fixtures: hand-built designs (tests/bundle/designs.py) rendered into folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from garrison.design import Design
from garrison.render import render_bundle, write_bundle
from bundle.designs import DESIGNS


@pytest.fixture(params=sorted(DESIGNS))
def design(request: pytest.FixtureRequest) -> Design:
    """Each hand-built design in turn: vLLM GPU x2, llama.cpp CPU, multi-node + SGLang."""
    return DESIGNS[request.param]()


@pytest.fixture
def bundle_dir(tmp_path: Path) -> Callable[[Design], Path]:
    """`bundle_dir(design)` renders and writes the design's bundle into a fresh folder."""

    def make(d: Design) -> Path:
        out = tmp_path / "bundle"
        write_bundle(render_bundle(d), out)
        return out

    return make
