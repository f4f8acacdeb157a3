"""How long `garrison` takes to start, against a baseline commit checked out beside it, same run.

    python bench/bench_startup.py [--baseline REF] [--runs N] [--json]

Each command runs N times alternating between the working tree (`src/`) and the baseline (a
temporary `git worktree` of REF), both with this venv's Python, so machine load hits both alike.
Prints the medians and the ratio now / baseline (below 1 = faster now).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "--version": ["--version"],
    "--help": ["--help"],
    "estimate --help": ["estimate", "--help"],
    "estimate 8B on h100": ["estimate", "meta-llama/Llama-3.1-8B-Instruct", "--gpu", "h100", "--json"],
    "usage error": ["estimate", "--bogus"],
}


def once(src: Path, args: list[str], home: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(src), "GARRISON_HOME": home, "COLUMNS": "100"}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "garrison", *args], env=env, capture_output=True, timeout=120)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--baseline", default="ccd5979", help="git ref to compare with (before lazy start-up)")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "baseline"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(base), a.baseline], check=True
        )
        try:
            for name, args in COMMANDS.items():
                now: list[float] = []
                old: list[float] = []
                once(ROOT / "src", args, tmp)  # warm the page cache once
                for _ in range(a.runs):
                    now.append(once(ROOT / "src", args, tmp))
                    old.append(once(base / "src", args, tmp))
                m_now, m_old = statistics.median(now), statistics.median(old)
                results.append(
                    {
                        "name": name,
                        "baseline": a.baseline,
                        "baseline_s": round(m_old, 3),
                        "value_s": round(m_now, 3),
                        "ratio": round(m_now / m_old, 3),
                        "spread_s": round(max(now) - min(now), 3),
                        "runs": a.runs,
                        "target": "< 0.2 s for --version, --help, estimate --help",
                    }
                )
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)
    if a.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'command':24} {'now s':>8} {'baseline s':>11} {'ratio':>7} {'spread s':>9}")
    for r in results:
        print(
            f"{r['name']:24} {r['value_s']:8.3f} {r['baseline_s']:11.3f} {r['ratio']:7.2f} {r['spread_s']:9.3f}"
        )
    print(f"baseline: {a.baseline}, median of {a.runs} runs each, alternating")


if __name__ == "__main__":
    main()
