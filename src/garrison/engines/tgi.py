"""Hugging Face Text Generation Inference: sized by `garrison estimate`, never planned or rendered
(archived since 2026-03; see data/platforms.yaml)."""

from __future__ import annotations

from garrison.engines import vllm
from garrison.engines.profile import EngineProfile

PROFILE = EngineProfile(
    name="tgi",
    title="Text Generation Inference (TGI)",
    aliases=("text-generation-inference", "huggingface tgi"),
    scheduler="vllm",  # continuous batching over paged KV blocks
    memory_model="utilisation",
    memory_fraction=0.90,
    kv_block_tokens=16,
    default_kv_dtype="bf16",
    weight_families=frozenset({"float", "fp8", "gptq", "awq"}),
    batching=vllm.default_batching,
    reasons="TGI: in maintenance mode since 2025-12 and archived; keep existing deployments pinned",
)
