#!/usr/bin/env python3
"""Benchmark of the load generator itself (not a timed test). Results go in docs/bench.md.

Part 1 - headroom: `garrison.bench` drives the FAKE stub server (tests/verify/stub_server.py, a separate
process) at 256 and 1,024 concurrent streams; reports client CPU per output token and the difference
between the client's and the server's TTFT/TPOT (what the client adds on top of the server).

Part 2 - side by side with GuideLLM on the same real llama-server (tiny generated GGUF): TTFT, ITL,
output throughput and client CPU per token, as ratios garrison / GuideLLM. GuideLLM runs from a
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


def _timed(cmd: list[str], **kw: Any) -> tuple[subprocess.CompletedProcess[str], float]:
    c0 = _cpu_children()
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    return p, _cpu_children() - c0


def _guidellm(
    venv: Path, url: str, tok: Path, n: int, c: int, in_tok: int, out_tok: int, out: Path
) -> tuple[dict[str, Any], float]:
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
    }, cpu


def _garrison(url: str, n: int, c: int, in_len: int, out_tok: int) -> tuple[dict[str, Any], float]:
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
    }, cpu


def part2(venv: Path, binary: Path, small: int, large: int, c: int, out_tok: int) -> dict[str, Any]:
    from garrison.testing.tiny_gguf import write_tiny_gguf

    work = Path(tempfile.mkdtemp(prefix="bench-loadgen-"))
    model = write_tiny_gguf(work / "tiny.gguf")
    tok = work / "tok"
    # GuideLLM's synthetic data needs a Hugging Face tokenizer; build a small local one (no hub access)
    subprocess.run([str(venv / "bin/python"), "-c", _MKTOK, str(tok)], check=True, capture_output=True)
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
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                _get_json(url + "/health")
                break
            except OSError:
                time.sleep(0.1)
        # GuideLLM's prompts are N tokens of ITS tokenizer; match garrison's prompt to the same server-side
        # prompt_tokens (the server's usage is the common ruler), measured on a small GuideLLM run.
        g_small, g_small_cpu = _guidellm(venv, url, tok, small, c, 32, out_tok, work / "g1.json")
        probe, _ = _garrison(url, 4, 1, 32, 4)
        in_len = max(1, round(32 + g_small["prompt_tokens_mean"] - probe["prompt_tokens_mean"]))
        r_small, r_small_cpu = _garrison(url, small, c, in_len, out_tok)
        g_large, g_large_cpu = _guidellm(venv, url, tok, large, c, 32, out_tok, work / "g2.json")
        r_large, r_large_cpu = _garrison(url, large, c, in_len, out_tok)
    finally:
        srv.terminate()
        srv.wait()

    def per_tok(cpu_l: float, cpu_s: float, tok_l: int, tok_s: int) -> float:
        return 1000 * (cpu_l - cpu_s) / max(1, tok_l - tok_s)  # ms of CPU per output token, marginal

    g_cpu = per_tok(g_large_cpu, g_small_cpu, g_large["output_tokens"], g_small["output_tokens"])
    r_cpu = per_tok(r_large_cpu, r_small_cpu, r_large["output_tokens"], r_small["output_tokens"])
    keys = ("ttft_mean_ms", "ttft_p50_ms", "itl_mean_ms", "itl_p50_ms", "output_tokens_per_s")
    same_quantity = {  # garrison key -> GuideLLM key measuring the same thing
        "ttft_mean_ms": "ttft_mean_ms",
        "ttft_p50_ms": "ttft_p50_ms",
        "itl_mean_ms": "itl_mean_ms",
        "tpot_p50_ms": "itl_p50_ms",
        "output_tokens_per_s": "output_tokens_per_s",
    }
    return {
        "ratio_same_definition": {
            f"{k} / guidellm {v}": round(r_large[k] / g_large[v], 3)
            for k, v in same_quantity.items()
            if g_large[v]
        },
        "concurrency": c,
        "requests": large,
        "output_tokens_per_request": out_tok,
        "garrison": {
            **r_large,
            "client_cpu_ms_per_token": round(r_cpu, 4),
            "total_cpu_s_large_run": round(r_large_cpu, 2),
        },
        "guidellm": {
            **g_large,
            "client_cpu_ms_per_token": round(g_cpu, 4),
            "total_cpu_s_large_run": round(g_large_cpu, 2),
        },
        "ratio_garrison_over_guidellm": {
            **{k: round(r_large[k] / g_large[k], 3) for k in keys if g_large[k]},
            "client_cpu_ms_per_token": round(r_cpu / g_cpu, 3) if g_cpu > 0 else None,
        },
    }


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
    vs = out.get("versus_guidellm", {})
    if "skipped" in vs:
        print("versus GuideLLM: skipped:", vs["skipped"])
    for k, v in vs.get("ratio_same_definition", {}).items():
        print(f"garrison {k}: {v}  (baseline: GuideLLM, same run, same llama-server)")
    if vs:
        cpu = vs["ratio_garrison_over_guidellm"]["client_cpu_ms_per_token"]
        print(f"client CPU per token garrison / GuideLLM: {cpu}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=["1", "2", "all"], default="all")
    ap.add_argument("--concurrency", default="256,1024")
    ap.add_argument("--token-delay-ms", type=float, default=50.0)
    ap.add_argument("--guidellm-venv", default="/work/venv-guidellm")
    ap.add_argument(
        "--llama-server", default=str(Path.home() / ".cache/garrison/llama-server/11434.0.0/llama-server")
    )
    ap.add_argument("--small", type=int, default=20)
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
            out["versus_guidellm"] = part2(venv, Path(a.llama_server), a.small, a.large, 4, 32)
    if a.json:
        print(json.dumps(out, indent=2))
    else:
        _print_table(out)
    if a.out:
        Path(a.out).mkdir(parents=True, exist_ok=True)
        (Path(a.out) / "loadgen.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
