"""Predictions stay within the stated tolerance of public measurements, and the docs table is current."""

from __future__ import annotations

import statistics
from pathlib import Path

from garrison.sizing.accuracy import (
    Comparison,
    calibration_points,
    compare,
    fit_checks,
    markdown,
    split_half,
    summary,
)
from garrison.sizing.efficiency import DEFAULT_EFFICIENCY

DOC = Path(__file__).resolve().parents[2] / "docs" / "accuracy.md"


def test_calibration_set_is_large_and_sourced() -> None:
    pts = calibration_points()
    all_pts = pts["memory"] + pts["speed"]
    assert len(all_pts) >= 80
    assert len({p["id"] for p in all_pts}) == len(all_pts)
    for p in all_pts:
        assert p["source"].strip() and p["measured"], p["id"]
        assert p.get("class") in ("dense", "moe", "hybrid"), p["id"]
    assert {p["class"] for p in pts["speed"]} >= {"dense", "moe"}
    assert any("cpu" in p for p in pts["speed"])


def test_median_errors_within_targets() -> None:
    rows = compare()
    mem_med, _ = summary(rows, "memory")
    speed_med, _ = summary(rows, "speed")
    assert mem_med <= 0.03, f"memory median error {mem_med:.1%}"
    assert speed_med <= 0.15, f"speed median error {speed_med:.1%}"


def test_held_out_half_is_within_the_speed_target() -> None:
    """The efficiency defaults were fitted on the 'fit' half; the 'check' half never saw them."""
    check = [abs(r.error) for r in compare(kinds=("speed",)) if r.counted and r.half == "check"]
    assert len(check) >= 30
    assert statistics.median(check) <= 0.15


def test_split_half_is_fixed_by_the_id() -> None:
    assert split_half("lcpp-01") == split_half("lcpp-01")
    halves = {split_half(p["id"]) for p in calibration_points()["speed"]}
    assert halves == {"fit", "check"}


def test_predicted_range_holds_most_measurements() -> None:
    rows = [r for r in compare() if r.counted]
    assert sum(r.in_range for r in rows) / len(rows) >= 0.80


def test_uncounted_quantities_say_why() -> None:
    rows = compare()
    left_out = [r for r in rows if not r.counted]
    assert left_out and all(r.why for r in left_out)
    rules = ("llama.cpp build older than 2024-02", "superseded", "no room for KV at start-up")
    assert all(any(rule in r.why for rule in rules) for r in left_out), [r.why for r in left_out]


def test_a_superseded_build_has_a_counted_later_measurement_over_twice_as_fast() -> None:
    """The 'superseded' rule holds only with the evidence in the file: a counted point of the same
    engine, device and model class whose measured/predicted ratio is more than twice the old one's."""
    pts = {p["id"]: p for p in calibration_points()["speed"]}
    rows = compare(kinds=("speed",))

    def device(r: Comparison) -> str | None:
        return pts[r.point].get("gpu") or pts[r.point].get("cpu")

    old = [r for r in rows if "superseded" in r.why]
    assert old
    for r in old:
        newer = [
            n
            for n in rows
            if n.counted
            and n.engine == r.engine
            and device(n) == device(r)
            and n.cls == r.cls
            and n.point != r.point
            and (n.measured / n.predicted) > 2 * (r.measured / r.predicted)
        ]
        assert newer, f"{r.point} {r.quantity} is uncounted as superseded with no faster later point"


def test_every_start_up_that_ran_out_of_memory_is_predicted_not_to_fit() -> None:
    checks = fit_checks()
    assert len(checks) >= 3
    assert not [c.point for c in checks if c.predicted_fits]


def test_negative_kv_point_is_predicted_not_to_fit() -> None:
    rows = {(r.point, r.quantity): r for r in compare(kinds=("memory",))}
    assert rows[("vllm-log-13", "kv_cache_gib")].predicted < 0  # measured -1.44 GiB: engine refused to start


def test_every_point_beyond_the_targets_says_what_its_source_shows() -> None:
    from garrison.sizing.accuracy import beyond_targets

    notes = {p["id"]: p.get("note", "") for k in ("memory", "speed") for p in calibration_points()[k]}
    over = {r.point for r in beyond_targets([r for r in compare() if r.counted])}
    assert not [p for p in over if len(notes.get(p, "")) < 80], "explain each miss in its point's note"


def test_docs_accuracy_table_is_regenerated() -> None:
    expected = markdown(compare(), DEFAULT_EFFICIENCY, fit_checks())
    assert DOC.read_text(encoding="utf-8").rstrip("\n") == expected.rstrip("\n"), (
        "docs/accuracy.md is stale: run `python -m garrison.sizing.accuracy --write docs/accuracy.md`"
    )
