"""End to end in an isolated network namespace (loopback only): real llama-server + real nginx TLS gateway,
then `garrison verify` and `garrison bench` with real traffic. Verify proves egress fails in there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from garrison.bench.results import BenchResult

HERE = Path(__file__).parent

pytestmark = [pytest.mark.slow, pytest.mark.needs_llama]


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory, llama_server_path: Path, netns_ok: None) -> dict:  # type: ignore[type-arg]
    binary = llama_server_path
    work = tmp_path_factory.mktemp("e2e")
    os.chmod(work, 0o755)
    env = {**os.environ, "GARRISON_HOME": str(work / "home")}
    env.pop("GARRISON_DB_URL", None)
    p = subprocess.run(
        [
            "unshare",
            "--net",
            "--",
            "sh",
            "-c",
            f'ip link set lo up && exec "{sys.executable}" "{HERE / "isolated_e2e.py"}" "{binary}" "{work}"',
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_verify_passes_through_real_gateway_and_egress_fails(e2e: dict) -> None:  # type: ignore[type-arg]
    v = e2e["verify"]
    assert v["rc"] == 0, v
    rep = json.loads(v["stdout"])
    by = {c["name"]: c for c in rep["checks"]}
    assert rep["ok"] is True
    assert by["tls"]["detail"].startswith(("TLSv1.3", "TLSv1.2")) and "until" in by["tls"]["detail"]
    assert by["models"]["detail"] == "served: tiny"
    assert "401" in by["auth GET /metrics"]["detail"]
    assert " x 429" in by["rate limit"]["detail"] and "0 x 429" not in by["rate limit"]["detail"]
    assert "1.1.1.1:443 failed" in by["egress blocked"]["detail"]
    assert "unreachable" in by["egress blocked"]["detail"].lower()


def test_verify_fails_without_ca_with_bad_key_and_direct_unauthenticated(e2e: dict) -> None:  # type: ignore[type-arg]
    no_ca = e2e["verify_no_ca"]
    assert no_ca["rc"] == 1 and "Traceback" not in no_ca["stderr"]
    bad = json.loads(e2e["verify_bad_key"]["stdout"])
    assert e2e["verify_bad_key"]["rc"] == 1
    assert {c["name"]: c["ok"] for c in bad["checks"]}["models"] is False
    direct = json.loads(e2e["verify_direct"]["stdout"])  # llama-server itself: plain HTTP, no key
    names_failed = {c["name"] for c in direct["checks"] if not c["ok"]}
    assert {"tls", "auth GET /v1/models", "rate limit"} <= names_failed


def test_bench_real_traffic_through_gateway(e2e: dict) -> None:  # type: ignore[type-arg]
    b = e2e["bench"]
    assert b["rc"] == 0, b["stderr"]
    res = BenchResult.model_validate_json(b["stdout"])
    assert [s.concurrency for s in res.steps] == [1, 4]
    for s in res.steps:
        assert s.requests == 12 and s.errors == {}
        assert s.tokens_from_usage and s.output_tokens == 12 * 32  # the tiny model always runs to max_tokens
        assert s.ttft_ms.p50 is not None and s.itl_ms.count == 12 * 31
        assert s.server.samples >= 1 and "llamacpp:requests_processing" in s.server.names
    assert res.comparison is not None and {ln.metric for ln in res.comparison.lines} == {
        "ttft_ms",
        "itl_ms",
        "output_tokens_per_s",
    }
    assert e2e["report_exists"]["rc"] == 0
    assert "run-1" in e2e["history"]["stdout"]
    assert "measured vs predicted" in e2e["compare"]["stdout"]
    bad = e2e["bench_bad_key"]
    assert bad["rc"] == 1 and "refused the key" in bad["stderr"] and "Traceback" not in bad["stderr"]


def test_bench_exact_prompt_length_via_server_tokenizer(e2e: dict) -> None:  # type: ignore[type-arg]
    b = e2e["bench_exact"]
    assert b["rc"] == 0, b["stderr"]
    res = BenchResult.model_validate_json(b["stdout"])
    assert res.workload.prompt_source == "exact: server /tokenize"
    s = res.steps[0]
    # completions add one BOS token to the 40-token prompt; usage reports the server's own count
    assert s.input_tokens == 4 * 41, s.input_tokens
