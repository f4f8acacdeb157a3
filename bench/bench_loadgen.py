#!/usr/bin/env python3
"""Benchmark of the load generator itself (not a timed test). Results go in docs/bench.md.

Part 1 - headroom: `garrison.bench` drives the FAKE stub server (tests/verify/stub_server.py, a separate
process) at 256 and 1,024 concurrent streams; reports client CPU per output token and the difference
between the client's and the server's TTFT/TPOT (what the client adds on top of the server).

Part 2 - side by side with GuideLLM on the same real llama-server (a generated random-weight GGUF,
big enough that the server sets the pace; the server pinned to CPU 0, the clients to the others):
TTFT, ITL, output throughput and client CPU per token, as ratios garrison / GuideLLM, and each
tool's ITL against the server's own generation timing from its /metrics counters. GuideLLM runs from a
separate venv (default /work/venv-guidellm, `pip install guidellm`); client CPU per token is the
marginal CPU (user+sys of the whole process tree) between a small and a large run, which cancels start-up.

    python bench/bench_loadgen.py [--part 1|2|all] [--guidellm-venv DIR] [--llama-server BIN] [--json] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests" / "verify"))

from garrison.bench import BenchConfig, run_bench  # noqa: E402
from garrison.bench.workload import Length  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def _raise_nofile() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.load(r)


def part1(concurrencies: list[int], token_delay_ms: float, output_len: int) -> list[dict[str, Any]]:
    _raise_nofile()
    rows = []
    for c in concurrencies:
        stub = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "tests/verify/stub_server.py"),
                "--token-delay-ms",
                str(token_delay_ms),
            ],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=_raise_nofile,
        )
        try:
            assert stub.stdout is not None
            port = int(stub.stdout.readline().split()[1])
            url = f"http://127.0.0.1:{port}"
            cfg = BenchConfig(
                url=url,
                model="stub",
                concurrency=(c,),
                num_requests=2 * c,
                input_len=Length(64, 64),
                output_len=Length(output_len, output_len),
                tokenizer="approx",
                request_timeout_s=120,
            )
            res = run_bench(cfg)
            s = res.steps[0]
            srv = _get_json(url + "/stats")
            # the warm-up request is the first server sample; drop it
            srv_ttft = sorted(srv["server_ttft_s"][1:])
            srv_ttft_ms = 1000 * sum(srv_ttft) / len(srv_ttft)
            rows.append(
                {
                    "concurrency": c,
                    "requests_ok": s.requests,
                    "errors": s.errors,
                    "output_tokens": s.output_tokens,
                    "output_tokens_per_s": s.output_tokens_per_s,
                    "client_cpu_ms_per_token": s.client_cpu_s_per_1k_tokens,  # s/1k tokens == ms/token
                    "client_cpu_cores_used": round(
                        (s.client_cpu_s_per_1k_tokens or 0) * s.output_tokens / 1000 / s.duration_s, 3
                    ),
                    "server_cpu_ms_per_token": round(1000 * srv["cpu_s"] / max(1, srv["tokens_sent"]), 4),
                    "step_duration_s": s.duration_s,
                    "machine_load_1min": round(os.getloadavg()[0], 2),
                    "cpus": os.cpu_count(),
                    "client_ttft_mean_ms": s.ttft_ms.mean,
                    "server_ttft_mean_ms": round(srv_ttft_ms, 3),
                    "ttft_client_minus_server_ms": round((s.ttft_ms.mean or 0) - srv_ttft_ms, 3),
                    "client_itl_mean_ms": s.itl_ms.mean,
                    "server_token_interval_ms": token_delay_ms,
                    "itl_client_minus_server_ms": round((s.itl_ms.mean or 0) - token_delay_ms, 3),
                }
            )
        finally:
            stub.terminate()
            stub.wait()
    return rows


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _timed(
    cmd: list[str], cpus: set[int] | None = None, **kw: Any
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run `cmd` (pinned to `cpus` when given); return it and the CPU seconds its process tree used."""
    c0 = _cpu_children()
    pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    p = subprocess.run(cmd, capture_output=True, text=True, preexec_fn=pin, **kw)
    return p, _cpu_children() - c0


