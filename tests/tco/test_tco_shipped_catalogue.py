"""`garrison tco` and `garrison handoff` as a user runs them: a subprocess over the shipped catalogue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from garrison.catalogue import load_catalogue

from .conftest import make_design

ROOT = Path(__file__).resolve().parents[2]


def _garrison(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "garrison", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_tco_json_against_the_shipped_price_list(tmp_path):
    f = tmp_path / "design.json"
    f.write_text(make_design().model_dump_json())
    r = _garrison("tco", str(f), "--json", "--years", "2")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    cat = load_catalogue()
    assert len(out["cloud"]) == len(cat.cloud_prices) > 0
    assert {(c["provider"], c["model"]) for c in out["cloud"]} == {
        (p.provider, p.model) for p in cat.cloud_prices.values()
    }
    assert out["capex_usd"] == {"low": 54_000.0, "expected": 65_000.0, "high": 76_000.0}
    assert out["annual_opex_usd"] > 0 and out["self_hosted_usd_per_mtok"]["full_utilisation"] > 0
    assert out["reference"] and "savings_pct" in out and "breakeven_month" in out


def test_tco_errors_are_one_line(tmp_path):
    r = _garrison("tco", str(tmp_path / "missing.json"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no such file" in r.stderr
    f = tmp_path / "design.json"
    f.write_text(make_design().model_dump_json())
    r = _garrison("tco", str(f), "--against", "nobody/none")
    assert r.returncode == 2 and "not in the cloud price list" in r.stderr and "Traceback" not in r.stderr


def test_handoff_cli_writes_once(tmp_path):
    f = tmp_path / "design.json"
    f.write_text(make_design().model_dump_json())
    out = tmp_path / "roi.yaml"
    r = _garrison("handoff", str(f), "--to", "roi", "--out", str(out))
    assert r.returncode == 0, r.stderr
    doc = yaml.safe_load(out.read_text())
    assert doc["handoff"]["target_agent"] == "@ROI-Calculator"
    assert doc["handoff"]["context"]["tco_data"]["capex_usd"]["low"] == 54_000
    r = _garrison("handoff", str(f), "--to", "roi", "--out", str(out))
    assert r.returncode == 2 and "--force" in r.stderr
    r = _garrison("handoff", str(f), "--to", "finance")
    assert r.returncode == 2 and "not a colleague" in r.stderr
