"""Step time from a roofline: decode is bound by bytes moved, prefill by FLOPs; parallelism adds
collectives, MoE adds routing, and every step pays a fixed engine overhead."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

from garrison.catalogue.schema import CPU, GPU, QuantFormat
from garrison.engines.profile import GpuKernels
from garrison.modelspec.params import ParamCounts
from garrison.modelspec.spec import ModelSpec
from garrison.sizing.cpu import cpu_decode_bandwidth, cpu_prefill_flops
from garrison.sizing.efficiency import Efficiency
from garrison.sizing.kv_cache import KVLayout
from garrison.sizing.weights import WeightBytes, expert_bytes_each, experts_touched

# How a replica's GPUs share the model:
#   tp     - tensor parallel (vLLM/SGLang/TRT-LLM): every layer split, two all-reduces per layer
#   layer  - llama.cpp `--split-mode layer` (its default): whole layers per GPU, a pipeline that one
#            token walks through in turn (no single-stream gain)
#   row    - llama.cpp `--split-mode row`: each matmul's rows split, gathered on the main GPU
SplitMode = Literal["tp", "layer", "row"]

# GEMMs of at most this many rows run as mat-vec kernels (llama.cpp's MMVQ up to batch 8, the
# split-K GEMV paths of cuBLAS/CUTLASS): no tile padding
MATVEC_ROWS = 8


def peak_tflops(gpu: GPU, fmt: QuantFormat) -> float:
    """Dense tensor throughput for the precision the format's GEMMs run in on this GPU.

    Weight-only formats (AWQ, GPTQ, GGUF on GPU) dequantise to 16 bit and run bf16 GEMMs; FP8 and
    INT8 W8A8 run at the 8-bit rate only where the GPU has it (FP8 from Ada/Hopper on; on Ampere
    vLLM falls back to weight-only FP8 via Marlin = bf16 rate); FP4 needs Blackwell.
    """
    rates = {
        "fp8": gpu.fp8_dense_tflops,
        "int8": gpu.int8_dense_tops,
        "fp4": gpu.fp4_dense_tflops or gpu.fp8_dense_tflops,
    }
    rate = rates.get(fmt.compute)
    return rate if rate else gpu.bf16_dense_tflops


def fp16_tflops(gpu: GPU) -> float:
    """Dense FP16 tensor throughput with FP16 accumulation, the rate llama.cpp's GEMMs run at on GPUs
    (cuBLAS with FP16 compute for 16-bit weights; its quantised kernels use INT8 arithmetic).

    On NVIDIA parts with tensor cores FP16-accumulate FP16 runs at half the dense INT8 rate on every
    generation (Turing to Blackwell whitepapers: T4 65/130, A100 312/624, RTX 4090 330/661, H100
    989/1979); GeForce boards run FP32 accumulation, which `bf16_dense_tflops` holds, at half of that.
    Pascal's INT8 figure is its dp4a rate, which llama.cpp's quantised kernels use. Elsewhere the
    BF16 figure."""
    if gpu.vendor == "nvidia" and gpu.int8_dense_tops:
        return max(gpu.bf16_dense_tflops, gpu.int8_dense_tops / 2.0)
    return gpu.bf16_dense_tflops


def has_p2p(gpu: GPU) -> bool:
    """Whether GPUs of this kind reach each other directly. NVIDIA disables PCIe peer-to-peer on
    GeForce boards in the driver, so NCCL moves their collectives through host memory; data-centre
    and workstation cards and NVLink/Infinity Fabric parts have it."""
    return not (gpu.interconnect.kind == "pcie" and gpu.segment == "consumer")


@dataclass(frozen=True)
class Device:
    """The roofline numbers of whatever runs one shard: a GPU or a CPU host."""

    kind: str  # "gpu" | "cpu"
    name: str
    mem_bw_bytes_s: float  # achievable (datasheet x efficiency)
    flops_s: float  # achievable (datasheet x efficiency)
    link_bytes_s: float  # per direction, achievable; 0 when there is no peer
    link_latency_s: float  # one all-reduce between two peers
    step_overhead_s: float = 0.0  # the engine's fixed cost per step (scheduling, sampling, launch gaps)
    node_gpus: int = 0  # GPUs one server holds on `link`; more ranks reach each other over the network
    net_bytes_s: float = 0.0  # per GPU between servers, achievable
    net_latency_s: float = 0.0  # one all-reduce between two GPUs on different servers

    @staticmethod
    def from_gpu(
        gpu: GPU, fmt: QuantFormat, eff: Efficiency, kernels: GpuKernels = "native", p2p: bool | None = None
    ) -> Device:
        direct = gpu.interconnect.kind in ("nvlink", "infinity-fabric", "unified")
        if kernels == "ggml":  # llama.cpp
            # block-quantised weights are unpacked in the mat-vec kernels, which reach less of the
            # bandwidth than plain 16-bit rows; prompts run at the FP16-accumulate rate
            quantised = fmt.family not in ("float",)
            if gpu.vendor == "apple":  # Metal on the unified memory; GEMMs on the ALUs (no tensor cores)
                bw_eff = eff.apple_gpu_bw_quant if quantised else eff.apple_gpu_bw
                flops = gpu.bf16_dense_tflops * 1e12 * eff.apple_gpu_compute
            else:
                bw_eff = eff.llamacpp_gpu_bw_quant if quantised else eff.llamacpp_gpu_bw
                flops = fp16_tflops(gpu) * 1e12 * eff.llamacpp_gpu_compute
        else:
            bw_eff, flops = eff.gpu_bw, peak_tflops(gpu, fmt) * 1e12 * eff.gpu_compute
        link = gpu.interconnect.bw_gbps_per_direction * 1e9 * eff.link_bw
        latency = (eff.allreduce_latency_us_nvlink if direct else eff.allreduce_latency_us_pcie) * 1e-6
        if not (has_p2p(gpu) if p2p is None else p2p):
            link *= eff.no_p2p_bw
            latency *= eff.no_p2p_latency_factor
        return Device(
            kind="gpu",
            name=gpu.id,
            mem_bw_bytes_s=gpu.mem_bw_gbps * 1e9 * bw_eff,
            flops_s=flops,
            link_bytes_s=link,
            link_latency_s=latency,
            step_overhead_s=(eff.llamacpp_step_overhead_ms if kernels == "ggml" else eff.step_overhead_ms)
            * 1e-3,
            node_gpus=gpu.interconnect.max_gpus_per_node,
            net_bytes_s=eff.network_gbit_s_per_gpu / 8 * 1e9 * eff.link_bw,
            net_latency_s=eff.allreduce_latency_us_network * 1e-6,
        )

    @staticmethod
    def from_cpu(
        cpu: CPU, sockets: int, eff: Efficiency, numa_distribute: bool = False, quant: str | None = None
    ) -> Device:
        """llama.cpp on CPUs (sizing.cpu): cores, clock and kernel rate for the weights' format `quant`;
        DRAM bandwidth per socket."""
        return Device(
            kind="cpu",
            name=cpu.id,
            mem_bw_bytes_s=cpu_decode_bandwidth(cpu, sockets, eff, numa_distribute),
            flops_s=cpu_prefill_flops(cpu, sockets, eff, quant),
            link_bytes_s=0.0,
            link_latency_s=0.0,
            step_overhead_s=eff.llamacpp_step_overhead_ms * 1e-3,
        )


def collective_latency_s(base_s: float, ranks: int) -> float:
    """Latency of one small all-reduce over `ranks` GPUs: `base_s` for two, and a ring's extra hops
    for more (NCCL's low-latency protocol grows with the ring; ~1 + (n - 2) / 4 of the pair latency
    fits the 8-GPU NVLink figures in nccl-tests: ~25-30 us vs ~10 us)."""
    if ranks <= 1:
        return 0.0
    return base_s * (1.0 + (ranks - 2) / 4.0)


def _busiest_rank_experts(touched_total: float, num_experts: int, ranks: int) -> float:
    """Distinct experts the busiest of `ranks` expert-parallel GPUs reads, each holding E / ranks.

    The mean is touched / ranks; with few touched experts one rank draws more than its share. The
    busiest rank's count is taken as mean + sqrt(2 mean ln ranks) (the Gaussian tail of the maximum
    of `ranks` binomial counts), capped by the experts it holds.
    """
    if ranks <= 1:
        return touched_total
    mean = touched_total / ranks
    return min(num_experts / ranks, mean + math.sqrt(2.0 * mean * math.log(ranks)))


@dataclass(frozen=True)
class RooflineStepModel:
    """Step time of one replica for a mixed continuous-batching step (the StepTimeModel protocol).

    t_step = max(bytes / bandwidth, FLOPs / compute) + collectives + MoE routing + pipeline hops
             + t_overhead
    (the roofline of Williams et al. 2009, applied per step as in LLM-Viewer / llm-analysis).
    Bytes per GPU: the dense weights once per step, the routed experts the step's tokens touch
    (coverage formula in weights.experts_touched; with expert parallelism the busiest rank's share),
    the KV of every decoding sequence and fixed state.
    FLOPs: 2 x active linear params per token (Kaplan et al. 2020), the LM head only for tokens
    that sample, attention 4 x heads x head_dim per (query, key) pair.
    Collectives: tensor parallelism all-reduces the hidden state twice per layer (after attention,
    after the MLP: Megatron-LM); expert parallelism replaces the MoE all-reduce by a dispatch and a
    combine all-to-all of each token's k expert inputs. Each costs its latency (grows with the
    ranks) plus its bytes over the link; the per-layer latency is what makes deep MoE models on 8
    GPUs slow at batch 1.
    Pipeline parallelism / llama.cpp layer split: one token passes every stage in turn, so the
    stages' times add up and a step costs the same bytes / bandwidth as one device holding all
    layers, plus a hop per stage boundary. llama.cpp row split divides the bytes but pays a host
    synchronisation per split matmul.
    """

    spec: ModelSpec
    counts: ParamCounts
    fmt: QuantFormat
    weights: WeightBytes
    kv: KVLayout  # one TP rank's share of all layers (the pp = 1 view; stages add up)
    device: Device
    tp: int
    pp: int
    eff: Efficiency
    kv_capacity: int
    block: int = 16
    ep: bool = False  # expert parallelism over the tp ranks (vLLM --enable-expert-parallel)
    split: SplitMode = "tp"

    @property
    def kv_capacity_tokens(self) -> int:
        return self.kv_capacity

    @property
    def block_size(self) -> int:
        return self.block

    # ---- bytes ----
    @functools.cached_property
    def _moe_layers(self) -> int:
        moe = self.spec.moe
        return self.spec.num_layers - moe.first_dense_layers if moe else 0

    @functools.cached_property
    def _expert_bytes_one(self) -> float:
        """One expert in one layer, as the rank holds it (1/tp slice under TP, whole under EP)."""
        full = expert_bytes_each(self.spec, self.weights, self.tp, self.ep)
        return full if self.ep else full / self.tp

    @functools.cached_property
    def _dense_bytes_rank(self) -> float:
        """Weights every step reads on one rank: all but the embedding table, vision tower and routed
        experts (never negative: the experts are a measured part of the layers' bytes)."""
        w = self.weights
        return (w.dense_layers + w.lm_head) / self.tp

    def _expert_bytes_step(self, tokens: float) -> float:
        moe = self.spec.moe
        if moe is None:
            return 0.0
        touched = experts_touched(moe.num_experts, moe.experts_per_token, tokens)
        if self.ep and self.tp > 1:
            touched = _busiest_rank_experts(touched, moe.num_experts, self.tp)
        return self._moe_layers * touched * self._expert_bytes_one

    # ---- attention FLOPs ----
    @functools.cached_property
    def _layer_counts(self) -> tuple[int, int, int]:
        kinds = self.spec.layer_kinds
        return kinds.count("full") + kinds.count("mla"), kinds.count("sliding"), kinds.count("linear")

    def _attn_dims(self) -> tuple[float, float]:
        """Per-head width one (query, key) pair costs in QK^T plus AV: (full layers, sliding layers)."""
        spec = self.spec
        if spec.mla is not None:
            # MLA with weight absorption attends in the latent space (DeepSeek-V2 appendix)
            d = spec.mla.kv_lora_rank * 2 + spec.mla.qk_rope_head_dim
            return d, d
        local = spec.head_dim + (spec.v_head_dim or spec.head_dim)
        full = 2 * spec.global_head_dim if spec.global_head_dim else local
        return full, local

    # ---- linear-layer FLOPs ----
    def _rows(self, m: float) -> float:
        """Rows a GEMM of `m` rows costs on a GPU: tensor-core GEMMs fill tiles and waves no better
        than one of m + gemm_pad_rows rows (efficiency m / (m + pad)); up to MATVEC_ROWS rows engines
        run mat-vec kernels instead, which pad nothing (the pad phases in above that)."""
        if self.device.kind != "gpu" or m <= MATVEC_ROWS:
            return m
        return m + min(self.eff.gemm_pad_rows, m - MATVEC_ROWS)

    def _linear_flops(self, tokens: int, sampled: int) -> float:
        """2 x params x rows for every weight matrix a step multiplies, rows padded as in `_rows`:
        grouped expert GEMMs get tokens x k / touched rows each, so prefill on many small experts
        runs far below the dense rate (llama.cpp pp512 of Qwen3-30B-A3B: 32 rows per expert)."""
        c = self.counts
        experts = float(c.experts_active)
        dense = c.active - c.embedding - c.lm_head - experts  # active excludes vision and MTP
        flops = 2.0 * dense * self._rows(tokens) + 2.0 * c.lm_head * self._rows(sampled)
        moe = self.spec.moe
        if moe is not None and experts > 0:
            touched = experts_touched(moe.num_experts, moe.experts_per_token, tokens)
            per_expert = experts / moe.experts_per_token  # one expert in every MoE layer
            rows = tokens * moe.experts_per_token / max(touched, 1e-9)
            flops += 2.0 * per_expert * touched * self._rows(rows)
        return flops

    # ---- collectives and fixed costs ----
    def _comm_s(self, tokens: int) -> float:
        spec, dev = self.spec, self.device
        if dev.link_bytes_s <= 0:
            return 0.0
        if self.split == "row" and self.tp > 1:
            # llama.cpp row split: 7 split matmuls per layer, each gathered through the host
            gathered = tokens * spec.hidden_size * 4 * (self.tp - 1) / self.tp  # fp32 partial rows
            per_sync = self.eff.llamacpp_row_sync_us * 1e-6 + gathered / dev.link_bytes_s
            return 7 * spec.num_layers * per_sync
        if self.tp <= 1:
            return 0.0
        latency = collective_latency_s(dev.link_latency_s, self.tp)
        msg = tokens * spec.hidden_size * 2  # bf16 activations
        ring = 2 * (self.tp - 1) / self.tp * msg / dev.link_bytes_s  # ring all-reduce volume
        if 0 < dev.node_gpus < self.tp and dev.net_bytes_s > 0:
            # tensor parallelism across servers: NCCL reduces inside each server on its link, then
            # between servers over the network (hierarchical latency: both parts in turn), and the
            # ring's volume is bounded by the slowest hop, the network
            servers = math.ceil(self.tp / dev.node_gpus)
            latency = collective_latency_s(dev.link_latency_s, dev.node_gpus) + collective_latency_s(
                dev.net_latency_s, servers
            )
            ring = 2 * (self.tp - 1) / self.tp * msg / dev.net_bytes_s
        allreduce = latency + ring
        moe = spec.moe
        if self.ep and moe is not None:
            # attention all-reduce in every layer; dense MLP layers all-reduce; MoE layers dispatch
            # and combine each token's k copies (all-to-all: (n-1)/n of them leave the rank)
            a2a_bytes = tokens * moe.experts_per_token * spec.hidden_size * 2 * (self.tp - 1) / self.tp
            a2a = latency + a2a_bytes / dev.link_bytes_s
            dense_layers = spec.num_layers - self._moe_layers
            return spec.num_layers * allreduce + dense_layers * allreduce + self._moe_layers * 2 * a2a
        return 2 * spec.num_layers * allreduce

    def _fixed_s(self, tokens: int) -> float:
        """Per-step costs that do not scale with bytes or FLOPs."""
        t = self.device.step_overhead_s
        if self.device.kind == "gpu":  # launch gaps and small kernels of every layer, in turn
            t += self.spec.num_layers * self.eff.layer_overhead_us * 1e-6
        if self.spec.moe is not None and self.device.kind == "gpu":
            t += self._moe_layers * self.eff.moe_layer_overhead_us * 1e-6
        stages = self.pp
        if stages > 1:
            dev = self.device
            hop = tokens * self.spec.hidden_size * 2  # bf16 activations to the next stage
            cross = 0  # stage boundaries between servers (stages fill a server before the next)
            if 0 < dev.node_gpus < self.tp * stages and dev.net_bytes_s > 0:
                cross = min(stages - 1, math.ceil(self.tp * stages / dev.node_gpus) - 1)
            t += cross * (dev.net_latency_s + hop / dev.net_bytes_s)
            t += (stages - 1 - cross) * (dev.link_latency_s + hop / (dev.link_bytes_s or 25e9))
        return t

    def step_time_s(
        self,
        decode_seqs: int,
        decode_context_tokens: int,
        prefill_tokens: int,
        prefill_context_tokens: int,
    ) -> float:
        tokens = decode_seqs + prefill_tokens
        if tokens <= 0:
            return 0.0
        spec, tp = self.spec, self.tp
        # --- bytes read per GPU ---
        weight_bytes = self._dense_bytes_rank + self._expert_bytes_step(tokens)
        kv = self.kv
        ctx_avg = decode_context_tokens / decode_seqs if decode_seqs else 0.0
        kv_bytes = (
            kv.growing_bytes_per_token * (decode_context_tokens + prefill_context_tokens)
            + kv.window_bytes_per_token * decode_seqs * min(ctx_avg, kv.window)
            + kv.fixed_bytes_per_seq * 2 * decode_seqs  # read and write the recurrent state
        )  # the layout covers all layers of one TP rank, i.e. every stage together
        bytes_gpu = weight_bytes + kv_bytes
        # --- FLOPs per GPU ---
        sampled = decode_seqs + (1 if prefill_tokens else 0)
        flops = self._linear_flops(tokens, sampled)
        full_layers, sliding_layers, linear_layers = self._layer_counts
        heads = spec.num_attention_heads
        pairs_prefill = prefill_tokens * max(prefill_context_tokens - prefill_tokens / 2, prefill_tokens / 2)
        pairs_full = decode_context_tokens + pairs_prefill
        window = spec.sliding_window or 0
        pairs_window = decode_seqs * min(ctx_avg, window) + prefill_tokens * min(window, prefill_tokens)
        d_full, d_local = self._attn_dims()
        flops += 2 * heads * (d_full * full_layers * pairs_full + d_local * sliding_layers * pairs_window)
        if spec.linear is not None:
            flops += 4 * spec.linear.state_elements_per_layer * linear_layers * tokens
        flops /= tp
        t_roof = max(bytes_gpu / self.device.mem_bw_bytes_s, flops / self.device.flops_s)
        return t_roof + self._comm_s(tokens) + self._fixed_s(tokens)

    # ---- convenience views used by `estimate` ----
    def prefill_time_s(self, input_len: int, chunk: int) -> float:
        """Time to prefill one prompt alone, in chunks of `chunk` tokens (chunked prefill)."""
        t, done = 0.0, 0
        while done < input_len:
            step = min(chunk, input_len - done)
            done += step
            t += self.step_time_s(0, 0, step, done)
        return t

    def decode_step_s(self, batch: int, context: int) -> float:
        """Inter-token latency with `batch` sequences of `context` tokens each decoding together."""
        return self.step_time_s(batch, batch * context, 0, 0)
