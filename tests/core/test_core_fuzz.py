"""Thousands of generated requirement documents: only one-line InputErrors, never a traceback."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from garrison.errors import InputError
from garrison.requirements_file import parse_requirements

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**12), 10**12),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(["qwen3-8b", "chat", "code", "batch", "32k", "10.0.0.0/8", "recommend"]),
)
keys = st.sampled_from(
    [
        "organisation",
        "use_cases",
        "name",
        "team_size",
        "kind",
        "models",
        "context_length",
        "load",
        "users",
        "latency",
        "ttft_p95_ms",
        "budget",
        "capex_usd",
        "power",
        "security",
        "internal_networks",
        "growth",
        "hardware",
        "cpu_only",
        "handoff",
        "context",
        "selected_models",
        "concurrent_users",
        "bogus",
    ]
)
docs: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=6)),
    max_leaves=25,
)

VALID = {
    "organisation": {"name": "a", "team_size": 5},
    "use_cases": [{"name": "x", "kind": "chat", "models": ["qwen3-8b"], "context_length": 8192}],
}


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=docs)
def test_random_documents_raise_only_input_errors(doc: Any) -> None:
    try:
        parse_requirements(doc)
    except InputError as e:
        assert "\n" not in e.one_line()


@settings(max_examples=1500, deadline=None)
@given(
    path=st.lists(
        st.sampled_from(
            [
                "organisation",
                "use_cases",
                0,
                "load",
                "latency",
                "name",
                "kind",
                "team_size",
                "users",
                "context_length",
                "models",
            ]
        ),
        min_size=1,
        max_size=4,
    ),
    value=scalars,
)
def test_mutated_valid_document(path: list[Any], value: Any) -> None:
    import copy

    doc: Any = copy.deepcopy(VALID)
    node = doc
    for key in path[:-1]:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return
    try:
        node[path[-1]] = value
    except (TypeError, IndexError):
        return
    try:
        parse_requirements(doc)
    except InputError as e:
        assert e.field
