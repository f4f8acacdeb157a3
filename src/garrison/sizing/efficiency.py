"""Efficiency factors: the only fitted numbers in the speed and memory model.

Each factor is an explicit, named parameter (never a buried constant) so that `garrison calibrate`
can replace the defaults with values fitted to measurements.

How the defaults were set (docs/accuracy.md reports the result on every point): the factors marked
FIT were fitted together on the 'fit' half of the speed points in data/calibration_points.yaml (the
half is fixed by each point's id: sizing.accuracy.split_half), by Nelder-Mead on the mean Cauchy loss
log(1 + (log(predicted / measured) / 0.25)^2), which lets a few points the model cannot describe (a
2024 DeepSeek-V3 build at 4x) pull no harder than a point 2x off; bandwidth fractions were boxed at
0.89, what a plain device-to-device copy reaches (bench/results/gpu_roofline_h200.json). The 'check'
half was not used, and docs/accuracy.md gives both halves' errors. `step_overhead_ms` is held at a
prior (the fit cannot tell it from the per-layer cost, and the calibration set has no small-model
vLLM runs to separate them), the others (link, NUMA, no-P2P, row split) come from the sources named
beside them. `python -m garrison.sizing.accuracy --refit` re-runs the fit (sizing.accuracy
.refit_defaults) and prints the factors. The loss is flat along one ridge: more bandwidth with a
larger per-layer cost describes the vendor tables as well as less bandwidth with a smaller one. The
defaults below (two digits) are from a run that stopped at gpu_bw 0.79 / layer_overhead_us 17; a
rerun started from them drifts along the ridge to 0.89 / 41 with the same errors (check half 11.0%
against 10.6%). The lower bandwidth is kept: the H200 measurement above puts plain decoders at
0.67-0.73, and 0.89 is a bare copy. Points added after that fit (2026-12-07: SGLang v0.5.7 DeepSeek-R1 on
8x H200, llama.cpp ROCm on Strix Halo) were not part of it, whichever half their id puts them in.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Efficiency(BaseModel):
    """Fractions of datasheet peaks a real engine reaches, and fixed per-step costs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "default"
    # FIT. achieved / datasheet HBM bandwidth in decode (vLLM, SGLang, TensorRT-LLM). For scale: a
    # Llama-3.1-8B decoder in plain PyTorch under CUDA graphs moves 0.67-0.73 of an H200's datasheet
    # bandwidth, a device copy 0.89 (bench/results/gpu_roofline_h200.json); tuned engines sit between.
    gpu_bw: float = Field(default=0.79, gt=0, le=1)
    # FIT. achieved / dense datasheet tensor FLOPs in GEMMs (after the row padding below).
    gpu_compute: float = Field(default=0.48, gt=0, le=1)
    # FIT. llama.cpp on GPUs: bandwidth of its mat-vec kernels on 16-bit rows and on block-quantised
    # rows (k-quants, Q4_0, MXFP4), and the share of the FP16-accumulate tensor rate its prompt
    # processing reaches (speed.fp16_tflops)
    llamacpp_gpu_bw: float = Field(default=0.81, gt=0, le=1)
    llamacpp_gpu_bw_quant: float = Field(default=0.89, gt=0, le=1)
    llamacpp_gpu_compute: float = Field(default=0.39, gt=0, le=1)
    # FIT. llama.cpp's Metal backend on Apple silicon: the same three for the unified memory and the
    # GPU's ALU rate (Apple GPUs have no tensor cores; `bf16_dense_tflops` holds the ALU peak)
    apple_gpu_bw: float = Field(default=0.79, gt=0, le=1)
    apple_gpu_bw_quant: float = Field(default=0.76, gt=0, le=1)
    apple_gpu_compute: float = Field(default=0.65, gt=0, le=1)
    # FIT. achieved / theoretical DRAM bandwidth for llama.cpp on CPUs (STREAM reaches 60-80%).
    cpu_bw: float = Field(default=0.75, gt=0, le=1)
    # what one core can pull from DRAM while decoding, GB/s (a Ryzen 7950X streams an 8B Q5_0 at
    # 62 GB/s with 4 threads, ik_llama.cpp PR #121: ~15 GB/s per core); caps low-core-count servers
    cpu_core_bw_gbps: float = Field(default=15.0, gt=0)
    # extra decode bandwidth each further socket adds when llama.cpp runs with `--numa distribute`
    # (dual EPYC 9175F: 2.4 -> 4.31 tokens/s, ggml-org/llama.cpp #11744); 0 without NUMA placement
    cpu_numa_gain: float = Field(default=0.65, ge=0, le=1)
    # FIT. scale on the measured llama.cpp kernel rates of data/cpu_kernels.yaml (1.0 = as measured)
    cpu_compute: float = Field(default=0.82, gt=0, le=4)
    # achieved / marketed per-direction link bandwidth in all-reduce (NCCL bus bandwidth)
    link_bw: float = Field(default=0.70, gt=0, le=1)
    # FIT. rows a GEMM is padded by on a GPU (tile and wave quantisation): a GEMM of M rows costs as
    # many FLOPs as one of M + gemm_pad_rows (speed.RooflineStepModel._rows); matters for grouped
    # expert GEMMs, whose rows are the step's tokens x k / touched experts
    gemm_pad_rows: float = Field(default=24.0, ge=0, le=512)
    # fixed cost of one engine step (scheduling, sampling, launch), milliseconds: a prior, not fitted
    step_overhead_ms: float = Field(default=1.5, ge=0, le=100)
    # FIT. per layer and step on GPUs: the gaps between a layer's dozen kernels (norms, rotary,
    # attention, activation) that neither bytes nor FLOPs account for, microseconds
    layer_overhead_us: float = Field(default=17.0, ge=0, le=1000)
    # FIT. llama.cpp's cost per step (one token per slot; sampling and graph launch on the host), ms
    llamacpp_step_overhead_ms: float = Field(default=3.0, ge=0, le=100)
    # latency of one all-reduce between two GPUs on the link, microseconds (NVLink ~8-15 us, PCIe
    # ~20-40 us); a ring over n GPUs takes (1 + (n - 2) / 4) times as long (speed.collective_latency_s)
    allreduce_latency_us_nvlink: float = Field(default=10.0, ge=0)
    allreduce_latency_us_pcie: float = Field(default=30.0, ge=0)
    # between servers (tensor or pipeline parallelism past one server's GPUs): one 400 Gb/s NIC per
    # GPU, as in NVIDIA's HGX reference (ConnectX-7 NDR; nccl-tests #290: 46-48 GB/s per NIC), and
    # the latency of a small all-reduce between two GPUs on different servers (nccl-tests #150:
    # 8 B between two A100 servers over HDR InfiniBand, 19.9 us)
    network_gbit_s_per_gpu: float = Field(default=400.0, gt=0)
    allreduce_latency_us_network: float = Field(default=20.0, ge=0)
    # GeForce cards have peer-to-peer over PCIe disabled in the driver: collectives bounce through
    # host memory, at this fraction of the link bandwidth and this many times the latency
    no_p2p_bw: float = Field(default=0.5, gt=0, le=1)
    no_p2p_latency_factor: float = Field(default=2.0, ge=1)
    # FIT. per MoE layer and step: routing (top-k), token permutation, grouped-GEMM launches and the
    # un-permute that a dense layer does not have, microseconds
    moe_layer_overhead_us: float = Field(default=26.0, ge=0)
    # llama.cpp `--split-mode row`: every split matmul gathers its rows on the main GPU through the
    # host; cost of one such synchronisation, microseconds (7 per layer: q, k, v, o, gate, up, down)
    llamacpp_row_sync_us: float = Field(default=25.0, ge=0)


DEFAULT_EFFICIENCY = Efficiency()
