"""What an engine leaves for the KV cache on each GPU, the way the engine itself computes it."""

from __future__ import annotations

from dataclasses import dataclass

from garrison.engines import EngineProfile
from garrison.engines.llamacpp import MICRO_BATCH
from garrison.modelspec.spec import ModelSpec
from garrison.sizing.units import GIB

# The engines' own defaults (memory fraction, batching limits, KV dtype) live in their profiles
# (garrison/engines/); this module holds the physics of how each memory model splits a device.


@dataclass(frozen=True)
class EngineMemory:
    """Per-GPU memory split, bytes."""

    total: float
    budget: float  # the engine's share (utilisation x total)
    weights: float
    activations: float
    runtime: float
    kv: float  # for KV cache and fixed state; negative means it does not start

    @property
    def free(self) -> float:
        return self.total - self.budget


# Fitted by least squares to the vLLM start-up logs in data/calibration_points.yaml (Llama-3.1-8B on
# RTX 3090, gpt-oss-20b, Llama-3.3-70B-FP8 and Qwen3-32B on H100): residuals -9%, -2%, +5%, +1%,
# before the fused-MoE scratch (moe_workspace_bytes) was added, which moves gpt-oss-20b's KV by -1.1%.
ACT_HIDDEN_COPIES = 5.07  # bf16 copies of the hidden state live per scheduled token at the peak
SAMPLER_LOGIT_COPIES = 9.12  # fp32 (max_num_seqs x vocab) buffers the dummy sampler run holds


# vLLM's fused-MoE kernels process at most this many tokens per call (VLLM_FUSED_MOE_CHUNK_SIZE,
# runtime default 32768 in vllm/envs.py)
FUSED_MOE_CHUNK_TOKENS = 32768


def moe_workspace_bytes(spec: ModelSpec, tokens: int, tp: int, act_bytes: float = 2.0) -> float:
    """Scratch the fused-MoE layer allocates for one forward of `tokens` tokens, per GPU.

    vLLM's `fused_experts_impl` (vllm/model_executor/layers/fused_moe/fused_moe.py; SGLang's
    fused_moe_triton adapts the same code) holds, for M = min(tokens, chunk) tokens routed to k
    experts each: `cache13` of M x k x max(N, K) elements, shared by the gate/up output and the down
    output, and `intermediate_cache2` of M x k x N/2 for the activation, live at the same time; N is
    the gate+up width per rank (2 x expert intermediate / tp) and K the width the experts read (the
    hidden size, or the latent width of a latent MoE). The profiling run's forward meets it in every
    MoE layer, so it is part of the activation peak. Dense models: 0.
    """
    moe = spec.moe
    if moe is None:
        return 0.0
    n = 2 * moe.expert_intermediate_size / max(1, tp)
    k_width = moe.latent_size or spec.hidden_size
    m = min(tokens, FUSED_MOE_CHUNK_TOKENS)
    return m * moe.experts_per_token * (max(n, k_width) + n / 2) * act_bytes


def activation_peak_bytes(
    spec: ModelSpec,
    max_num_batched_tokens: int,
    max_num_seqs: int,
    tp: int,
    act_bytes: float = 2.0,
    fused_moe: bool = True,
) -> float:
    """Peak activation memory of the engine's profiling run, per GPU.

    vLLM V1 profiles a forward pass of `max_num_batched_tokens` tokens and then a dummy sampler
    run over `max_num_seqs` sequences, and keeps the torch peak (gpu_worker.py
    `determine_available_memory`). Two terms dominate:
      tokens x hidden x 2 B x c_h    - residual stream, norms and attention outputs; the MLP's
                                       intermediate is produced and consumed in chunks, so the fit
                                       finds no separate intermediate-size term;
      seqs x vocab x 4 B x c_s       - fp32 logits and the sampler's sort / top-k / top-p copies.
    `tp` does not divide either: hidden states are replicated on every rank and each rank samples.
    MoE models add the fused-MoE scratch (`moe_workspace_bytes`, `fused_moe`: the engine runs that
    kernel; llama.cpp's compute buffer is sized apart).
    """
    per_token = act_bytes * ACT_HIDDEN_COPIES * spec.hidden_size
    sampler = max_num_seqs * spec.vocab_size * 4 * SAMPLER_LOGIT_COPIES
    moe = moe_workspace_bytes(spec, max_num_batched_tokens, tp, act_bytes) if fused_moe else 0.0
    return max_num_batched_tokens * per_token + sampler + moe


