"""`garrison tco` through the CLI layer: the JSON contract and one-line errors."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from garrison.cli import tco_cmd
from garrison.cost import inputs

from .conftest import H100, make_design, make_gpu, make_price


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    # Test catalogue (small, pinned numbers) in place of the shipped one.
    monkeypatch.setattr(
        inputs,
        "catalogue_prices",
        lambda: (
            [
                make_price("openai", "gpt-6-sol", 2.0, 10.0, cached=0.2),
                make_price("together.ai", "Qwen3.5-9B", 0.1, 0.5),
            ],
            {H100: make_gpu()},
        ),
    )
    a = typer.Typer()
    tco_cmd.register(a)
    a.command("noop")(lambda: None)  # a second command keeps `tco` a named subcommand
    return a


def test_json_contract(app, tmp_path):
    f = tmp_path / "design.json"
    f.write_text(make_design().model_dump_json())
    r = CliRunner().invoke(app, ["tco", str(f), "--years", "2", "--json", "--against", "gpt-6-sol"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert set(out["capex_usd"]) >= {"low", "high"}
    for key in ("annual_opex_usd", "self_hosted_usd_per_mtok", "breakeven_month", "savings_pct"):
        assert key in out
    assert {c["model"] for c in out["cloud"]} == {"gpt-6-sol", "Qwen3.5-9B"}
    assert all(set(c) >= {"provider", "model", "usd_per_year"} for c in out["cloud"])
    assert out["years"] == 2 and isinstance(out["breakeven_month"], int)


def test_text_output_and_bad_inputs(app, tmp_path):
    f = tmp_path / "design.json"
    f.write_text(make_design().model_dump_json())
    r = CliRunner().invoke(app, ["tco", str(f)])
    assert r.exit_code == 0 and "break-even" in r.output and "gpt-6-sol" in r.output
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": 1}')
    with pytest.raises(Exception, match="schema_version"):
        inputs.read_design(bad)
    r = CliRunner().invoke(app, ["tco", str(tmp_path / "nope.json")])
    assert r.exit_code != 0
