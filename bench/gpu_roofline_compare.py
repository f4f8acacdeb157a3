"""Garrison's roofline step time against `gpu_roofline_check.py` measurements (same run's ratios).

    python3 bench/gpu_roofline_compare.py bench/results/gpu_roofline_h200.json

The measured decoder is plain PyTorch under CUDA graphs (no scheduler), so the prediction uses the
default efficiency factors with the per-step overhead set to 0. Prints predicted / measured per batch
size and the bandwidth efficiency the measurement implies (bytes moved / step time / datasheet).
"""

from __future__ import annotations

import json
import sys

from garrison.catalogue import load_catalogue
from garrison.modelspec import load_model_spec
from garrison.sizing.efficiency import DEFAULT_EFFICIENCY
from garrison.sizing.estimate import EstimateOptions, estimate, step_model_for


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        data = json.load(f)
    cat = load_catalogue()
    gpu = cat.gpu(data["gpu"])
    spec = load_model_spec(cat.model("llama-3.1-8b-instruct").id)
    fmt = cat.quant("bf16")
    eff = DEFAULT_EFFICIENCY.model_copy(update={"step_overhead_ms": 0.0})
    est = estimate(spec, fmt, gpu=gpu, opts=EstimateOptions(max_model_len=8192, efficiency=eff))
    model = step_model_for(spec, fmt, est, gpu=gpu, efficiency=eff)
    print(
        f"GPU {gpu.name}: datasheet {gpu.mem_bw_gbps:.0f} GB/s, {gpu.bf16_dense_tflops:.0f} TFLOPS bf16 dense"
    )
    print(
        f"measured ceilings: device copy {data['copy_gbs']:.0f} GB/s ({data['copy_gbs'] / gpu.mem_bw_gbps:.2f} of "
        f"datasheet), 8k GEMM {data['matmul_tflops']:.0f} TFLOPS ({data['matmul_tflops'] / gpu.bf16_dense_tflops:.2f})"
    )
    print("batch  measured_ms  predicted_ms  pred/meas  implied_bw_eff")
    for row in data["decode"]:
        b = row["batch"]
        pred = model.decode_step_s(b, data["ctx"]) * 1e3
        implied = row["achieved_gbs"] / gpu.mem_bw_gbps
        print(f"{b:5d}  {row['step_ms']:11.2f}  {pred:12.2f}  {pred / row['step_ms']:9.2f}  {implied:14.2f}")
    print("prefill_tokens  measured_ms  predicted_ms  pred/meas  implied_compute_eff")
    for row in data["prefill"]:
        n = row["tokens"]
        pred = model.prefill_time_s(n, n) * 1e3
        implied = row.get("total_tflops", row["linear_tflops"]) / gpu.bf16_dense_tflops
        print(f"{n:14d}  {row['ms']:11.2f}  {pred:12.2f}  {pred / row['ms']:9.2f}  {implied:19.2f}")


if __name__ == "__main__":
    main()
