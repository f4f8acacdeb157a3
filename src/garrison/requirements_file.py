"""Read requirements YAML (Garrison's own shape or a planning agent's hand-off) into Requirements."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from garrison.errors import InputError
from garrison.input_limits import MAX_DOCUMENT_BYTES, yaml_document
from garrison.names import check_names, is_line
from garrison.requirements import Requirements


def validation_to_input_error(e: ValidationError, prefix: str = "") -> InputError:
    """The first pydantic error as `field: problem; fix` (one line)."""
    err = e.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ()))
    field = f"{prefix}{loc}" if loc else prefix.rstrip(".") or "input"
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return InputError(
            field, "unknown key", "remove it or check its spelling against docs/requirements.md"
        )
    if kind == "missing":
        return InputError(field, "required but missing", "add it (see examples/ for the shape)")
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    return InputError(field, msg, "fix the value (see docs/requirements.md)")


_NUM = re.compile(r"(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*([kKmM]?)")


_MAX_HANDOFF_NUMBER = 1e9  # context lengths, users and tokens/s in a hand-off are far below this


def _number(value: Any, field: str) -> float:
    """'32k' -> 32768, '1M' -> 1048576, '50 tokens/s' -> 50, 40 -> 40; finite and at most 1e9."""
    if isinstance(value, bool):
        raise InputError(field, f"expected a number, got {value!r}", "give a number such as 32768 or '32k'")
    n: float | None = None
    if isinstance(value, (int, float)):
        n = float(value) if abs(value) <= _MAX_HANDOFF_NUMBER else math.inf
    elif isinstance(value, str):
        m = _NUM.search(value[:200])
        if m:
            digits = m.group(1)
            n = float(digits) if len(digits) <= 24 else math.inf
            n *= {"k": 1024, "m": 1024**2}.get(m.group(2).lower(), 1)
    if n is None:
        raise InputError(
            field, f"expected a number, got {str(value)[:40]!r}", "give a number such as 32768 or '32k'"
        )
    if not math.isfinite(n) or n > _MAX_HANDOFF_NUMBER:
        raise InputError(
            field, "not a finite number up to 1e9", "give a realistic number such as 32768 or '32k'"
        )
    return n


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def from_handoff(doc: dict[str, Any]) -> dict[str, Any]:
    """Map the architect role's hand-off YAML onto Garrison's requirements shape.

    `handoff: {source_agent, context: {selected_models, model_sizes, context_lengths,
    concurrent_users, throughput_requirements}, request}` becomes one chat use case per model.
    """
    h = doc["handoff"]
    if not isinstance(h, dict):
        raise InputError("handoff", "must be a mapping", "see docs/requirements.md for the hand-off shape")
    ctx = h.get("context") or {}
    if not isinstance(ctx, dict):
        raise InputError("handoff.context", "must be a mapping", "see docs/requirements.md")
    unknown = set(ctx) - {
        "selected_models",
        "model_sizes",
        "context_lengths",
        "concurrent_users",
        "throughput_requirements",
    }
    if unknown:
        raise InputError(f"handoff.context.{sorted(unknown)[0]}", "unknown key", "remove it")
    models = _as_list(ctx.get("selected_models"))
    if not models:
        raise InputError("handoff.context.selected_models", "no model named", "list catalogue ids or paths")
    lengths_raw = ctx.get("context_lengths", 8192)
    if isinstance(lengths_raw, dict):
        lengths = [_number(lengths_raw.get(m, 8192), f"handoff.context.context_lengths.{m}") for m in models]
    else:
        vals = _as_list(lengths_raw) or [8192]
        lengths = [
            _number(vals[min(i, len(vals) - 1)], "handoff.context.context_lengths")
            for i in range(len(models))
        ]
    users = int(_number(ctx.get("concurrent_users", 10), "handoff.context.concurrent_users"))
    tput = ctx.get("throughput_requirements")
    use_cases = []
    for i, (model, length) in enumerate(zip(models, lengths, strict=True)):
        uc: dict[str, Any] = {
            "name": f"model-{i + 1}",
            "kind": "chat",
            "models": [str(model)],
            "context_length": int(length),
            "load": {"concurrent_requests": max(1, users)},
        }
        if tput is not None:
            per_stream = _number(tput, "handoff.context.throughput_requirements")
            if per_stream > 0:
                uc["latency"] = {"itl_p95_ms": max(1.0, 1000.0 / per_stream)}
        use_cases.append(uc)
    agent = str(h.get("source_agent") or "handoff").lstrip("@")
    if not is_line(agent) or len(agent) > 200:
        raise InputError(
            "handoff.source_agent",
            "must be one line of printable text, at most 200 characters",
            "send the agent's name, e.g. @Open-Source-Model-Evaluator",
        )
    return {
        "organisation": {
            "name": agent,
            "team_size": max(1, users),
        },
        "use_cases": use_cases,
        "compliance_notes": str(h.get("request") or ""),
    }


def parse_requirements(doc: Any) -> Requirements:
    """Validate a parsed YAML document (either shape)."""
    if not isinstance(doc, dict):
        raise InputError("requirements", "the file must be a YAML mapping", "see examples/ for the shape")
    if "handoff" in doc:
        extra = set(doc) - {"handoff"}
        if extra:
            raise InputError(sorted(extra)[0], "unknown key beside `handoff`", "remove it")
        doc = from_handoff(doc)
    try:
        req = Requirements.model_validate(doc)
    except ValidationError as e:
        raise validation_to_input_error(e) from None
    check_names(req, "")
    return req


def load_requirements(path: str | Path) -> Requirements:
    """Read and validate a requirements YAML file; every problem is one InputError line."""
    p = Path(path)
    if not p.is_file():
        raise InputError(str(path), "no such file", "give the path of a requirements YAML file")
    if p.stat().st_size > MAX_DOCUMENT_BYTES:
        raise InputError(str(path), "too large for a requirements file", "check the path")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError(str(path), "not a text file", "give a YAML file") from None
    return parse_requirements(yaml_document(text, str(path)))
