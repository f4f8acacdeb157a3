"""Efficiency factors: the only fitted numbers in the speed and memory model.

Each factor is an explicit, named parameter (never a buried constant) so that `garrison calibrate`
can replace the defaults with values fitted to measurements. Defaults come from the calibration set
in data/calibration_points.yaml (see docs/accuracy.md for how far predictions are from it).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Efficiency(BaseModel):
    """Fractions of datasheet peaks a real engine reaches, and fixed per-step costs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "default"
    # achieved / datasheet HBM bandwidth while streaming weights in decode (GPU). Measured here on an
    # H200 (bench/results/gpu_roofline_h200.json): a Llama-3.1-8B decoder in plain PyTorch under CUDA
    # graphs moves 0.67-0.73 of the 4.8 TB/s datasheet over two runs (a device copy reaches 0.89); NIM on H100
    # (calibration point perf-13) implies ~0.7 at batch 1. Tuned engine kernels do a little better.
    gpu_bw: float = Field(default=0.75, gt=0, le=1)
    # achieved / dense datasheet tensor FLOPs in prefill GEMMs (large M): 50-70% is typical.
    gpu_compute: float = Field(default=0.55, gt=0, le=1)
    # llama.cpp on GPUs: its quantised mat-vec kernels reach less of peak bandwidth (llama-bench
    # tg128 on RTX 3090 Ti / 4090: 55-70% incl. per-token overhead) and its prompt processing runs
    # dequantise + fp16 GEMM (pp512 on a 4090: ~45% of the bf16 peak)
    llamacpp_gpu_bw: float = Field(default=0.65, gt=0, le=1)
    llamacpp_gpu_compute: float = Field(default=0.45, gt=0, le=1)
    # achieved / theoretical DRAM bandwidth for llama.cpp on CPUs (STREAM-like: 60-80%).
    cpu_bw: float = Field(default=0.60, gt=0, le=1)
    # what one core can pull from DRAM while decoding, GB/s (a Ryzen 7950X streams an 8B Q5_0 at
    # 62 GB/s with 4 threads, ik_llama.cpp PR #121: ~15 GB/s per core); caps low-core-count servers
    cpu_core_bw_gbps: float = Field(default=15.0, gt=0)
    # extra decode bandwidth each further socket adds when llama.cpp runs with `--numa distribute`
    # (dual EPYC 9175F: 2.4 -> 4.31 tokens/s, ggml-org/llama.cpp #11744); 0 without NUMA placement
    cpu_numa_gain: float = Field(default=0.65, ge=0, le=1)
    # scale on the measured llama.cpp kernel rates of data/cpu_kernels.yaml (1.0 = as measured)
    cpu_compute: float = Field(default=1.0, gt=0, le=4)
    # achieved / marketed per-direction link bandwidth in all-reduce (NCCL bus bandwidth)
    link_bw: float = Field(default=0.70, gt=0, le=1)
    # fixed cost of one engine step (scheduling, sampling, launch gaps), milliseconds
    step_overhead_ms: float = Field(default=1.2, ge=0, le=100)
    # latency of one all-reduce between two GPUs on the link, microseconds (NVLink ~8-15 us, PCIe
    # ~20-40 us); a ring over n GPUs takes (1 + (n - 2) / 4) times as long (speed.collective_latency_s)
    allreduce_latency_us_nvlink: float = Field(default=10.0, ge=0)
    allreduce_latency_us_pcie: float = Field(default=30.0, ge=0)
    # GeForce cards have peer-to-peer over PCIe disabled in the driver: collectives bounce through
    # host memory, at this fraction of the link bandwidth and this many times the latency
    no_p2p_bw: float = Field(default=0.5, gt=0, le=1)
    no_p2p_latency_factor: float = Field(default=2.0, ge=1)
    # per MoE layer and step: routing (top-k), token permutation, grouped-GEMM launches and the
    # un-permute that a dense layer does not have, microseconds
    moe_layer_overhead_us: float = Field(default=40.0, ge=0)
    # llama.cpp `--split-mode row`: every split matmul gathers its rows on the main GPU through the
    # host; cost of one such synchronisation, microseconds (7 per layer: q, k, v, o, gate, up, down)
    llamacpp_row_sync_us: float = Field(default=25.0, ge=0)


DEFAULT_EFFICIENCY = Efficiency()
