"""Fixtures the security tests share with other areas."""

from __future__ import annotations

# the fixture that renders a design and starts its gateway under real nginx (tests/bundle)
from bundle.test_bundle_gateway import gateway_factory  # noqa: F401
