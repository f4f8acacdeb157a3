"""Spot checks pinned to datasheet and measured numbers (exact: these are copied facts, not estimates)."""

from __future__ import annotations

import pytest

from garrison.catalogue import load_catalogue


@pytest.mark.parametrize(
    ("gpu_id", "field", "value"),
    [
        ("h100-sxm", "mem_bw_gbps", 3350),  # NVIDIA H100 datasheet, SXM column
        ("h100-sxm", "bf16_dense_tflops", 989),  # 1,979 with sparsity
        ("h100-sxm", "fp8_dense_tflops", 1979),
        ("h100-sxm", "tdp_w", 700),
        ("h100-pcie", "mem_bw_gbps", 2000),
        ("h200-sxm", "mem_bw_gbps", 4800),
        ("h200-sxm", "memory_gb", 141),
        ("b200", "fp4_dense_tflops", 9000),
        ("a100-80gb-sxm", "mem_bw_gbps", 2039),
        ("a100-80gb-pcie", "mem_bw_gbps", 1935),
        ("a100-40gb-sxm", "bf16_dense_tflops", 312),
        ("rtx-4090", "mem_bw_gbps", 1008),  # Ada whitepaper
        ("rtx-4090", "bf16_dense_tflops", 165.2),  # FP32 accumulate
        ("rtx-3090", "mem_bw_gbps", 936),
        ("rtx-5090", "mem_bw_gbps", 1792),
        ("l40s", "fp8_dense_tflops", 733),
        ("l4", "mem_bw_gbps", 300),
        ("mi300x", "mem_bw_gbps", 5300),
        ("mi300x", "bf16_dense_tflops", 1307.4),
        ("m3-ultra-512gb", "mem_bw_gbps", 819),
    ],
)
def test_gpu_datasheet_numbers(gpu_id: str, field: str, value: float) -> None:
    assert getattr(load_catalogue().gpus[gpu_id], field) == value


@pytest.mark.parametrize(
    ("gpu_id", "gib"),
    [
        ("rtx-3090", 23.58),  # vLLM log total_gpu_memory (calibration vllm-log-01)
        ("a100-40gb-sxm", 39.38),  # vLLM log, 4x A100 40GB
        ("h100-sxm", 79.18),  # vLLM logs 'NVIDIA H100' 79.18 GiB total
        ("h200-sxm", 139.8),  # measured on an H200: cuMemGetInfo total 150,109,880,320 B
    ],
)
def test_usable_memory_matches_engine_logs(gpu_id: str, gib: float) -> None:
    assert load_catalogue().gpus[gpu_id].usable_memory_gib == gib


def test_nvlink4_is_stored_per_direction() -> None:
    assert load_catalogue().gpu("h100").interconnect.bw_gbps_per_direction == 450  # 900 GB/s bidirectional


@pytest.mark.parametrize(
    ("model_id", "total", "active", "context"),
    [
        ("qwen3-next-80b-a3b-instruct", 80, 3, 262144),
        ("minimax-m2", 230, 10, 196608),
        ("glm-4.6", 355, 32, 202752),
        ("deepseek-v3", 671, 37, 163840),
        ("llama-3.1-8b-instruct", 8.03, 8.03, 131072),
    ],
)
def test_model_card_numbers(model_id: str, total: float, active: float, context: int) -> None:
    entry = load_catalogue().models[model_id]
    assert (entry.params_total_b, entry.params_active_b, entry.context_max) == (total, active, context)
