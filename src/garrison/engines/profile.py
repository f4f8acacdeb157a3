"""`EngineProfile`: every fact Garrison uses about one serving engine, in one place.

Sizing reads the memory model and batching defaults, the planner the formats and reasons, the
simulator the scheduler kind, and the renderer the image, port, metrics, offline environment and the
function that turns a sized deployment into the engine's command line. Nothing else compares
engine names: it asks the profile.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from garrison.design import Deployment

Scheduler = Literal["vllm", "sglang", "llamacpp"]
# How the engine decides its KV cache size (sizing/engine_memory.py implements each):
#   utilisation     - a share of the device, minus weights, the profiling run's activation peak and
#                     non-torch memory (vLLM `gpu_memory_utilization`);
#   static_pool     - a static pool of the device for weights + KV; activations live outside it
#                     (SGLang `mem_fraction_static`);
#   context_upfront - KV for exactly n_ctx tokens is allocated at start (llama.cpp `-c`).
MemoryModel = Literal["utilisation", "static_pool", "context_upfront"]
# Which efficiency factors the roofline uses on GPUs: the engine's own fused kernels, or ggml's
# dequantise-then-GEMM path (sizing/efficiency.py `llamacpp_gpu_*`).
GpuKernels = Literal["native", "ggml"]


@dataclass(frozen=True)
class EngineMetrics:
    """Real Prometheus series names an engine exports (None: the engine has no such series)."""

    queue: str | None  # requests waiting for a slot
    running: str | None
    e2e_bucket: str | None  # end-to-end latency histogram, seconds
    ttft_bucket: str | None
    itl_bucket: str | None
    kv_usage: str | None  # KV cache fill, 0..1
    generation_tokens: str | None  # counter
    http_requests: str | None  # counter with a `status` label ("2xx", "5xx")


NO_METRICS = EngineMetrics(None, None, None, None, None, None, None, None)


@dataclass(frozen=True)
class Cluster:
    """Where one replica's process sits when a replica spans nodes (LeaderWorkerSet)."""

    nodes: int = 1
    node_rank: str = ""  # "0" for the leader, "$(LWS_WORKER_INDEX)" for workers
    leader: str = ""  # host:port of the leader's rendezvous


ArgsFn = Callable[["Deployment", Cluster], list[str]]
# (image:tag, device kind "gpu"/"cpu", GPU vendor or None) -> the build of that image for the device
ImageVariantFn = Callable[[str, str, "str | None"], str]


def same_image(image: str, device_kind: str, vendor: str | None) -> str:
    """One image for every device (the engine's image picks its backend at run time)."""
    del device_kind, vendor
    return image


@dataclass(frozen=True)
class KServeTemplate:
    """What KServe's well-known LLMInferenceService template (`kserve-config-llm-template`,
    config/llmisvcconfig in kserve/kserve v0.20.0) already passes to the engine: it starts
    `vllm serve /mnt/models --served-model-name <spec.model.name> publishers/<ns>/models/<name>
    --port 8000 [--tensor-parallel-size <spec.parallelism.tensor>] [TLS flags] "$@"`, so the
    container's `args` carry only Garrison's sized flags without these."""

    port: int  # the port the template serves on and KServe's InferencePool targets
    template_flags: tuple[str, ...]  # flags (with one value each) the template sets itself
    model_mount: str = "/mnt/models"  # where KServe mounts spec.model.uri (read-only for pvc://)


@dataclass(frozen=True)
class Launch:
    """How the bundle starts the engine: container, port, probes, metrics, command line."""

    port: int
    entrypoint: tuple[str, ...]
    args: ArgsFn  # the sized deployment -> the arguments after the entrypoint
    health_path: str
    metrics_path: str | None
    metrics: EngineMetrics
    env: dict[str, str]  # engine-specific offline / telemetry-off switches
    image_key: str  # row of data/bundle_images.yaml when neither design nor catalogue pins one
    gpu_image_key: str | None = None  # a separate GPU build of the image, if the project ships one
    image_variant: ImageVariantFn = same_image
    read_only_root: bool = True  # runs with a read-only root filesystem (writable /tmp only)
    data_dir: str | None = None  # a writable scratch folder the engine needs besides /tmp
    # a replica across nodes: "ray" starts a Ray cluster that the leader's engine drives (vLLM);
    # "native" runs the engine on every node with its own rank flags (SGLang --nnodes/--node-rank)
    multi_node: Literal["ray", "native"] = "native"
    # Whether the gateway may keep idle connections to the engine open for reuse (nginx keepalive)
    upstream_keepalive: bool = True
    # KServe LLMInferenceService / llm-d runs this engine from its well-known template; None: it does not
    kserve: KServeTemplate | None = None
    # How the engine takes the key it then requires on its API (the second lock behind the gateway):
    # an environment variable (kept out of the command line), else a flag; neither: no static key
    api_key_env: str | None = None
    api_key_flag: str | None = None


@dataclass(frozen=True)
class EngineProfile:
    """One serving engine: defaults Garrison sizes with, and how the bundle runs it."""

    name: str  # the id in designs and requirements ("vllm", "llama.cpp")
    title: str
    aliases: tuple[str, ...]
    scheduler: Scheduler
    memory_model: MemoryModel
    # the share of device memory the engine takes by default (vLLM gpu_memory_utilization, SGLang
    # mem_fraction_static); 1.0 where the engine has no such knob
    memory_fraction: float
    kv_block_tokens: int  # KV allocation granularity (paged blocks); 1 = per token
    default_kv_dtype: str  # KV dtype when the weights' dtype decides ("auto")
    weight_families: frozenset[str]  # quant_formats.yaml families it loads
    gpu_kernels: GpuKernels = "native"
    pipeline_parallel: bool = True
    fixed_slots: bool = False  # a fixed number of slots share one context of max_model_len x slots
    single_file_model: bool = False  # loads one file (a .gguf), not a model folder
    cuda_graphs: bool = True
    runs_on_cpu: bool = False
    # (max_num_batched_tokens, max_num_seqs) the engine picks for a device of this much memory;
    # None for a CPU host
    batching: Callable[[float | None], tuple[int, int]] = field(default=lambda gib: (2048, 256))
    reasons: str = ""
    launch: Launch | None = None  # None: the bundle has no templates for this engine

    @property
    def renders(self) -> bool:
        """Whether the bundle can deploy this engine."""
        return self.launch is not None

    def loads(self, family: str) -> bool:
        """Whether the engine loads weights of this quant format family."""
        return family in self.weight_families

    def context_tokens(self, max_model_len: int, max_num_seqs: int) -> int:
        """Tokens of KV the engine holds for one replica at its configured limits: fixed-slot
        engines allocate max_model_len per slot up front; others share a pool sized by memory."""
        return max_model_len * max_num_seqs if self.fixed_slots else max_model_len
