"""Predictions stay within the stated tolerance of public measurements, and the docs table is current."""

from __future__ import annotations

from pathlib import Path

from garrison.sizing.accuracy import compare, markdown, summary
from garrison.sizing.efficiency import DEFAULT_EFFICIENCY

DOC = Path(__file__).resolve().parents[2] / "docs" / "accuracy.md"


def test_median_errors_within_targets() -> None:
    rows = compare()
    mem_med, _ = summary(rows, "memory")
    speed_med, _ = summary(rows, "speed")
    assert mem_med <= 0.03, f"memory median error {mem_med:.1%}"
    assert speed_med <= 0.15, f"speed median error {speed_med:.1%}"


def test_negative_kv_point_is_predicted_not_to_fit() -> None:
    rows = {(r.point, r.quantity): r for r in compare(kinds=("memory",))}
    assert rows[("vllm-log-13", "kv_cache_gib")].predicted < 0  # measured -1.44 GiB: engine refused to start


def test_docs_accuracy_table_is_regenerated() -> None:
    assert DOC.read_text(encoding="utf-8") == markdown(compare(), DEFAULT_EFFICIENCY) + "\n" or DOC.read_text(
        encoding="utf-8"
    ) == markdown(compare(), DEFAULT_EFFICIENCY), (
        "docs/accuracy.md is stale: run `python -m garrison.sizing.accuracy --write docs/accuracy.md`"
    )
