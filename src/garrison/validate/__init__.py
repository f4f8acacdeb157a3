"""`garrison validate`: run the real tools over a rendered bundle and report per artifact."""

from __future__ import annotations

from garrison.validate.runner import CheckResult, ValidationReport, validate_bundle

__all__ = ["CheckResult", "ValidationReport", "validate_bundle"]
