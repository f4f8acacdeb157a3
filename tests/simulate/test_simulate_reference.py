"""Reference: simulated serving curves against published measurements (measurements.yaml).

perf-13 is a fixed-concurrency sweep (NVIDIA NIM 1.8.0, Llama-3.3-70B-Instruct FP8 on 2x H100,
TP 2, 5000 input / 500 output tokens, AIPerf). perf-01/perf-04 are trtllm-bench offline runs
(every request queued at once). The simulator runs on the sizing roofline with default
efficiency. Prints the error per point; asserts only the bounds argued beside each check.
"""

from __future__ import annotations

import numpy as np
import pytest

from garrison.catalogue import load_catalogue
from garrison.modelspec import load_model_spec
from garrison.simulate import EngineConfig, Requests, simulate, summarise
from garrison.simulate.capacity import run_closed_loop
from garrison.sizing.estimate import EstimateOptions, estimate, step_model_for

# concurrency: (mean TTFT ms, mean ITL ms, throughput tok/s) from measurements.yaml perf-13
PERF_13 = {
    1: (406.77, 18.58, 51.67),
    5: (546.7, 21.83, 218.48),
    25: (688.69, 38.75, 623.4),
    50: (834.51, 59.73, 814.37),
    100: (7996.25, 92.91, 917.26),
    250: (88605.32, 93.2, 920.12),
}
# id: (model, gpu, ISL, OSL, measured output tok/s) from measurements.yaml perf-01 / perf-04
OFFLINE = {
    "perf-01 1000/1000": ("llama-3.1-8b-instruct", "h100-sxm", 1000, 1000, 15220.0),
    "perf-04 1000/1000": ("llama-3.3-70b-instruct", "h200-sxm", 1000, 1000, 2909.0),
    "perf-04 2048/2048": ("llama-3.3-70b-instruct", "h200-sxm", 2048, 2048, 2003.0),
}


def _model(model: str, gpu: str, gpus: int, isl: int, osl: int, max_len: int):  # type: ignore[no-untyped-def]
    cat = load_catalogue()
    spec, fmt, g = load_model_spec(model), cat.quant("fp8"), cat.gpu(gpu)
    # KV in FP8: the sources do not state it, but at concurrency 50 the measured TTFT (0.83 s) shows
    # no queueing, which 50 x 5500 tokens of bf16 KV on 2x H100 (~207k tokens) could not hold.
    opts = EstimateOptions(
        engine="trtllm",
        gpus=gpus,
        tp=gpus,
        input_len=isl,
        output_len=osl,
        max_model_len=max_len,
        kv_dtype="fp8",
        gpu_memory_utilization=0.9,
    )
    est = estimate(spec, fmt, gpu=g, opts=opts)
    assert est.fits, est.reason
    eng = EngineConfig(max_num_seqs=est.max_num_seqs, max_num_batched_tokens=est.max_num_batched_tokens)
    return step_model_for(spec, fmt, est, gpu=g), eng


def _err(sim: float, meas: float) -> float:
    return (sim - meas) / meas


def test_nim_concurrency_sweep(capsys: pytest.CaptureFixture[str]) -> None:
    model, eng = _model("llama-3.3-70b-instruct", "h100-sxm", 2, 5000, 500, 8192)
    rows = {}
    for c in PERF_13:
        s = run_closed_loop(model, eng, c, input_len=5000, output_len=500, num_requests=max(8 * c, 40))
        rows[c] = (s.ttft_ms.mean, s.itl_ms.mean, s.output_tokens_per_s)
    with capsys.disabled():
        print("\nperf-13 (NIM, Llama-3.3-70B FP8, 2x H100 TP2, 5000/500): simulated vs measured")
        print(
            f"{'conc':>5} {'TTFT sim':>9} {'meas':>9} {'err':>7} {'ITL sim':>8} {'meas':>7} {'err':>7} "
            f"{'tok/s sim':>9} {'meas':>7} {'err':>7}"
        )
        for c, (tt, itl, tp) in rows.items():
            mt, mi, mp = PERF_13[c]
            print(
                f"{c:>5} {tt:>9.0f} {mt:>9.0f} {_err(tt, mt):>+7.0%} {itl:>8.1f} {mi:>7.1f} {_err(itl, mi):>+7.0%} "
                f"{tp:>9.0f} {mp:>7.0f} {_err(tp, mp):>+7.0%}"
            )
    # Below the knee (c <= 50) the roofline's own stated speed range is +-25% (sizing.estimate
    # SPEED_RANGE); a further 10% covers the simulated warm-up/tail. Anything beyond is a model error.
    for c in (1, 5, 25, 50):
        for sim, meas in zip(rows[c], PERF_13[c], strict=True):
            assert abs(_err(sim, meas)) < 0.35, (c, sim, meas)
    # The knee: measured TTFT jumps ~10x from c=50 to c=100 while throughput saturates (+13%, then
    # +0.3%). The simulation must show the same shape: a >5x TTFT jump and a throughput plateau.
    assert rows[100][0] > 5 * rows[50][0]
    assert abs(rows[250][2] / rows[100][2] - 1) < 0.15


def test_offline_max_throughput(capsys: pytest.CaptureFixture[str]) -> None:
    out = {}
    for name, (model_id, gpu, isl, osl, meas) in OFFLINE.items():
        model, eng = _model(model_id, gpu, 1, isl, osl, isl + osl)
        n = 600
        reqs = Requests(np.zeros(n), np.full(n, isl), np.full(n, osl), np.zeros(n, dtype=np.int64))
        s = summarise(simulate(reqs, eng, model), 0.0)
        out[name] = (s.output_tokens_per_s, meas)
    with capsys.disabled():
        print("\noffline max throughput (trtllm-bench, all requests queued): simulated vs measured tok/s")
        for name, (sim, meas) in out.items():
            print(f"{name:<20} {sim:>9.0f} {meas:>9.0f} {_err(sim, meas):>+7.0%}")
    # TensorRT-LLM's offline mode is the fastest engine at its best batch; the roofline with vLLM-like
    # default efficiency is expected below it, but within a factor of two (else the model is broken).
    for sim, meas in out.values():
        assert 0.5 * meas < sim < 1.5 * meas
