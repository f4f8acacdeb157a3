"""Design -> deployment bundle: pure rendering (`render_bundle`) and an atomic writer (`write_bundle`)."""

from __future__ import annotations

from garrison.render.bundle import render_bundle
from garrison.render.design_file import load_design
from garrison.render.writer import write_bundle

__all__ = ["load_design", "render_bundle", "write_bundle"]
