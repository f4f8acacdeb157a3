"""The estimate and plan commands as users script them: contracts, exit codes, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from garrison.cli import app

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
runner = CliRunner()

ESTIMATE_KEYS = {
    "fits",
    "reason",
    "tp",
    "pp",
    "replicas",
    "weights_gib_per_gpu",
    "kv_cache_gib_per_gpu",
    "kv_cache_tokens",
    "max_concurrency",
    "prefill_tokens_per_s",
    "decode_tokens_per_s_single",
    "output_tokens_per_s",
    "ttft_ms",
    "itl_ms",
    "assumptions",
}


def garrison(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a subprocess (exit codes and stderr as users see them)."""
    return subprocess.run(
        [sys.executable, "-m", "garrison", *args], capture_output=True, text=True, timeout=120
    )


def test_estimate_json_contract() -> None:
    r = garrison(
        "estimate", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "h100", "--max-model-len", "8192", "--json"
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) >= ESTIMATE_KEYS
    assert out["fits"] is True and out["tp"] == 1 and out["replicas"] == 1
    assert out["kv_cache_tokens"] > 100_000
    assert out["max_concurrency"] == pytest.approx(out["kv_cache_tokens"] / 8192, rel=1e-3)


def test_estimate_smallest_tp_then_replicas() -> None:
    r = garrison(
        "estimate",
        "meta-llama/Llama-3.3-70B-Instruct",
        "--gpu",
        "h100 sxm",
        "--gpus",
        "8",
        "--quant",
        "fp8",
        "--max-model-len",
        "8192",
        "--json",
    )
    out = json.loads(r.stdout)
    # FP8 70B: 68 GiB of weights leave no KV room on one H100, so TP2 and four replicas
    assert (out["tp"], out["replicas"]) == (2, 4)


def test_estimate_does_not_fit_is_exit_0_with_reason() -> None:
    """The role description's '70B full precision on one 80 GB A100' claim."""
    r = garrison(
        "estimate",
        "meta-llama/Llama-3.3-70B-Instruct",
        "--gpu",
        "a100-80gb-sxm",
        "--quant",
        "bf16",
        "--max-model-len",
        "8192",
        "--json",
    )
    assert r.returncode == 0
    out = json.loads(r.stdout)
    assert out["fits"] is False
    assert "weights need" in out["reason"]


