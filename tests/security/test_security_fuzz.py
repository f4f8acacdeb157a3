"""Fuzz the commands that read outside input: plan (requirements and hand-offs), estimate, tco,
render and handoff (design.json). Every case must exit 0, 2 or 3 with no traceback, and none may
run past the hang limit (60 s). Over 1,000 cases in all; slow tier.

Documents start from valid ones (the examples, hand-built designs) and get one to three mutations:
a leaf replaced by an extreme value (0, negative, 1e15, .inf, .nan, a 400-digit number, text, a
list, a mapping), a key added, hundreds of use cases, or a raw document that attacks the parser
(50,000 nested brackets, nested YAML aliases, a 5,000-digit number, 5 MB of text).
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bundle.designs import DESIGNS
from security.cli_runner import run_cli

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
# GARRISON_FUZZ_SCALE=0.1 runs a tenth of the cases (while debugging); the default is the full set.
SCALE = float(os.environ.get("GARRISON_FUZZ_SCALE", "1"))


def _settings(examples: int) -> settings:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
        database=None,
    )


NUMBERS = st.one_of(
    st.sampled_from(
        [0, -1, 1, 2, 0.5, 1e15, -1e15, 10**400, -(10**400), 2**63, 1e-300, 1e308, 4096, 1e11, 10_000_000]
    ),
    st.sampled_from([float("inf"), float("-inf"), float("nan")]),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
)
TEXT = st.one_of(
    st.text(max_size=24),
    st.sampled_from(
        [
            "",
            "32k",
            "1e15",
            "9" * 400,
            "1M",
            "qwen3-8b",
            "recommend",
            "./missing.gguf",
            "/nonexistent/model",
            'arch"\ninclude:\n  - /srv/evil.yaml\n#',
            "x'; rm -rf / #",
            "chat",
            "code",
            "batch",
            "10.0.0.0/8",
            "vllm",
            "llama.cpp",
            "h100",
        ]
    ),
)
LEAVES = st.one_of(NUMBERS, TEXT, st.none(), st.booleans())
VALUES = st.one_of(LEAVES, st.lists(LEAVES, max_size=3), st.dictionaries(TEXT, LEAVES, max_size=2))


def _leaf_paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value in `doc` (mappings and lists), the containers themselves included."""
    out: list[tuple[Any, ...]] = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.extend(_leaf_paths(v, (*prefix, k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.extend(_leaf_paths(v, (*prefix, i)))
    return out


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    node = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def _mutate(data: st.DataObject, doc: Any) -> Any:
    doc = copy.deepcopy(doc)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        paths = _leaf_paths(doc)
        kind = data.draw(st.sampled_from(["replace", "replace", "replace", "add", "delete"]), label="kind")
        if not paths:
            break
        path = data.draw(st.sampled_from(paths), label="path")
        if kind == "replace":
            old = _get(doc, path)
            typed = data.draw(st.booleans(), label="keep type")  # past the type checks, into the ranges
            if typed and isinstance(old, (int, float)) and not isinstance(old, bool):
                _set(doc, path, data.draw(NUMBERS, label="number"))
            elif typed and isinstance(old, str):
                _set(doc, path, data.draw(TEXT, label="text"))
            else:
                _set(doc, path, data.draw(VALUES, label="value"))
        elif kind == "add":
            parent = doc
            for key in path[:-1]:
                parent = parent[key]
            if isinstance(parent, dict):
                parent[data.draw(TEXT, label="new key")] = data.draw(VALUES, label="new value")
        else:
            parent = doc
            for key in path[:-1]:
                parent = parent[key]
            del parent[path[-1]]
    return doc


def _raw_attack(kind: str) -> str:
    if kind == "deep-flow":
        return "organisation: {name: a, team_size: 5}\nuse_cases: " + "[" * 50_000 + "]" * 50_000 + "\n"
    if kind == "deep-block":
        return "".join("  " * i + "a:\n" for i in range(3000)) + "  " * 3000 + "b: 1\n"
    if kind == "laughs":
        lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
        return "\n".join(lines) + "\norganisation: *a9\n"
    if kind == "digits":
        return "organisation: {name: a, team_size: " + "7" * 5000 + "}\nuse_cases: []\n"
    if kind == "huge":
        return "organisation: {name: a, team_size: 5}\ncompliance_notes: " + "x" * (5 * 2**20) + "\n"
    raise AssertionError(kind)


def _examples() -> list[Any]:
    return [yaml.safe_load(p.read_text()) for p in EXAMPLES]


def _dump(doc: Any) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def _many_use_cases(n: int) -> Any:
    return {
        "organisation": {"name": "many", "team_size": 10},
        "use_cases": [
            {"name": f"u{i}", "kind": "chat", "models": ["qwen3-8b"], "load": {"users": 5}} for i in range(n)
        ],
    }


def _check(outcome: Any) -> None:
    assert outcome.code is not None, f"hang over 60 s: garrison {' '.join(outcome.argv)}"
    assert outcome.ok(), (outcome.argv, outcome.code, outcome.stderr[-2000:])


@_settings(420)
@given(data=st.data())
def test_plan_requirements(data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "req.yaml"
        choice = data.draw(st.integers(0, 99), label="shape")
        if choice < 4:
            f.write_text(
                _raw_attack(
                    data.draw(st.sampled_from(["deep-flow", "deep-block", "laughs", "digits", "huge"]))
                )
            )
        elif choice < 7:
            f.write_text(_dump(_many_use_cases(data.draw(st.sampled_from([17, 500])))))
        else:
            base = data.draw(st.sampled_from(_examples()), label="example")
            f.write_text(_dump(_mutate(data, base)))
        args = ["plan", str(f), "--quiet", "--no-save"]
        if data.draw(st.integers(0, 9), label="out") == 0:
            args += ["--out", str(Path(tmp) / "bundle")]
        _check(run_cli(*args))


HANDOFF_CONTEXT = {
    "selected_models": ["qwen3-8b"],
    "model_sizes": "8B",
    "context_lengths": "32k",
    "concurrent_users": 10,
    "throughput_requirements": "20 tokens/s per user",
}


@_settings(260)
@given(data=st.data())
def test_plan_handoffs(data: st.DataObject) -> None:
    doc: dict[str, Any] = {
        "handoff": {
            "source_agent": data.draw(st.one_of(TEXT, VALUES), label="source_agent"),
            "context": {
                k: v for k, v in HANDOFF_CONTEXT.items() if data.draw(st.booleans(), label=f"keep {k}")
            },
            "request": data.draw(st.one_of(TEXT, VALUES), label="request"),
        }
    }
    doc = _mutate(data, doc)
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "handoff.yaml"
        f.write_text(_dump(doc))
        _check(run_cli("plan", str(f), "--quiet", "--no-save"))


def _design_docs() -> list[Any]:
    return [json.loads(build().model_dump_json()) for _, build in sorted(DESIGNS.items())]


@_settings(300)
@given(data=st.data())
def test_design_consumers(data: st.DataObject) -> None:
    raw = _mutate(data, data.draw(st.sampled_from(_design_docs()), label="design"))
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "design.json"
        f.write_text(json.dumps(raw))  # NaN and Infinity are written as such: a hostile file has them
        command = data.draw(st.sampled_from(["render", "tco", "handoff"]), label="command")
        if command == "render":
            args = ["render", str(f), "--out", str(Path(tmp) / "out"), "--quiet"]
        elif command == "tco":
            args = ["tco", str(f), "--years", str(data.draw(st.integers(-2, 12), label="years"))]
        else:
            to = data.draw(
                st.sampled_from(["mlops", "api-integration", "data-sovereignty", "implementation-guide"])
            )
            args = ["handoff", str(f), "--to", to]
        _check(run_cli(*args))


ESTIMATE_OPTIONS = [
    "--gpus",
    "--tp",
    "--pp",
    "--gpu-memory-utilization",
    "--max-model-len",
    "--max-num-seqs",
    "--max-num-batched-tokens",
    "--block-size",
    "--input-len",
    "--output-len",
    "--concurrency",
    "--memory-gib",
    "--bandwidth-gbs",
    "--tflops",
]
OPTION_VALUES = st.one_of(
    st.sampled_from(
        ["0", "-1", "1", "2", "8", "0.5", "1e15", "inf", "nan", "9" * 400, "4096", "100000", "abc"]
    ),
    st.integers(-(10**12), 10**12).map(str),
)


@_settings(220)
@given(data=st.data())
def test_estimate_options(data: st.DataObject) -> None:
    model = data.draw(st.sampled_from(["qwen3-8b", "llama-3.1-8b", "nonexistent-model", "/nonexistent.gguf"]))
    args = ["estimate", model]
    args += data.draw(st.sampled_from([["--gpu", "h100"], ["--gpu", "rtx-4090"], ["--cpu", "epyc-9654"], []]))
    for opt in data.draw(
        st.lists(st.sampled_from(ESTIMATE_OPTIONS), max_size=4, unique=True), label="options"
    ):
        args += [opt, data.draw(OPTION_VALUES, label=opt)]
    _check(run_cli(*args))
