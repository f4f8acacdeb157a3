"""NVIDIA TensorRT-LLM (`trtllm-serve`): sized by `garrison estimate`; the planner does not pick it and
the bundle has no templates for it yet."""

from __future__ import annotations

from garrison.engines import vllm
from garrison.engines.profile import EngineProfile

PROFILE = EngineProfile(
    name="trtllm",
    title="TensorRT-LLM",
    aliases=("tensorrt-llm", "trtllm-serve", "nim"),
    scheduler="vllm",  # in-flight batching over paged KV blocks
    memory_model="utilisation",
    # KvCacheConfig.free_gpu_memory_fraction 0.9 (of the memory left after weights): sized like vLLM
    memory_fraction=0.90,
    kv_block_tokens=16,
    default_kv_dtype="bf16",
    checkpoint_kv_dtype=True,
    weight_families=frozenset({"float", "fp8", "int8", "gptq", "awq", "nvfp4", "mxfp4"}),
    batching=vllm.default_batching,
    reasons="TensorRT-LLM: NVIDIA's compiled engines, fastest on NVIDIA GPUs",
)
