"""Bounded parsing of untrusted YAML and JSON: size, nesting depth and node count are limited.

Requirements, hand-offs and design.json files come from people and from other agents (MCP exposes
plan and render). A parser must not be the way to hang or crash Garrison, so before any document
reaches pydantic:
- its size is limited (`MAX_DOCUMENT_BYTES`);
- its nesting depth is limited (`MAX_DEPTH`), checked on the event stream (YAML) or the bracket
  structure (JSON) *before* the recursive composers run, so 50,000 nested brackets are one error,
  never a RecursionError;
- its node count after YAML alias expansion is limited (`MAX_NODES`), so a "billion laughs" document
  of nested aliases is refused instead of walked for hours;
- numbers too long for Python's int conversion (over 4,300 digits) are one error.
"""

from __future__ import annotations

import json
import math
from typing import Any

import yaml

from garrison.errors import InputError

MAX_DOCUMENT_BYTES = 4 * 2**20  # a requirements file is a few KiB; a design.json a few hundred
MAX_DEPTH = 64  # the deepest Garrison document nests 8 levels
MAX_NODES = 200_000  # mappings, sequences and scalars after alias expansion


def is_finite(value: float) -> bool:
    """True for a finite number; a Python int of any size is finite (math.isfinite overflows on it)."""
    return isinstance(value, int) or math.isfinite(value)


def show_number(value: float) -> str:
    """A number for an error message: 400-digit integers are shortened, floats in %g."""
    if isinstance(value, int):
        text = str(value)
        return text if len(text) <= 20 else f"{text[:8]}... ({len(text)} digits)"
    return f"{value:g}"


def _check_size(text: str, source: str) -> None:
    if len(text) > MAX_DOCUMENT_BYTES:
        raise InputError(
            source,
            f"{len(text):,} characters is larger than the {MAX_DOCUMENT_BYTES:,} Garrison reads",
            "this is not a requirements or design file; check the path",
        )


def _too_deep(source: str) -> InputError:
    return InputError(source, f"nested deeper than {MAX_DEPTH} levels", "flatten the document")


def _count_nodes(doc: Any, source: str) -> None:
    """Walk the loaded document (aliases visited as often as they are used) within a node budget."""
    budget = MAX_NODES
    stack = [doc]
    while stack:
        node = stack.pop()
        budget -= 1
        if budget < 0:
            raise InputError(
                source,
                f"more than {MAX_NODES:,} values once YAML aliases are expanded",
                "write the document without nested aliases (&anchor / *alias)",
            )
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def yaml_documents(text: str, source: str) -> list[Any]:
    """Parse a YAML stream (one or more documents) within the limits; one InputError per problem."""
    _check_size(text, source)
    try:
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):  # the event parser is not recursive
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _too_deep(source)
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(
            source, f"invalid YAML{where}", "fix the syntax (indentation, colons, quotes)"
        ) from None
    except ValueError as e:  # int() of a number with more digits than Python converts
        raise InputError(source, f"a value cannot be read ({e})", "use an ordinary number") from None
    _count_nodes(docs, source)
    return docs


def yaml_document(text: str, source: str) -> Any:
    """Parse one YAML document within the limits; every problem is one InputError naming `source`."""
    docs = yaml_documents(text, source)
    if len(docs) > 1:
        raise InputError(source, f"holds {len(docs)} YAML documents", "give one document (no `---` between)")
    return docs[0] if docs else None


def _json_depth_ok(text: str) -> bool:
    """True when brackets outside strings nest at most MAX_DEPTH deep (one linear scan)."""
    depth = 0
    in_string = False
    escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def json_document(text: str, source: str, fix: str = "pass a file written by garrison") -> Any:
    """Parse JSON within the limits; NaN and Infinity are refused like any other non-number."""
    _check_size(text, source)
    if not _json_depth_ok(text):
        raise _too_deep(source)

    def _no_constant(name: str) -> Any:
        raise InputError(source, f"{name} is not a number Garrison accepts", fix)

    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise InputError(source, f"not JSON ({e.msg} at line {e.lineno})", fix) from None
    except ValueError as e:  # a number with more digits than Python converts
        raise InputError(source, f"a value cannot be read ({e})", fix) from None
