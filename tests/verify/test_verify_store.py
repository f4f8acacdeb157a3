"""The history store: named transactional migrations, saving and reading designs, runs, verifications."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Connection, inspect, text

from garrison.bench.compare import compare_to_design
from garrison.bench.results import BenchResult, RequestRecord, Workload, summarise_step
from garrison.design import Design
from garrison.errors import InputError
from garrison.store import MIGRATIONS, Store, parse_id


def _result(ttft_s: float = 0.05, gap_s: float = 0.01, n_tok: int = 32) -> BenchResult:
    recs = []
    for i in range(8):
        t0 = i * 0.1
        times = [t0 + ttft_s + k * gap_s for k in range(n_tok)]
        recs.append(
            RequestRecord(
                start_s=t0,
                end_s=times[-1],
                first_token_s=times[0],
                token_times_s=times,
                input_tokens=32,
                output_tokens=n_tok,
                tokens_from_usage=True,
            )
        )
    step = summarise_step(recs, mode="concurrency", concurrency=4)
    wl = Workload(endpoint="chat", input_len="32", output_len="32", prompt_source="test")
    return BenchResult(url="https://gw:8443", model="tiny", workload=wl, steps=(step,))


def test_migrations_are_named_and_applied_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    st = Store(url)
    assert st.applied_migrations() == [name for name, _ in MIGRATIONS]
    assert Store(url).migrate() == []  # re-opening applies nothing
    assert {"designs", "bench_runs", "verifications", "migrations"} <= set(
        inspect(st.engine).get_table_names()
    )


def test_failed_migration_rolls_back_whole(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'g.db'}"
    Store(url)

    def bad(conn: Connection) -> None:
        conn.execute(text("CREATE TABLE half_done (x INTEGER)"))
        raise RuntimeError("boom mid-migration")

    with pytest.raises(RuntimeError):
        Store(url, migrations=(*MIGRATIONS, ("0002_bad", bad)))
    st = Store(url)
    assert "half_done" not in inspect(st.engine).get_table_names()  # the DDL rolled back too
    assert "0002_bad" not in st.applied_migrations()


def test_save_and_compare_round_trip(tmp_path: Path, design_file) -> None:  # type: ignore[no-untyped-def]
    st = Store(f"sqlite:///{tmp_path / 'g.db'}")
    design = Design.model_validate_json(
        design_file("tiny", ttft_ms=50, itl_ms=20, output_tokens_per_s=100).read_text()
    )
    did = st.save_design(design)
    rid = st.save_bench_run(_result(), design_id=did)
    got, linked = st.get_run(rid)
    assert linked == did and got == _result()
    assert [r.id for r in st.list_runs()] == [rid] and st.list_runs(model="other") == []
    comp = compare_to_design(got, st.get_design(did))
    by = {ln.metric: ln for ln in comp.lines}
    assert by["ttft_ms"].off is False  # 50 ms predicted, 50 ms measured
    assert by["itl_ms"].off is True and by["itl_ms"].error_pct == pytest.approx(-50.0)
    assert "itl_ms better than predicted by 50%" in " ".join(comp.notes)
    vid = st.save_verification({"ok": True, "checks": []}, "https://gw:8443")
    kinds = [i["kind"] for i in st.list_all()]
    assert sorted(kinds) == ["design", "run", "verify"]
    assert st.get_verification(vid)["ok"] is True


def test_default_location_follows_garrison_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GARRISON_DB_URL", raising=False)
    monkeypatch.setenv("GARRISON_HOME", str(tmp_path / "gh"))
    st = Store()
    assert (tmp_path / "gh" / "garrison.db").exists() and st.url.endswith("gh/garrison.db")
    monkeypatch.setenv("GARRISON_DB_URL", f"sqlite:///{tmp_path / 'other.db'}")
    assert Store().url.endswith("other.db")


def test_ids_and_missing_rows(tmp_path: Path) -> None:
    assert parse_id("run-3", "run") == ("run", 3) and parse_id("7", "design") == ("design", 7)
    with pytest.raises(InputError):
        parse_id("thing-x", "run")
    st = Store(f"sqlite:///{tmp_path / 'g.db'}")
    with pytest.raises(InputError, match="no bench run 9"):
        st.get_run(9)


def test_history_cli_shows_run_next_to_prediction(cli, stub, design_file) -> None:  # type: ignore[no-untyped-def]
    s = stub()
    dpath = design_file(
        "stub", ttft_ms=1000, itl_ms=0.05, output_tokens_per_s=5, concurrency=2, input_len=16, output_len=8
    )
    p = cli(
        "bench",
        s.url,
        "--design",
        str(dpath),
        "--num-requests",
        "6",
        "--input-len",
        "16",
        "--output-len",
        "8",
    )
    assert p.returncode == 0, p.stderr
    assert "measured vs predicted" in p.stdout and "ttft_ms" in p.stdout
    assert "saved as run-1" in p.stderr
    lst = cli("history", "list")
    assert "run-1" in lst.stdout and "design-1" in lst.stdout
    cmp_ = cli("history", "compare", "run-1", "design-1", "--json")
    assert cmp_.returncode == 0, cmp_.stderr
    lines = {ln["metric"]: ln for ln in json.loads(cmp_.stdout)["lines"]}
    assert lines["ttft_ms"]["predicted"] == 1000 and lines["ttft_ms"]["off"] is True
    assert "better than predicted" in lines["ttft_ms"]["verdict"]
    show = cli("history", "show", "run-1")
    assert "c=2" in show.stdout and "design-1" in show.stdout
    assert cli("history", "show", "run-99").returncode == 2
