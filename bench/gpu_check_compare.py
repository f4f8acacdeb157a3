"""Print `garrison estimate` next to `garrison bench` for the GPU check (bench/gpu_check.sh).

    python bench/gpu_check_compare.py OUTDIR   (reads bench.json and estimate-c<N>.json there)

One line per concurrency: TTFT (mean), ITL (mean) and output tokens/s, predicted, measured and
predicted / measured, and whether the measurement lies in the range the estimate prints.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _rows(out: Path) -> list[tuple[int, str, float, float, tuple[float, float] | None]]:
    bench = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    rows: list[tuple[int, str, float, float, tuple[float, float] | None]] = []
    for step in bench["steps"]:
        c = step.get("concurrency")
        path = out / f"estimate-c{c}.json"
        if c is None or not path.exists():
            continue
        est: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        ranges = est.get("ranges", {})
        for name, predicted, measured in (
            ("ttft_ms", est["ttft_ms"], step["ttft_ms"]["mean"]),
            ("itl_ms", est["itl_ms"], step["itl_ms"]["mean"]),
            ("output_tokens_per_s", est["output_tokens_per_s"], step["output_tokens_per_s"]),
        ):
            if measured is None:
                continue
            rng = ranges.get(name)
            rows.append(
                (c, name, float(predicted), float(measured), (rng["low"], rng["high"]) if rng else None)
            )
    return rows


def main() -> None:
    out = Path(sys.argv[1])
    print(f"{'conc':>4}  {'quantity':<20} {'predicted':>10} {'measured':>10} {'pred/meas':>9}  in range")
    for c, name, pred, meas, rng in _rows(out):
        inside = "-" if rng is None else ("yes" if rng[0] <= meas <= rng[1] else "no")
        print(f"{c:>4}  {name:<20} {pred:>10.2f} {meas:>10.2f} {pred / meas:>9.2f}  {inside}")


if __name__ == "__main__":
    main()
