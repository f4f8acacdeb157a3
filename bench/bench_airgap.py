"""Benchmark: `garrison airgap pack` + `verify` against `cp` + `sha256sum` on the same files, same run.

    python bench/bench_airgap.py [--size-mb 1024] [--files 4] [--repeat 3] [--json-out FILE]

The baseline does the same work with the standard tools: copy the files and make the copy durable
(`cp` then `sync` on the copies, since pack fsyncs every piece), hash the source (`sha256sum`, what
pack computes while copying) and hash the copy (`sha256sum`, what verify does). Each side is timed as
processes, best of --repeat runs (the machine is shared), alternating so both see the same cache.
ratio = baseline seconds / garrison seconds (>= 1 means Garrison is at least as fast); target >= 0.9.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _timed(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0


def _make_files(root: Path, total_mb: int, n: int) -> list[Path]:
    """Random (incompressible, not sparse) files, like model shards."""
    root.mkdir(parents=True)
    per = total_mb * 1024 * 1024 // n
    files = []
    for i in range(n):
        p = root / f"model-{i + 1:05d}-of-{n:05d}.safetensors"
        with p.open("wb") as f:
            left = per
            while left:
                chunk = os.urandom(min(left, 8 * 1024 * 1024))
                f.write(chunk)
                left -= len(chunk)
        files.append(p)
    (root / "config.json").write_text("{}")
    (root / "tokenizer.json").write_text("{}")
    return files


def run(size_mb: int, n_files: int, repeat: int, work: Path) -> dict[str, object]:
    """Time both sides; returns the measurements and ratios."""
    src = work / "src" / "bench-model"
    files = _make_files(src, size_mb, n_files)
    req = work / "src" / "req.yaml"
    req.write_text(
        "organisation: {name: bench, team_size: 1}\n"
        "use_cases: [{name: chat, kind: chat, models: ['./bench-model']}]\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    garrison = [sys.executable, "-m", "garrison", "airgap"]
    best = {"cp_sync": 1e9, "sha_src": 1e9, "sha_dst": 1e9, "pack": 1e9, "verify": 1e9}
    for i in range(repeat):
        dst = work / f"cp-{i}"
        dst.mkdir()
        t0 = time.perf_counter()
        subprocess.run(["cp", *map(str, files), str(dst)], check=True)
        subprocess.run(["sync", *map(str, dst.iterdir())], check=True)
        best["cp_sync"] = min(best["cp_sync"], time.perf_counter() - t0)
        best["sha_src"] = min(best["sha_src"], _timed(["sha256sum", *map(str, files)]))
        best["sha_dst"] = min(best["sha_dst"], _timed(["sha256sum", *map(str, dst.iterdir())]))
        shutil.rmtree(dst)
        out = work / f"pack-{i}"
        best["pack"] = min(
            best["pack"],
            _timed([*garrison, "pack", str(req), "--out", str(out), "--no-wheelhouse", "--quiet"], env),
        )
        best["verify"] = min(best["verify"], _timed([*garrison, "verify", str(out), "--quiet"], env))
        shutil.rmtree(out)
    mb = sum(f.stat().st_size for f in files) / 1e6
    baseline = best["cp_sync"] + best["sha_src"] + best["sha_dst"]
    ours = best["pack"] + best["verify"]
    return {
        "megabytes": round(mb, 1),
        "files": n_files,
        "repeat": repeat,
        "seconds": {k: round(v, 3) for k, v in best.items()},
        "mb_per_s": {
            "pack": round(mb / best["pack"], 1),
            "cp+sync+sha256sum": round(mb / (best["cp_sync"] + best["sha_src"]), 1),
            "verify": round(mb / best["verify"], 1),
            "sha256sum": round(mb / best["sha_dst"], 1),
        },
        "ratio_pack": round((best["cp_sync"] + best["sha_src"]) / best["pack"], 3),
        "ratio_verify": round(best["sha_dst"] / best["verify"], 3),
        "ratio_pack_plus_verify": round(baseline / ours, 3),
        "target": 0.9,
    }


def main() -> None:
    """Parse arguments, run, print JSON on stdout."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-airgap-", dir=os.environ.get("BENCH_TMP")) as tmp:
        res = run(args.size_mb, args.files, args.repeat, Path(tmp))
    text = json.dumps(res, indent=1, sort_keys=True)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")


if __name__ == "__main__":
    main()
