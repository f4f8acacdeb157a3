"""Step time from a roofline: decode is bound by bytes moved, prefill by FLOPs, TP adds all-reduces."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from garrison.catalogue.schema import CPU, GPU, QuantFormat
from garrison.engines.profile import GpuKernels
from garrison.modelspec.params import ParamCounts
from garrison.modelspec.spec import ModelSpec
from garrison.sizing.efficiency import Efficiency
from garrison.sizing.kv_cache import KVLayout
from garrison.sizing.weights import WeightBytes, expert_bytes, experts_touched


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


@dataclass(frozen=True)
class Device:
    """The roofline numbers of whatever runs one shard: a GPU or a CPU host."""

    kind: str  # "gpu" | "cpu"
    name: str
    mem_bw_bytes_s: float  # achievable (datasheet x efficiency)
    flops_s: float  # achievable (datasheet x efficiency)
    link_bytes_s: float  # per direction, achievable; 0 when there is no peer
    link_latency_s: float

    @staticmethod
    def from_gpu(gpu: GPU, fmt: QuantFormat, eff: Efficiency, kernels: GpuKernels = "native") -> Device:
        nvlink = gpu.interconnect.kind in ("nvlink", "infinity-fabric", "unified")
        if kernels == "ggml":  # GGUF: dequantise to fp16 and run fp16/bf16-rate GEMMs
            bw_eff, flops = eff.llamacpp_gpu_bw, gpu.bf16_dense_tflops * 1e12 * eff.llamacpp_gpu_compute
        else:
            bw_eff, flops = eff.gpu_bw, peak_tflops(gpu, fmt) * 1e12 * eff.gpu_compute
        return Device(
            kind="gpu",
            name=gpu.id,
            mem_bw_bytes_s=gpu.mem_bw_gbps * 1e9 * bw_eff,
            flops_s=flops,
            link_bytes_s=gpu.interconnect.bw_gbps_per_direction * 1e9 * eff.link_bw,
            link_latency_s=(eff.allreduce_latency_us_nvlink if nvlink else eff.allreduce_latency_us_pcie)
            * 1e-6,
        )

    @staticmethod
    def from_cpu(cpu: CPU, sockets: int, eff: Efficiency) -> Device:
        """llama.cpp on CPUs: DRAM bandwidth (channels x MT/s x 8 B per socket) bounds decode."""
        return Device(
            kind="cpu",
            name=cpu.id,
            mem_bw_bytes_s=cpu.mem_bw_gbps * sockets * 1e9 * eff.cpu_bw,
            flops_s=cpu.matmul_tflops * sockets * 1e12 * eff.cpu_compute,
            link_bytes_s=0.0,
            link_latency_s=0.0,
        )


@dataclass(frozen=True)
class RooflineStepModel:
    """Step time of one replica (tp x pp devices) for a mixed continuous-batching step.

    t_step = max(bytes / bandwidth, FLOPs / compute) + t_allreduce + t_overhead
    (the roofline of Williams et al. 2009, applied per step as in LLM-Viewer / llm-analysis).
    Bytes: the dense weights once per step, the routed experts the step's tokens touch (coverage
    formula in weights.experts_touched), the KV of every decoding sequence and fixed state.
    FLOPs: 2 x active linear params per token (Kaplan et al. 2020), the LM head only for tokens
    that sample, attention 4 x heads x head_dim per (query, key) pair.
    Pipeline parallelism: one token passes every stage in turn, so the stages' times add up and
    a step costs the same bytes / (tp x bandwidth) as with pp = 1, plus one hop per stage
    boundary; pipelining several micro-batches to raise throughput is not credited (conservative).
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

    @property
    def kv_capacity_tokens(self) -> int:
        return self.kv_capacity

    @property
    def block_size(self) -> int:
        return self.block

    def _expert_bytes_step(self, tokens: float) -> float:
        moe = self.spec.moe
        if moe is None:
            return 0.0
        moe_layers = self.spec.num_layers - moe.first_dense_layers
        touched = experts_touched(moe.num_experts, moe.experts_per_token, tokens)
        return moe_layers * touched * self._expert_bytes_one

    @functools.cached_property
    def _expert_bytes_one(self) -> float:
        return expert_bytes(self.spec, self.fmt)

    @functools.cached_property
    def _dense_weight_bytes(self) -> float:
        """Weights every step reads: all but the embedding table, vision tower and routed experts."""
        w = self.weights
        return w.total - w.embedding - w.vision - self._routed_bytes_total()

    def _routed_bytes_total(self) -> float:
        moe = self.spec.moe
        if moe is None:
            return 0.0
        return (
            (self.spec.num_layers - moe.first_dense_layers)
            * moe.num_experts
            * expert_bytes(self.spec, self.fmt)
        )

    @functools.cached_property
    def _layer_counts(self) -> tuple[int, int, int]:
        kinds = self.spec.layer_kinds
        return kinds.count("full") + kinds.count("mla"), kinds.count("sliding"), kinds.count("linear")

    def _attention_layers(self) -> tuple[int, int, int]:
        return self._layer_counts

    def _attn_dim(self) -> float:
        """Per-head width that one (query, key) pair costs in QK^T plus AV."""
        if self.spec.mla is not None:
            # MLA with weight absorption attends in the latent space (DeepSeek-V2 appendix)
            return self.spec.mla.kv_lora_rank * 2 + self.spec.mla.qk_rope_head_dim
        return self.spec.head_dim + (self.spec.v_head_dim or self.spec.head_dim)

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
        weight_bytes = (self._dense_weight_bytes + self._expert_bytes_step(tokens)) / tp
        kv = self.kv
        ctx_avg = decode_context_tokens / decode_seqs if decode_seqs else 0.0
        kv_bytes = (
            kv.growing_bytes_per_token * (decode_context_tokens + prefill_context_tokens)
            + kv.window_bytes_per_token * decode_seqs * min(ctx_avg, kv.window)
            + kv.fixed_bytes_per_seq * 2 * decode_seqs  # read and write the recurrent state
        )  # the layout covers all layers of one TP rank, i.e. every stage together
        bytes_gpu = weight_bytes + kv_bytes
        # --- FLOPs per GPU ---
        c = self.counts
        linear_active = c.active - c.embedding - c.lm_head  # active excludes vision and MTP
        sampled = decode_seqs + (1 if prefill_tokens else 0)
        flops = 2.0 * linear_active * tokens + 2.0 * c.lm_head * sampled
        full_layers, sliding_layers, linear_layers = self._attention_layers()
        heads = spec.num_attention_heads
        pairs_prefill = prefill_tokens * max(prefill_context_tokens - prefill_tokens / 2, prefill_tokens / 2)
        pairs_full = decode_context_tokens + pairs_prefill
        window = spec.sliding_window or 0
        pairs_window = decode_seqs * min(ctx_avg, window) + prefill_tokens * min(window, prefill_tokens)
        flops += 2 * heads * self._attn_dim() * (full_layers * pairs_full + sliding_layers * pairs_window)
        if spec.linear is not None:
            flops += 4 * spec.linear.state_elements_per_layer * linear_layers * tokens
        flops /= tp
        t_roof = max(bytes_gpu / self.device.mem_bw_bytes_s, flops / self.device.flops_s)
        # --- tensor-parallel all-reduce: two per layer (after attention and after the MLP) ---
        t_comm = 0.0
        if tp > 1 and self.device.link_bytes_s > 0:
            msg = tokens * spec.hidden_size * 2  # bf16 activations
            ring = 2 * (tp - 1) / tp * msg / self.device.link_bytes_s  # ring all-reduce volume
            t_comm = 2 * spec.num_layers * (ring + self.device.link_latency_s)
        t_pp = (self.pp - 1) * (self.device.link_latency_s + tokens * spec.hidden_size * 2 / 25e9)
        return t_roof + t_comm + t_pp + self.eff.step_overhead_ms * 1e-3

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
