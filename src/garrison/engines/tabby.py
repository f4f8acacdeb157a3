"""TabbyML (`tabby serve`): code completion server for IDEs, llama.cpp inside.

Flags: TabbyML docs "tabby serve --help" (tabby.tabbyml.com/docs), read 2026-12.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from garrison.engines import llamacpp
from garrison.engines.container import model_path_in_container
from garrison.engines.profile import NO_METRICS, Cluster, EngineProfile, Launch

if TYPE_CHECKING:
    from garrison.design import Deployment

PORT = 8080


def args(dep: Deployment, cluster: Cluster) -> list[str]:
    """`tabby serve`: code completion (--model) or chat (--chat-model) from a local model folder."""
    del cluster
    flag = "--model" if dep.kind == "code" else "--chat-model"
    return [
        "serve",
        flag,
        model_path_in_container(dep, PROFILE),
        "--port",
        str(PORT),
        "--device",
        "cuda" if dep.device_kind == "gpu" else "cpu",
        "--parallelism",
        str(dep.max_num_seqs),
    ]


PROFILE = EngineProfile(
    name="tabby",
    title="TabbyML",
    aliases=("tabbyml", "tabbyml/tabby"),
    scheduler="llamacpp",  # its model server is llama.cpp's, with --parallelism slots
    memory_model="context_upfront",
    memory_fraction=1.0,
    kv_block_tokens=1,
    default_kv_dtype="fp16",
    weight_families=frozenset({"gguf"}),
    gpu_kernels="ggml",
    pipeline_parallel=False,
    fixed_slots=True,
    cuda_graphs=False,
    runs_on_cpu=True,
    batching=llamacpp.default_batching,
    reasons="TabbyML: self-hosted code completion with its own IDE plugins and repository context",
    launch=Launch(
        port=PORT,
        entrypoint=("/opt/tabby/bin/tabby",),
        args=args,
        health_path="/v1/health",
        metrics_path=None,
        metrics=NO_METRICS,  # TabbyML exports no Prometheus metrics; only its health endpoint is watched
        env={"TABBY_DISABLE_USAGE_COLLECTION": "1", "TABBY_ROOT": "/data"},
        image_key="tabby",
        read_only_root=False,  # writes its index and events under TABBY_ROOT and its home
        data_dir="/data",  # TABBY_ROOT
    ),
)
