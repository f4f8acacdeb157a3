"""Unique prompts against a real llama-server with its prompt cache ON (llama.cpp's default).

The model is a random-weight llama big enough that prefilling a 384-token prompt takes about 100 ms on
one core, so a prefix-cache hit would show as a TTFT many times lower, and small enough that the three
steps of the sweep run within a few seconds of each other (other work on a shared machine changes its
speed over tens of seconds, which is not what this test is about).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from garrison.bench.client import parse_target
from garrison.bench.workload import Length, PromptMaker, server_counter
from garrison.testing.tiny_gguf import write_tiny_gguf

pytestmark = [pytest.mark.slow, pytest.mark.needs_llama]

PREFILL_MODEL = {"layers": 4, "hidden": 256, "heads": 8, "kv_heads": 4, "ff": 704}


@pytest.fixture(scope="module")
def prefill_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_gguf(tmp_path_factory.mktemp("prefill") / "prefill.gguf", **PREFILL_MODEL)  # type: ignore[arg-type]


@contextlib.contextmanager
def _ahead_of_other_work(*pids: int) -> Iterator[None]:
    """Run this process (and so the CLI it starts) and every thread of `pids` under the real-time
    SCHED_FIFO policy while the sweep runs, where allowed (root): on a machine shared with other jobs
    their CPU use otherwise moves a step's median TTFT by 2x within seconds. The kernel still keeps 5%
    of each second for ordinary work (sched_rt_runtime_us); restored afterwards."""
    tids = [int(t) for pid in pids for t in os.listdir(f"/proc/{pid}/task")] + [0]
    changed = []
    for tid in tids:
        try:
            os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(1))
            changed.append(tid)
        except (PermissionError, OSError):
            pass
    try:
        yield
    finally:
        for tid in changed:
            with contextlib.suppress(OSError):
                os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))


def _bench(cli, url: str, *extra: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    p = cli(
        "bench",
        url,
        "--model",
        "tiny",
        "--json",
        "--no-save",
        "--endpoint",
        "completions",
        *extra,
        timeout=600,
    )
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)  # type: ignore[no-any-return]


def test_sweep_steps_on_a_caching_server_give_the_same_ttft(
    cli, llama_server, prefill_gguf, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    srv = llama_server(model=prefill_gguf, parallel=1, ctx=4096)
    # Other work on a shared 2-core machine moves a step's median TTFT by up to 20% within seconds even
    # at raised priority, so a sweep may be repeated (3 at most); a prefix-cache hit would make the
    # third step 10-30x faster in every repetition (the control below shows it).
    tries = []
    for _ in range(3):
        with _ahead_of_other_work(srv.pid):
            d = _bench(
                cli, srv.base_url, "--concurrency", "1,1,1", "--num-requests", "10", "--input-len", "384",
                "--output-len", "2", "--tokenizer", "server",
            )  # fmt: skip
        steps = d["steps"]
        assert d["workload"]["unique_prompts"] is True
        assert d["workload"]["prompt_source"] == "exact: server /tokenize"
        # the server's own ruler: only the template/BOS prefix may come from its cache, never a prompt
        cached = sum(s["server"]["counters"]["llamacpp:prompt_tokens_cached_total"] for s in steps)
        processed = sum(s["server"]["counters"]["llamacpp:prompt_tokens_total"] for s in steps)
        assert processed >= 20 * 384 and cached / (cached + processed) < 0.03, (cached, processed)
        first, third = steps[0]["ttft_ms"]["p50"], steps[2]["ttft_ms"]["p50"]
        tries.append((first, steps[1]["ttft_ms"]["p50"], third))
        print("ttft p50 per step", tries[-1])
        if abs(third - first) / first <= 0.15:
            break
    else:
        raise AssertionError(f"TTFT p50 of steps 1, 2, 3 differ by more than 15% in every sweep: {tries}")

    # control: the same server DOES cache a repeated prompt, so the check above could have failed
    ds = tmp_path / "one.jsonl"
    one = json.dumps({"prompt": _a_prompt(srv.base_url, 384), "output_len": 2})
    ds.write_text(one + "\n")
    rep = _bench(cli, srv.base_url, "--concurrency", "1,1", "--num-requests", "4", "--dataset", str(ds))
    cold, warm = rep["steps"][0]["ttft_ms"]["max"], rep["steps"][1]["ttft_ms"]["max"]
    assert warm < first / 3, (cold, warm, first)
    assert rep["steps"][1]["server"]["counters"]["llamacpp:prompt_tokens_cached_total"] >= 4 * 300


def _a_prompt(url: str, tokens: int) -> str:
    count = server_counter(parse_target(url), "tiny", True)
    assert count is not None
    return PromptMaker(count, Length(tokens, tokens), Length(2, 2), random.Random(5), nonce=7).next().text


def test_prompts_are_unique_and_exact_through_the_server_tokenizer(llama_server) -> None:  # type: ignore[no-untyped-def]
    srv = llama_server()
    count = server_counter(parse_target(srv.base_url), "tiny", True)
    assert count is not None
    maker = PromptMaker(count, Length(16, 200), Length(4, 4), random.Random(1), nonce=3)
    prompts = [maker.next() for _ in range(300)]
    assert len({p.text for p in prompts}) == 300
    # no two prompts share their first 8 tokens' worth of text (the marker differs at the start)
    heads = {" ".join(p.text.split(" ")[:1]) for p in prompts[:40]}
    assert len(heads) > 20
    sample = prompts[:12]
    assert count([p.text for p in sample]) == [p.input_tokens for p in sample]
    shared = PromptMaker(count, Length(100, 100), Length(4, 4), random.Random(1), nonce=3, prefix_len=40)
    a, b = shared.next(), shared.next()
    common = a.text[: next(i for i, (x, y) in enumerate(zip(a.text, b.text, strict=False)) if x != y)]
    assert count([common])[0] >= 38  # the 40-token prefix (its last word may start the markers' alike)
    assert count([a.text, b.text]) == [100, 100]
