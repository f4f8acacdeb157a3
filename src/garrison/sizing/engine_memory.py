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
class VllmDefaults:
    """What a vLLM version does by default, as far as sizing sees it."""

    v1: bool  # the V1 engine (default from 0.8): CUDA graphs and a dummy sampler run are profiled
    chunked_prefill: bool  # prompt chunks share steps with decodes; else prefill-first steps
    max_num_batched_tokens: int
    max_num_seqs: int


def _version_tuple(version: str) -> tuple[int, int]:
    parts = [int("".join(ch for ch in p if ch.isdigit()) or 0) for p in version.split(".")[:2]]
    major, minor = [*parts, 0, 0][:2]
    return major, minor


def vllm_defaults(version: str | None, usable_memory_gib: float, max_model_len: int) -> VllmDefaults:
    """vLLM's defaults by version (None: the current one), from its SchedulerConfig / EngineArgs:
    - < 0.5.1: no chunked prefill; max_num_batched_tokens = max(max_model_len, 2048), so a whole
      prompt runs in one step and prefill steps come before decodes; max_num_seqs 256;
    - 0.5.1-0.7: V0 turns chunked prefill on by itself only for max_model_len > 32768, with a
      token budget of 512 (0.5.x) or 2048 (0.6-0.7); otherwise as above;
    - >= 0.8: the V1 engine, chunked prefill always, vllm_default_batching's budget.
    """
    if version is None or _version_tuple(version) >= (0, 8):
        mnbt, mns = vllm_default_batching(usable_memory_gib)
        return VllmDefaults(True, True, mnbt, mns)
    ver = _version_tuple(version)
    long_context = max_model_len > 32768
    if ver >= (0, 5) and long_context and not (ver == (0, 5) and version.startswith("0.5.0")):
        return VllmDefaults(False, True, 512 if ver < (0, 6) else 2048, 256)
    return VllmDefaults(False, False, max(max_model_len, 2048), 256)


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


def runtime_bytes(engine: str, tp: int, cuda_graphs: bool = True) -> float:
    """Memory outside torch's allocator and CUDA graphs, per GPU.

    Observed in vLLM logs: non-torch memory 0.13-0.45 GiB (CUDA context excluded, NCCL buffers
    included under TP), CUDA graphs 0.4-0.6 GiB. llama.cpp: CUDA/Metal context and compute buffers.
    """
    if engine == "llama.cpp":
        return 0.5 * GIB
    nccl = 0.25 * GIB if tp > 1 else 0.0
    graphs = 0.4 * GIB if cuda_graphs else 0.0
    return 0.15 * GIB + nccl + graphs


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
    cuda_graphs: bool = True,
) -> EngineMemory:
    """Per-GPU split for vLLM, SGLang or llama.cpp.

    vLLM: kv = utilisation x total - weights - activation peak - non-torch - CUDA graphs
    (vllm/v1/worker/gpu_worker.py `determine_available_memory`).
    SGLang: the static pool is mem_fraction_static x (total - context and communicators); kv = pool -
    weights; activations and
    graphs live in the remaining (1 - fraction) (sglang/srt/model_executor/model_runner.py
    `profile_max_num_token`).
    llama.cpp: no fraction; the whole device minus weights, compute buffers and context.
    """
    if engine == "sglang":
        # SGLang measures the memory it may use after the CUDA context and the communicators are up
        # (ModelRunner.init_torch_distributed), and keeps (1 - fraction) of that free
        started = runtime_bytes(engine, tp, cuda_graphs=False)
        budget = mem_fraction_static * (total_bytes - started)
        act = activation_peak_bytes(spec, max_num_batched_tokens, max_num_seqs, tp)
        rt = runtime_bytes(engine, tp, cuda_graphs)
        kv = budget - weights_bytes
        # the rest must hold activations and graphs, or SGLang OOMs at first big batch
        if total_bytes - budget < act + rt:
            kv -= act + rt - (total_bytes - budget)
        return EngineMemory(total_bytes, budget, weights_bytes, act, rt, kv)
    if engine == "llama.cpp":
        budget = total_bytes
        # compute buffer for a 512-token micro-batch (n_ubatch) in fp32, and one row of logits
        act = activation_peak_bytes(spec, 512, 1, tp, act_bytes=4.0)
        rt = runtime_bytes(engine, tp, cuda_graphs)
        return EngineMemory(total_bytes, budget, weights_bytes, act, rt, budget - weights_bytes - act - rt)
    budget = gpu_memory_utilization * total_bytes
    act = activation_peak_bytes(spec, max_num_batched_tokens, max_num_seqs, tp)
    rt = runtime_bytes(engine, tp, cuda_graphs)
    return EngineMemory(total_bytes, budget, weights_bytes, act, rt, budget - weights_bytes - act - rt)