def runtime_bytes(engine: EngineProfile, tp: int, cuda_graphs: bool | None = None) -> float:
    """Memory outside torch's allocator and CUDA graphs, per GPU (`cuda_graphs` None: the engine's
    default; False: --enforce-eager, or graphs captured after the KV cache is sized).

    Observed in vLLM logs: non-torch memory 0.13-0.45 GiB (CUDA context excluded, NCCL buffers
    included under TP), CUDA graphs 0.4-0.6 GiB. llama.cpp: CUDA/Metal context and compute buffers.
    """
    if engine.memory_model == "context_upfront":
        return 0.5 * GIB
    nccl = 0.25 * GIB if tp > 1 else 0.0
    graphs = 0.4 * GIB if (engine.cuda_graphs if cuda_graphs is None else cuda_graphs) else 0.0
    return 0.15 * GIB + nccl + graphs


def engine_memory(
    *,
    engine: EngineProfile,
    spec: ModelSpec,
    total_bytes: float,
    weights_bytes: float,
    tp: int,
    memory_fraction: float,
    max_num_batched_tokens: int,
    max_num_seqs: int,
    cuda_graphs: bool | None = None,
) -> EngineMemory:
    """Per-GPU split under the engine's memory model; `memory_fraction` is the engine's share knob.

    utilisation (vLLM): kv = utilisation x total - weights - activation peak - non-torch - CUDA graphs
    (vllm/v1/worker/gpu_worker.py `determine_available_memory`).
    static_pool (SGLang): the static pool is mem_fraction_static x total; kv = pool - weights - the
    fraction of the context and communicators (SGLang takes its share of what is free once they are
    up); activations and
    graphs live in the remaining (1 - fraction) (sglang/srt/model_executor/model_runner.py
    `profile_max_num_token`).
    context_upfront (llama.cpp): no fraction; the whole device minus weights, compute buffers and context.
    """
    if engine.memory_model == "static_pool":
        # SGLang measures the memory it may use after the CUDA context and the communicators are up
        # (ModelRunner.init_torch_distributed), and keeps (1 - fraction) of that free
        started = runtime_bytes(engine, tp, cuda_graphs=False)
        budget = memory_fraction * total_bytes
        act = activation_peak_bytes(spec, max_num_batched_tokens, max_num_seqs, tp)
        rt = runtime_bytes(engine, tp, cuda_graphs)
        kv = budget - weights_bytes - memory_fraction * started
        # the rest must hold activations and graphs, or SGLang OOMs at first big batch
        if total_bytes - budget < act + rt:
            kv -= act + rt - (total_bytes - budget)
        return EngineMemory(total_bytes, budget, weights_bytes, act, rt, kv)
    if engine.memory_model == "context_upfront":
        budget = total_bytes
        # compute buffer for a 512-token micro-batch (n_ubatch) in fp32, and one row of logits
        act = activation_peak_bytes(spec, MICRO_BATCH, 1, tp, act_bytes=4.0, fused_moe=False)
        rt = runtime_bytes(engine, tp, cuda_graphs)
        return EngineMemory(total_bytes, budget, weights_bytes, act, rt, budget - weights_bytes - act - rt)
    budget = memory_fraction * total_bytes
    act = activation_peak_bytes(spec, max_num_batched_tokens, max_num_seqs, tp)
    rt = runtime_bytes(engine, tp, cuda_graphs)
    return EngineMemory(total_bytes, budget, weights_bytes, act, rt, budget - weights_bytes - act - rt)
