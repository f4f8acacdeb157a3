"""Prediction accuracy against the calibration set, and against a naive baseline in the same run.

Baseline: the folklore rule "weights = params x 2 bytes, KV = the rest of 90% of memory" and
"decode tokens/s = bandwidth / weight bytes". Prints median and worst error for memory and speed,
for Garrison and for the baseline, and their ratio. Targets: memory median <= 3%, speed <= 15%.
"""

from __future__ import annotations

import statistics

from garrison.catalogue import load_catalogue
from garrison.sizing.accuracy import calibration_points, compare, summary


def naive_errors() -> tuple[list[float], list[float]]:
    cat = load_catalogue()
    mem, speed = [], []
    for p in calibration_points()["memory"]:
        m = cat.model(p["model"])
        gpu = cat.gpu(p["gpu"])
        bits = cat.quant(p["quant"]).bits_per_weight
        weights = m.params_total_b * 1e9 * bits / 8 / 1024**3 / p.get("tp", 1)
        kv = 0.9 * gpu.memory_gb * 1e9 / 1024**3 - weights
        meas = p["measured"]
        if "weights_gib" in meas:
            mem.append(abs(weights - meas["weights_gib"]) / abs(meas["weights_gib"]))
        if "kv_cache_gib" in meas:
            mem.append(abs(kv - meas["kv_cache_gib"]) / abs(meas["kv_cache_gib"]))
    for p in calibration_points()["speed"]:
        m = cat.model(p["model"])
        gpu = cat.gpu(p["gpu"])
        bits = cat.quant(p["quant"]).bits_per_weight
        tps = gpu.mem_bw_gbps * 1e9 * p.get("gpus", 1) / (m.params_active_b * 1e9 * bits / 8)
        meas = p["measured"]
        if "itl_ms" in meas and p.get("concurrency") == 1:
            speed.append(abs(1000 / tps - meas["itl_ms"]) / meas["itl_ms"])
        if "decode_tokens_per_s_single" in meas:
            speed.append(abs(tps - meas["decode_tokens_per_s_single"]) / meas["decode_tokens_per_s_single"])
    return mem, speed


def main() -> None:
    rows = compare()
    mem_med, mem_worst = summary(rows, "memory")
    sp_med, sp_worst = summary(rows, "speed")
    n_mem, n_speed = naive_errors()
    nm, ns = statistics.median(n_mem), statistics.median(n_speed)
    print(f"points: {len({r.point for r in rows})}, comparisons: {len(rows)}")
    print(
        f"memory: median {mem_med:.1%} worst {mem_worst:.1%} | naive median {nm:.1%} | ratio {mem_med / nm:.2f}"
    )
    print(
        f"speed:  median {sp_med:.1%} worst {sp_worst:.1%} | naive median {ns:.1%} | ratio {sp_med / ns:.2f}"
    )
    print(
        f"targets: memory median <= 3%: {'met' if mem_med <= 0.03 else 'NOT met'}; "
        f"speed median <= 15%: {'met' if sp_med <= 0.15 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