def _server_counters(url: str) -> dict[str, float]:
    """llama-server's own cumulative counters (the neutral ruler both clients are compared with)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url + "/metrics", timeout=30) as r:
        text = r.read().decode()
    return {
        s.name: float(s.value)
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name.startswith("llamacpp:")
    }


def _server_view(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
    """What the server itself measured between two scrapes of `requests` requests.

    llama-server times each slot's generation from the last prompt token to the last generated
    token (server-common.h: t_gen_us, n_gen_steps = n_gen - 1: the first token comes from the
    prompt's logits), so its per-token interval is generation seconds / (tokens - requests); the
    prompt seconds per request is the prompt-processing part of TTFT, without HTTP or queueing."""
    d = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    steps = d["llamacpp:tokens_predicted_total"] - requests
    return {
        "server_itl_ms": round(1000 * d["llamacpp:tokens_predicted_seconds_total"] / max(1.0, steps), 3),
        "server_prompt_ms_per_request": round(
            1000 * d["llamacpp:prompt_seconds_total"] / max(1, requests), 3
        ),
        "server_output_tokens": d["llamacpp:tokens_predicted_total"],
        "server_prompt_tokens": d["llamacpp:prompt_tokens_total"],
        "server_prompt_tokens_cached": d.get("llamacpp:prompt_tokens_cached_total", 0.0),
    }


def _guidellm(
    venv: Path,
    url: str,
    tok: Path,
    n: int,
    c: int,
    in_tok: int,
    out_tok: int,
    out: Path,
    cpus: set[int] | None,
) -> tuple[dict[str, Any], float]:
    before = _server_counters(url)
    p, cpu = _timed(
        [
            str(venv / "bin/guidellm"),
            "run",
            "--backend",
            f"kind=openai_http,target={url}",
            "--profile",
            f"kind=concurrent,streams={c}",
            "--constraint",
            f"kind=max_requests,count={n}",
            "--data",
            f"kind=synthetic_text,prompt_tokens={in_tok},output_tokens={out_tok}",
            "--tokenizer",
            f"kind=huggingface_auto,model={tok}",
            "--output",
            f"kind=json,path={out}",
            "--disable-progress",
            "--disable-console",
        ],
        cpus,
        timeout=900,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    if p.returncode != 0:
        raise RuntimeError(f"guidellm failed: {p.stderr[-2000:]}")
    m = json.loads(out.read_text())["benchmarks"][0]["metrics"]

    def g(key: str, stat: str) -> float:
        return float(m[key]["successful"][stat])

    return {
        "ttft_mean_ms": g("time_to_first_token_ms", "mean"),
        "ttft_p50_ms": g("time_to_first_token_ms", "median"),
        "itl_mean_ms": g("inter_token_latency_ms", "mean"),
        "itl_p50_ms": g("inter_token_latency_ms", "median"),
        "output_tokens_per_s": g("output_tokens_per_second", "mean"),
        "output_tokens": int(g("output_token_count", "mean") * g("output_token_count", "count")),
        "prompt_tokens_mean": g("prompt_token_count", "mean"),
        "load_1min": round(os.getloadavg()[0], 2),
        **_server_view(before, _server_counters(url), n),
    }, cpu


def _aiperf(
    venv: Path,
    url: str,
    tok: Path,
    n: int,
    c: int,
    in_tok: int,
    out_tok: int,
    out: Path,
    cpus: set[int] | None,
    rate: float | None = None,
) -> tuple[dict[str, Any], float]:
    """AIPerf 0.13 (NVIDIA; aiohttp in worker processes). Its CPU is the whole process tree's.
    It loads a local tokenizer folder only with HF_HUB_OFFLINE unset (nothing is reachable anyway)."""
    before = _server_counters(url) if rate is None else {}
    load = ["--request-rate", str(rate)] if rate else ["--concurrency", str(c)]
    p, cpu = _timed(
        [
            str(venv / "bin/aiperf"),
            "profile",
            "--model",
            "tiny",
            "--url",
            url,
            "--endpoint-type",
            "completions",
            "--streaming",
            *load,
            "--request-count",
            str(n),
            "--prompt-input-tokens-mean",
            str(in_tok),
            "--prompt-input-tokens-stddev",
            "0",
            "--prompt-output-tokens-mean",
            str(out_tok),
            "--prompt-output-tokens-stddev",
            "0",
            "--tokenizer",
            str(tok),
            "--output-artifact-dir",
            str(out),
            "--extra-inputs",
            "ignore_eos:true",
            "--use-server-token-count",
            "--ui-type",
            "none",
        ],
        cpus,
        timeout=900,
        env={k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"},
    )
    if p.returncode != 0:
        raise RuntimeError(f"aiperf failed: {p.stdout[-1500:]}")
    m = json.loads((out / "profile_export_aiperf.json").read_text())
    res = {
        "ttft_mean_ms": m["time_to_first_token"]["avg"],
        "ttft_p50_ms": m["time_to_first_token"]["p50"],
        # AIPerf's ITL is per request (last - first token) / (n - 1), as GuideLLM's: garrison's TPOT
        "itl_mean_ms": m["inter_token_latency"]["avg"],
        "itl_p50_ms": m["inter_token_latency"]["p50"],
        "output_tokens_per_s": m["output_token_throughput"]["avg"],
        "output_tokens": int(m["total_osl"]["avg"]),
        "errors": int((m.get("error_request_count") or {}).get("avg", 0)),
        "prompt_tokens_mean": m["input_sequence_length"]["avg"],
        "load_1min": round(os.getloadavg()[0], 2),
    }
    if rate is None:
        res.update(_server_view(before, _server_counters(url), n))
    return res, cpu


def _garrison(
    url: str, n: int, c: int, in_len: int, out_tok: int, cpus: set[int] | None
) -> tuple[dict[str, Any], float]:
    before = _server_counters(url)
    p, cpu = _timed(
        [
            sys.executable,
            "-m",
            "garrison",
            "bench",
            url,
            "--model",
            "tiny",
            "--concurrency",
            str(c),
            "--num-requests",
            str(n),
            "--input-len",
            str(in_len),
            "--output-len",
            str(out_tok),
            "--tokenizer",
            "server",
            "--json",
            "--no-save",
        ],
        cpus,
        timeout=900,
        env=ENV,
    )
    if p.returncode != 0:
        raise RuntimeError(f"garrison bench failed: {p.stderr[-2000:]}")
    s = json.loads(p.stdout)["steps"][0]
    return {
        "ttft_mean_ms": s["ttft_ms"]["mean"],
        "ttft_p50_ms": s["ttft_ms"]["p50"],
        "itl_mean_ms": s["itl_ms"]["mean"],
        "itl_p50_ms": s["itl_ms"]["p50"],
        # GuideLLM's ITL is per request (last - first token) / (n - 1): garrison's TPOT is that quantity
        "tpot_mean_ms": s["tpot_ms"]["mean"],
        "tpot_p50_ms": s["tpot_ms"]["p50"],
        "output_tokens_per_s": s["output_tokens_per_s"],
        "output_tokens": s["output_tokens"],
        "load_1min": round(os.getloadavg()[0], 2),
        "prompt_tokens_mean": s["input_tokens"] / max(1, s["requests"]),
        **_server_view(before, _server_counters(url), n),
    }, cpu


# Part 2's model: a random-weight llama big enough that the SERVER, not the client, sets the pace
# (~20-40 ms per decode step on one core), as a GPU engine does in production. With the 0.5 MB
# default tiny model a step takes < 1 ms and both clients' timestamps measure their own CPU
# (CPU ms per token x streams ~= the ITL they report), which is no comparison of measurements.
SERVER_BOUND_MODEL = {"layers": 8, "hidden": 1024, "heads": 16, "kv_heads": 4, "ff": 2816}


def part2(
    venv: Path,
    binary: Path,
    small: int,
    large: int,
    c: int,
    out_tok: int,
    *,
    pin: bool,
    model_size: str,
    repeat: int = 1,
    aiperf_venv: Path | None = None,
) -> dict[str, Any]:
    from garrison.testing.tiny_gguf import write_tiny_gguf

    work = Path(tempfile.mkdtemp(prefix="bench-loadgen-"))
    shape = SERVER_BOUND_MODEL if model_size == "server-bound" else {}
    model = write_tiny_gguf(work / "model.gguf", **shape)  # type: ignore[arg-type]
    tok = work / "tok"
    # GuideLLM's synthetic data needs a Hugging Face tokenizer; build a small local one (no hub access)
    subprocess.run([str(venv / "bin/python"), "-c", _MKTOK, str(tok)], check=True, capture_output=True)
    # the server gets CPU 0 to itself and each client the others, so neither client's CPU use
    # slows the server it measures (on 2 shared cores that was the largest difference between them)
    ncpu = len(os.sched_getaffinity(0))
    server_cpus = {0} if pin and ncpu >= 2 else None
    client_cpus = set(os.sched_getaffinity(0)) - {0} if server_cpus else None
    port = _free_port()
    srv = subprocess.Popen(
        [
            str(binary),
            "-m",
            str(model),
            "--alias",
            "tiny",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "-c",
            "8192",
            "-np",
            str(c),
            "-t",
            "1",
            "--metrics",
            "--no-webui",
            "--offline",
            # every prompt is prefilled, as unique production prompts are: the runs repeat the same
            # seeded prompts, and a prompt cache would make later runs faster than earlier ones
            "--no-cache-prompt",
            "--cache-ram",
            "0",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=(lambda: os.sched_setaffinity(0, server_cpus)) if server_cpus else None,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                _get_json(url + "/health")
                break
            except OSError:
                time.sleep(0.1)
        # GuideLLM's prompts are N tokens of ITS tokenizer; match garrison's prompt to the same server-side
        # prompt_tokens (the server's usage is the common ruler), measured on a small GuideLLM run.
        g_small, g_small_cpu = _guidellm(venv, url, tok, small, c, 32, out_tok, work / "g1.json", client_cpus)
        probe, _ = _garrison(url, 4, 1, 32, 4, client_cpus)
        in_len = max(1, round(32 + g_small["prompt_tokens_mean"] - probe["prompt_tokens_mean"]))
        r_small, r_small_cpu = _garrison(url, small, c, in_len, out_tok, client_cpus)
        # the large runs alternate, `repeat` times each: the spread of one tool against itself says
        # how much of a difference between the tools is the server's own run-to-run variation
        runs: list[tuple[dict[str, Any], float, dict[str, Any], float]] = []
        a_runs: list[tuple[dict[str, Any], float]] = []
        if aiperf_venv is not None:
            (tok / "config.json").write_text('{"model_type": "llama"}')  # AutoTokenizer wants one
            a_small = _aiperf(aiperf_venv, url, tok, small, c, 32, out_tok, work / "a1", client_cpus)
        for i in range(repeat):
            g, g_cpu_s = _guidellm(venv, url, tok, large, c, 32, out_tok, work / f"g2-{i}.json", client_cpus)
            r, r_cpu_s = _garrison(url, large, c, in_len, out_tok, client_cpus)
            runs.append((r, r_cpu_s, g, g_cpu_s))
            if aiperf_venv is not None:
                a_runs.append(
                    _aiperf(aiperf_venv, url, tok, large, c, 32, out_tok, work / f"a2-{i}", client_cpus)
                )
        r_large, r_large_cpu, g_large, g_large_cpu = runs[-1]
    finally:
        srv.terminate()
        srv.wait()

    def per_tok(cpu_l: float, cpu_s: float, tok_l: int, tok_s: int) -> float:
        return 1000 * (cpu_l - cpu_s) / max(1, tok_l - tok_s)  # ms of CPU per output token, marginal

    g_cpu = per_tok(g_large_cpu, g_small_cpu, g_large["output_tokens"], g_small["output_tokens"])
    r_cpu = per_tok(r_large_cpu, r_small_cpu, r_large["output_tokens"], r_small["output_tokens"])
    aiperf: dict[str, Any] = {}
    if a_runs:
        (a_large, a_large_cpu), (a_sm, a_small_cpu) = a_runs[-1], a_small
        a_cpu = per_tok(a_large_cpu, a_small_cpu, a_large["output_tokens"], a_sm["output_tokens"])
        aiperf = {
            "aiperf": {
                **a_large,
                "client_cpu_ms_per_token": round(a_cpu, 4),
                "itl_vs_server": round(a_large["itl_mean_ms"] / a_large["server_itl_ms"], 3),
                "total_cpu_s_large_run": round(a_large_cpu, 2),
            },
            "ratio_garrison_over_aiperf": {
                "client_cpu_ms_per_token": round(r_cpu / a_cpu, 3) if a_cpu > 0 else None,
                "ttft_mean_ms": round(r_large["ttft_mean_ms"] / a_large["ttft_mean_ms"], 3),
                "tpot_mean_ms / aiperf itl_mean_ms": round(
                    r_large["tpot_mean_ms"] / a_large["itl_mean_ms"], 3
                ),
                "output_tokens_per_s": round(
                    r_large["output_tokens_per_s"] / a_large["output_tokens_per_s"], 3
                ),
            },
        }
    keys = ("ttft_mean_ms", "ttft_p50_ms", "itl_mean_ms", "itl_p50_ms", "output_tokens_per_s")
    same_quantity = {  # garrison key -> GuideLLM key measuring the same thing
        "ttft_mean_ms": "ttft_mean_ms",
        "ttft_p50_ms": "ttft_p50_ms",
        "itl_mean_ms": "itl_mean_ms",
        "tpot_p50_ms": "itl_p50_ms",
        "output_tokens_per_s": "output_tokens_per_s",
    }

    def client_share(cpu_ms_per_token: float, itl_ms: float) -> float:
        # a client that needs `cpu` ms per token for each of c streams cannot read tokens faster than
        # one per c x cpu ms per stream: near 1, its ITL measures itself, not the server
        return round(cpu_ms_per_token * c / itl_ms, 3) if itl_ms else 0.0

    def spread(tool: int, key: str) -> float:
        vals = [run[tool][key] for run in runs]
        return round(max(vals) / min(vals), 3)

    return {
        "repeats": [
            {k: round(r[k] / g[v], 3) for k, v in same_quantity.items() if g[v]} for r, _, g, _ in runs
        ],
        "run_to_run_max_over_min": {
            f"{name} {key}": spread(i, key)
            for name, i in (("garrison", 0), ("guidellm", 2))
            for key in ("ttft_mean_ms", "itl_mean_ms", "server_itl_ms", "output_tokens_per_s")
        },
        "ratio_same_definition": {
            f"{k} / guidellm {v}": round(r_large[k] / g_large[v], 3)
            for k, v in same_quantity.items()
            if g_large[v]
        },
        "concurrency": c,
        "requests": large,
        "output_tokens_per_request": out_tok,
        "model": model_size,
        "pinned": {"server_cpus": sorted(server_cpus or []), "client_cpus": sorted(client_cpus or [])},
        "garrison": {
            **r_large,
            "client_cpu_ms_per_token": round(r_cpu, 4),
            "client_bound_share": client_share(r_cpu, r_large["itl_mean_ms"]),
            "itl_vs_server": round(r_large["itl_mean_ms"] / r_large["server_itl_ms"], 3),
            "total_cpu_s_large_run": round(r_large_cpu, 2),
        },
        "guidellm": {
            **g_large,
            "client_cpu_ms_per_token": round(g_cpu, 4),
            "client_bound_share": client_share(g_cpu, g_large["itl_mean_ms"]),
            "itl_vs_server": round(g_large["itl_mean_ms"] / g_large["server_itl_ms"], 3),
            "total_cpu_s_large_run": round(g_large_cpu, 2),
        },
        **aiperf,
        "ratio_garrison_over_guidellm": {
            **{k: round(r_large[k] / g_large[k], 3) for k in keys if g_large[k]},
            "client_cpu_ms_per_token": round(r_cpu / g_cpu, 3) if g_cpu > 0 else None,
        },
    }


def _pinned(cpus: set[int] | None) -> Any:
    def setup() -> None:
        _raise_nofile()
        if cpus:
            os.sched_setaffinity(0, cpus)

    return setup


def part3(
    g_venv: Path | None, a_venv: Path | None, rates: list[float], token_delay_ms: float, out_tok: int
) -> dict[str, Any]:
    """Highest Poisson rate at which each tool's mean ITL stays within 10% of the FAKE stub server's own
    token interval (the stub on CPU 0, each client on CPU 1): the rate a tool can follow before its
    own timestamps stretch. Each run lasts about 4 s of arrivals."""
    _raise_nofile()
    work = Path(tempfile.mkdtemp(prefix="bench-loadgen-rate-"))
    tok = work / "tok"
    if g_venv is not None:
        subprocess.run([str(g_venv / "bin/python"), "-c", _MKTOK, str(tok)], check=True, capture_output=True)
        (tok / "config.json").write_text('{"model_type": "llama"}')
    ncpu = len(os.sched_getaffinity(0))
    stub_cpus, client_cpus = ({0}, set(os.sched_getaffinity(0)) - {0}) if ncpu >= 2 else (None, None)
    tools: dict[str, Any] = {"garrison": None}
    if g_venv is not None:
        tools["guidellm"] = g_venv
    if a_venv is not None:
        tools["aiperf"] = a_venv
    out: dict[str, Any] = {"token_interval_ms": token_delay_ms, "rates": rates, "tools": {}}
    for name, venv in tools.items():
        rows = []
        for rate in rates:
            stub = subprocess.Popen(
                [
                    sys.executable,
                    str(ROOT / "tests/verify/stub_server.py"),
                    "--token-delay-ms",
                    str(token_delay_ms),
                ],
                stdout=subprocess.PIPE,
                text=True,
                preexec_fn=_pinned(stub_cpus),
            )
            try:
                assert stub.stdout is not None
                url = f"http://127.0.0.1:{int(stub.stdout.readline().split()[1])}"
                n = max(20, int(rate * 4))
                row: dict[str, Any] = {"rate": rate, "requests": n}
                try:
                    if name == "garrison":
                        p, cpu = _timed(
                            [sys.executable, "-m", "garrison", "bench", url, "--model", "stub", "--rate", str(rate),
                             "--num-requests", str(n), "--output-len", str(out_tok), "--input-len", "32",
                             "--tokenizer", "approx", "--metrics-url", "none", "--json", "--no-save"],
                            client_cpus, timeout=600, env=ENV,
                        )  # fmt: skip
                        if p.returncode != 0:
                            raise RuntimeError(p.stderr[-800:])
                        st = json.loads(p.stdout)["steps"][0]
                        row.update(itl_ms=st["itl_ms"]["mean"], ttft_ms=st["ttft_ms"]["mean"],
                                   errors=sum(st["errors"].values()), tokens=st["output_tokens"])  # fmt: skip
                    elif name == "guidellm":
                        f = work / f"g-{rate}.json"
                        p, cpu = _timed(
                            [str(venv / "bin/guidellm"), "run", "--backend", f"kind=openai_http,target={url}",
                             "--profile", f"kind=poisson,rate={rate}", "--constraint", f"kind=max_requests,count={n}",
                             "--data", f"kind=synthetic_text,prompt_tokens=32,output_tokens={out_tok}",
                             "--tokenizer", f"kind=huggingface_auto,model={tok}", "--output", f"kind=json,path={f}",
                             "--disable-progress", "--disable-console"],
                            client_cpus, timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"},
                        )  # fmt: skip
                        if p.returncode != 0:
                            raise RuntimeError(p.stderr[-800:])
                        m = json.loads(f.read_text())["benchmarks"][0]["metrics"]
                        row.update(
                            itl_ms=m["inter_token_latency_ms"]["successful"]["mean"],
                            ttft_ms=m["time_to_first_token_ms"]["successful"]["mean"],
                            tokens=int(m["output_token_count"]["successful"]["mean"]
                                       * m["output_token_count"]["successful"]["count"]),
                        )  # fmt: skip
                    else:
                        a, cpu = _aiperf(
                            venv, url, tok, n, 0, 32, out_tok, work / f"a-{rate}", client_cpus, rate
                        )
                        row.update(itl_ms=a["itl_mean_ms"], ttft_ms=a["ttft_mean_ms"], errors=a["errors"],
                                   tokens=a["output_tokens"])  # fmt: skip
                    srv = _get_json(url + "/stats")
                    server_itl = 1000 * srv["server_itl_sum_s"] / max(1, srv["server_itl_count"])
                    row.update(
                        server_itl_ms=round(server_itl, 3),
                        itl_over_server=round(row["itl_ms"] / server_itl, 3),
                        cpu_ms_per_token=round(1000 * cpu / max(1, row["tokens"]), 4),
                        load_1min=round(os.getloadavg()[0], 2),
                    )
                except (RuntimeError, KeyError, subprocess.TimeoutExpired, OSError) as e:
                    row["failed"] = str(e)[-300:]
                rows.append(row)
            finally:
                stub.terminate()
                stub.wait()
        # within 10% either way: a client that falls behind reads tokens in bursts, so its gaps shrink
        # (ratio < 1) as well as stretch
        ok = [r["rate"] for r in rows if "itl_over_server" in r and abs(r["itl_over_server"] - 1) <= 0.10]
        out["tools"][name] = {"runs": rows, "highest_rate_itl_within_10pct": max(ok) if ok else None}
    return out


_MKTOK = """
import random, sys
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast
words = ("the of and to in is that for it as was with be by on not he this are or his from at which but have "
         "an they you were her she there been one all we their has would when if so what up out about who "
         "gateway model server token cluster tensor latency throughput memory cache replica deploy").split()
rng = random.Random(0)
text = [" ".join(rng.choice(words) for _ in range(50)) for _ in range(200)]
tok = Tokenizer(models.BPE(unk_token="<unk>"))
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
tok.train_from_iterator(text, trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"],
                                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
fast.save_pretrained(sys.argv[1])
"""


def _print_table(out: dict[str, Any]) -> None:
    for r in out.get("headroom", []):
        print(
            f"stub, {r['concurrency']:>5} streams: client CPU {r['client_cpu_ms_per_token']:.3f} ms/token "
            f"({r['client_cpu_cores_used']:.2f} cores), {r['output_tokens_per_s']:.0f} tok/s, "
            f"TTFT client-server {r['ttft_client_minus_server_ms']:.0f} ms, "
            f"ITL client-server {r['itl_client_minus_server_ms']:.1f} ms (load {r['machine_load_1min']})"
        )
    for name, t in out.get("rate_headroom", {}).get("tools", {}).items():
        runs = ", ".join(
            f"{r['rate']:g}/s: ITL x{r.get('itl_over_server', '-')} CPU {r.get('cpu_ms_per_token', '-')} ms/tok"
            for r in t["runs"]
        )
        print(
            f"rate headroom {name}: highest rate with ITL within 10%: {t['highest_rate_itl_within_10pct']} ({runs})"
        )
    vs = out.get("versus_guidellm", {})
    if "skipped" in vs:
        print("versus GuideLLM: skipped:", vs["skipped"])
    for k, v in vs.get("ratio_same_definition", {}).items():
        print(f"garrison {k}: {v}  (baseline: GuideLLM, same run, same llama-server)")
    if "garrison" in vs:
        cpu = vs["ratio_garrison_over_guidellm"]["client_cpu_ms_per_token"]
        print(f"client CPU per token garrison / GuideLLM: {cpu}")
        if "ratio_garrison_over_aiperf" in vs:
            print(f"garrison / AIPerf: {vs['ratio_garrison_over_aiperf']}")
            print(f"aiperf: CPU {vs['aiperf']['client_cpu_ms_per_token']} ms/token")
        for tool in ("garrison", "guidellm"):
            t = vs[tool]
            print(
                f"{tool}: ITL {t['itl_mean_ms']} ms vs server {t['server_itl_ms']} ms "
                f"(x{t['itl_vs_server']}), client-bound share {t['client_bound_share']}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["1", "2", "3", "all"], default="all")
    ap.add_argument("--aiperf-venv", default="/work/venv-aiperf")
    ap.add_argument("--rates", default="25,50,100,200", help="part 3: Poisson rates, req/s")
    ap.add_argument("--concurrency", default="256,1024")
    ap.add_argument("--token-delay-ms", type=float, default=50.0)
    ap.add_argument("--guidellm-venv", default="/work/venv-guidellm")
    ap.add_argument(
        "--llama-server", default=str(Path.home() / ".cache/garrison/llama-server/11434.0.0/llama-server")
    )
    ap.add_argument("--small", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=2, help="part 2: large runs per tool, alternating")
    ap.add_argument("--no-pin", action="store_true", help="part 2: do not give the server its own CPU")
    ap.add_argument(
        "--model",
        choices=["server-bound", "tiny"],
        default="server-bound",
        help="part 2: a model slow enough that the server sets the pace (default), or the 0.5 MB one",
    )
    ap.add_argument("--large", type=int, default=200)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--out", help="also write loadgen.json into this folder")
    a = ap.parse_args()
    random.seed(0)
    out: dict[str, Any] = {}
    if a.part in ("1", "all"):
        out["headroom"] = part1([int(x) for x in a.concurrency.split(",")], a.token_delay_ms, 32)
    if a.part in ("2", "all"):
        venv = Path(a.guidellm_venv)
        if not (venv / "bin/guidellm").exists():
            out["versus_guidellm"] = {
                "skipped": f"no guidellm in {venv}: pip install guidellm into a separate venv"
            }
        else:
            out["versus_guidellm"] = part2(
                venv,
                Path(a.llama_server),
                a.small,
                a.large,
                4,
                32,
                pin=not a.no_pin,
                model_size=a.model,
                repeat=a.repeat,
                aiperf_venv=Path(a.aiperf_venv) if (Path(a.aiperf_venv) / "bin/aiperf").exists() else None,
            )
    if a.part in ("3", "all"):
        gv, av = Path(a.guidellm_venv), Path(a.aiperf_venv)
        out["rate_headroom"] = part3(
            gv if (gv / "bin/guidellm").exists() else None,
            av if (av / "bin/aiperf").exists() else None,
            [float(x) for x in a.rates.split(",")],
            20.0,
            32,
        )
    if a.json:
        print(json.dumps(out, indent=2))
    else:
        _print_table(out)
    if a.out:
        Path(a.out).mkdir(parents=True, exist_ok=True)
        (Path(a.out) / "loadgen.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
