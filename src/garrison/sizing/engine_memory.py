"""What an engine leaves for the KV cache on each GPU, the way the engine itself computes it."""

from __future__ import annotations

from dataclasses import dataclass

from garrison.modelspec.spec import ModelSpec
from garrison.sizing.units import GIB

# Engine defaults, from the engines' source (read 2026-12):
#  - vLLM V1 `EngineArgs._set_default_args`: OpenAI server uses max_num_batched_tokens 8192 and
#    max_num_seqs 1024 on GPUs with >= 70 GiB (except A100), else 2048 and 256; gpu_memory_utilization 0.9.
#  - SGLang `ServerArgs`: mem_fraction_static ~0.88 on 80 GB-class GPUs, lower on small ones;
#    chunked_prefill_size 8192 (4096 on small GPUs); max_running_requests derived from the KV pool.
#  - llama.cpp server: KV for n_ctx tokens allocated at start, f16 K/V by default; n_batch 2048.
VLLM_DEFAULT_GPU_MEMORY_UTILIZATION = 0.90
SGLANG_DEFAULT_MEM_FRACTION_STATIC = 0.88


def vllm_default_batching(usable_memory_gib: float) -> tuple[int, int]:
    """(max_num_batched_tokens, max_num_seqs) vLLM V1's API server picks for a GPU size."""
    if usable_memory_gib >= 70:
        return 8192, 1024
    return 2048, 256


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


def activation_peak_bytes(
    spec: ModelSpec, max_num_batched_tokens: int, max_num_seqs: int, tp: int, act_bytes: float = 2.0
) -> float:
    """Peak activation memory of the engine's profiling forward pass, per GPU.

    vLLM profiles one forward pass of `max_num_batched_tokens` tokens and keeps the torch peak. The
    largest live tensors are the MLP's gate+up output (2 x I per token), its activation (I), the
    residual/hidden copies (~4 x H) and the attention QKV (q + 2 kv heads x head_dim), all split by
    TP except the hidden states; for MoE the fused kernel holds top-k intermediate rows per token.
    On top, the sampler materialises fp32 logits for up to `max_num_seqs` sequences
    (max_num_seqs x vocab x 4 bytes, x2 for the softmax copy). Calibrated against vLLM startup
    logs (calibration points vllm-log-*): see docs/accuracy.md.
    """
    inter = spec.intermediate_size
    if spec.moe is not None:
        moe = spec.moe
        inter = max(
            inter,
            moe.expert_intermediate_size * moe.experts_per_token
            + moe.shared_experts * moe.shared_intermediate_size,
        )
    qkv = (spec.num_attention_heads + 2 * spec.num_kv_heads) * spec.head_dim
    per_token = act_bytes * (3 * inter / tp + 4 * spec.hidden_size + qkv / tp)
    logits = max_num_seqs * spec.vocab_size / tp * 4 * 2
    return max_num_batched_tokens * per_token + logits


def runtime_bytes(engine: str, tp: int, cuda_graphs: bool = True) -> float:
    """Memory outside torch's allocator and CUDA graphs, per GPU.

    Observed in vLLM logs: non-torch memory 0.1-0.45 GiB (CUDA context excluded, NCCL buffers
    included under TP), CUDA graphs 0.4-0.6 GiB. llama.cpp: CUDA/Metal context and compute buffers.
    """
    if engine == "llama.cpp":
        return 0.5 * GIB
    nccl = 0.25 * GIB if tp > 1 else 0.0
    graphs = 0.5 * GIB if cuda_graphs else 0.0
    return 0.2 * GIB + nccl + graphs


def engine_memory(
    *,
    engine: str,
    spec: ModelSpec,
    total_bytes: float,
    weights_bytes: float,
    tp: int,
    gpu_memory_utilization: float,
    mem_fraction_static: float,
    max_num_batched_tokens: int,
    max_num_seqs: int,
) -> EngineMemory:
    """Per-GPU split for vLLM, SGLang or llama.cpp.

    vLLM: kv = utilisation x total - weights - activation peak - non-torch - CUDA graphs
    (vllm/v1/worker/gpu_worker.py `determine_available_memory`).
    SGLang: the static pool is mem_fraction_static x total; kv = pool - weights; activations and
    graphs live in the remaining (1 - fraction) (sglang/srt/model_executor/model_runner.py
    `profile_max_num_token`).
    llama.cpp: no fraction; the whole device minus weights, compute buffers and context.
    """
    if engine == "sglang":
        budget = mem_fraction_static * total_bytes
        act = activation_peak_bytes(spec, max_num_batched_tokens, max_num_seqs, tp)
        rt = runtime_bytes(engine, tp)
        kv = budget - weights_bytes
        # the rest must hold activations and graphs, or SGLang OOMs at first big batch
        if total_bytes - budget < act + rt:
            kv -= act + rt - (total_bytes - budget)
        return EngineMemory(total_bytes, budget, weights_bytes, act, rt, kv)
    if engine == "llama.cpp":
        budget = total_bytes
        act = activation_peak_bytes(spec, 512, 1, tp, act_bytes=4.0)  # ubatch 512 compute buffer
        rt = runtime_bytes(engine, tp)
        return EngineMemory(total_bytes, budget, weights_bytes, act, rt, budget - weights_bytes - act - rt)
    budget = gpu_memory_utilization * total_bytes
    act = activation_peak_bytes(spec, max_num_batched_tokens, max_num_seqs, tp)
    rt = runtime_bytes(engine, tp)
    return EngineMemory(total_bytes, budget, weights_bytes, act, rt, budget - weights_bytes - act - rt)
