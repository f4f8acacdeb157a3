"""Hypothesis: thousands of mutated and random config dicts raise nothing but InputError."""

from __future__ import annotations

import copy
import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from garrison.errors import InputError
from garrison.modelspec import param_counts, spec_from_config

from . import configs

KEYS = sorted(
    {k for cfg in configs.ALL.values() for k in cfg} | {"text_config", "vision_config", "layer_types"}
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)
    ),
    max_leaves=12,
)


def _check(cfg: Any) -> None:
    try:
        s = spec_from_config(cfg, name="fuzz", source="inline")
    except InputError as err:
        assert err.field.startswith("config.json")
        return
    p = param_counts(s)  # a spec that builds must also count
    assert p.total >= p.active >= 0 and math.isfinite(float(p.total))


mutation = st.tuples(
    st.sampled_from(["delete", "set", "scale", "nested"]),
    st.sampled_from(KEYS),
    values,
    st.integers(-3, 10**9),
)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from(sorted(configs.ALL)), mutations=st.lists(mutation, min_size=1, max_size=5))
def test_mutated_configs_only_raise_input_error(
    base: str, mutations: list[tuple[str, str, Any, int]]
) -> None:
    cfg: dict[str, Any] = copy.deepcopy(configs.ALL[base])
    for op, key, value, number in mutations:
        target = cfg["text_config"] if op == "nested" and isinstance(cfg.get("text_config"), dict) else cfg
        if op == "delete":
            target.pop(key, None)
        elif op == "scale" and isinstance(target.get(key), int):
            target[key] = number  # negative, zero or huge numbers for a real key
        else:
            target[key] = value
    _check(cfg)


@settings(max_examples=500, deadline=None)
@given(cfg=st.one_of(st.dictionaries(st.sampled_from(KEYS), values, max_size=12), values))
def test_random_documents_only_raise_input_error(cfg: Any) -> None:
    _check(cfg)
