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
# RTX 3090, gpt-oss-20b, Llama-3.3-70B-FP8 and Qwen3-32B on H100): residuals -9%, -2%, +5%, +1%.
ACT_HIDDEN_COPIES = 5.07  # bf16 copies of the hidden state live per scheduled token at the peak
SAMPLER_LOGIT_COPIES = 9.12  # fp32 (max_num_seqs x vocab) buffers the dummy sampler run holds


def activation_peak_bytes(
    spec: ModelSpec, max_num_batched_tokens: int, max_num_seqs: int, tp: int, act_bytes: float = 2.0
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
    """
    del tp
    per_token = act_bytes * ACT_HIDDEN_COPIES * spec.hidden_size
    sampler = max_num_seqs * spec.vocab_size * 4 * SAMPLER_LOGIT_COPIES
    return max_num_batched_tokens * per_token + sampler


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
        act = activation_peak_bytes(spec, MICRO_BATCH, 1, tp, act_bytes=4.0)
        rt = runtime_bytes(engine, tp, cuda_graphs)
        return EngineMemory(total_bytes, budget, weights_bytes, act, rt, budget - weights_bytes - act - rt)
    budget = memory_fraction * total_bytes
    act = activation_peak_bytes(spec, max_num_batched_tokens, max_num_seqs, tp)
    rt = runtime_bytes(engine, tp, cuda_graphs)
    return EngineMemory(total_bytes, budget, weights_bytes, act, rt, budget - weights_bytes - act - rt)
