"""Hypothesis: thousands of mutated/random config dicts and corrupted GGUFs raise nothing but InputError."""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from garrison.errors import InputError
from garrison.modelspec import param_counts, spec_from_config, spec_from_gguf
from garrison.testing.tiny_gguf import write_tiny_gguf

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


@functools.cache
def _tiny_gguf_bytes() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return write_tiny_gguf(Path(tmp) / "t.gguf").read_bytes()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cut=st.one_of(st.none(), st.integers(0, 30_000)),
    flips=st.lists(st.tuples(st.integers(0, 20_000), st.integers(0, 255)), max_size=8),
)
def test_corrupted_gguf_only_raises_input_error(
    tmp_path_factory: pytest.TempPathFactory, cut: int | None, flips: list[tuple[int, int]]
) -> None:
    """Truncated or byte-flipped GGUFs: an InputError or a spec, never a crash or a runaway allocation
    (GGUFReader alone allocated 12 GB on one flipped count before the header walk was added)."""
    original = _tiny_gguf_bytes()
    data = bytearray(original if cut is None else original[:cut])
    for pos, value in flips:
        if pos < len(data):
            data[pos] = value
    path = tmp_path_factory.mktemp("c") / "c.gguf"
    path.write_bytes(bytes(data))
    with contextlib.suppress(InputError):
        spec_from_gguf(path)