def test_role_claim_13b_full_precision_on_24gb() -> None:
    """'13B models run full precision on a 24 GB card': 13B x 2 bytes = 26 GB of weights alone."""
    r = garrison(
        "estimate",
        "--memory-gib",
        "23.6",
        "--bandwidth-gbs",
        "1008",
        "--tflops",
        "165",
        "phi-4",
        "--quant",
        "bf16",
        "--max-model-len",
        "4096",
        "--json",
    )
    out = json.loads(r.stdout)
    assert r.returncode == 0, r.stderr
    assert out["fits"] is False and out["weights_gib_per_gpu"] > 23.6


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["estimate", "no-such-model", "--gpu", "h100"], "model"),
        (["estimate", "qwen3-8b", "--gpu", "h1000"], "gpu"),
        (["estimate", "qwen3-8b", "--gpu", "h100", "--gpus", "-2"], "--gpus"),
        (["estimate", "qwen3-8b", "--gpu", "h100", "--max-model-len", "99999999"], "--max-model-len"),
        (
            ["estimate", "qwen3-8b", "--gpu", "h100", "--gpu-memory-utilization", "1.5"],
            "--gpu-memory-utilization",
        ),
        (["estimate", "qwen3-8b"], "--gpu"),
    ],
)
def test_estimate_bad_input_is_one_line_exit_2(args: list[str], field: str) -> None:
    r = garrison(*args)
    assert r.returncode == 2, r
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert field.lower() in lines[0].lower()


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_plan_every_example(example: Path, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    r = garrison("plan", str(example), "--out", str(out), "--quiet")
    assert r.returncode in (0, 3), r.stderr
    design = json.loads((out / "design.json").read_text())
    assert design["schema_version"] == 1
    for dep in design["deployments"]:
        est = dep["estimate"]
        assert est["fits"]
        assert dep["replicas"] >= (
            2
            if any(
                u["high_availability"]
                for u in design["requirements"]["use_cases"]
                if u["name"] == dep["use_case"]
            )
            else 1
        )
        if dep["itl_p95_target_ms"]:
            assert est["itl_ms"] <= dep["itl_p95_target_ms"] * 1.0001
    for srv in design["servers"]:
        assert srv["psu_w"] >= srv["power_max_w"]
        assert srv["cooling_btu_h"] == pytest.approx(srv["power_max_w"] * 3.412, rel=1e-3)
        assert srv["rack_units"] >= 1
    if r.returncode == 3:
        assert design["escalations"] and "escalation" in r.stderr


def test_plan_refuses_non_empty_out_without_force(tmp_path: Path) -> None:
    out = tmp_path / "b"
    out.mkdir()
    (out / "mine.txt").write_text("user file")
    r = garrison("plan", str(EXAMPLES[0]), "--out", str(out), "--quiet")
    assert r.returncode == 2 and "--force" in r.stderr
    assert (out / "mine.txt").read_text() == "user file"


def test_plan_json_is_the_design(tmp_path: Path) -> None:
    res = runner.invoke(app, ["plan", str(ROOT / "examples" / "chat-40-qwen3-next.yaml"), "--json"])
    assert res.exit_code in (0, 3)
    d = json.loads(res.stdout)
    assert d["deployments"][0]["model_id"] == "qwen3-next-80b-a3b-instruct"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("organisation: {name: a, team_size: 3}\nuse_cases: []\n", "use_cases"),
        (
            "organisation: {name: a, team_size: 3}\nuse_cases:\n  - {name: x, kind: chat, models: [qwen3-8b]}\nbudgt: {}\n",
            "budgt",
        ),
        (
            "organisation: {name: a, team_size: -3}\nuse_cases:\n  - {name: x, kind: chat, models: [qwen3-8b]}\n",
            "team_size",
        ),
        ("organisation: [unclosed\n", "invalid YAML"),
        (
            "organisation: {name: a, team_size: 3}\nuse_cases:\n  - {name: x, kind: chat, models: [qwen3-8b], "
            "context_length: 5000000}\n",
            "context_length",
        ),
        (
            "organisation: {name: a, team_size: 3}\nuse_cases:\n  - {name: x, kind: chat, models: [nope-model]}\n",
            "model",
        ),
        (
            "organisation: {name: a, team_size: 3}\nuse_cases:\n  - {name: x, kind: chat, models: [qwen3-8b]}\n"
            "security: {internal_networks: [banana]}\n",
            "internal_networks",
        ),
    ],
)
def test_plan_bad_requirements(tmp_path: Path, content: str, needle: str) -> None:
    f = tmp_path / "req.yaml"
    f.write_text(content)
    out = tmp_path / "out"
    r = garrison("plan", str(f), "--out", str(out))
    assert r.returncode == 2, r
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert needle.lower() in r.stderr.lower()
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "kind"),
    [
        ("  - {name: x, kind: chat, models: [qwen3-32b]}\nbudget: {capex_usd: 1000}\n", "budget"),
        (
            "  - {name: x, kind: chat, models: [deepseek-v3], context_length: 8192}\n"
            "hardware: {allowed_gpus: [rtx-4090], max_gpus_per_server: 2}\n",
            "model-too-large",
        ),
        ("  - {name: x, kind: chat, models: [qwen3-8b], latency: {itl_p95_ms: 0.5}}\n", "latency"),
    ],
)
def test_plan_escalation_exits_3_with_options(tmp_path: Path, extra: str, kind: str) -> None:
    f = tmp_path / "req.yaml"
    f.write_text("organisation: {name: a, team_size: 3}\nuse_cases:\n" + extra)
    r = garrison("plan", str(f), "--json")
    assert r.returncode == 3, r.stderr
    design = json.loads(r.stdout)
    esc = [e for e in design["escalations"] if e["kind"] == kind]
    assert esc and esc[0]["options"], design["escalations"]
    assert f"escalation {kind}" in r.stderr
