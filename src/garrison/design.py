"""The Design: the hub every renderer, report, store and check consumes. Versioned JSON schema."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from garrison.requirements import Requirements

DESIGN_SCHEMA_VERSION: Literal[1] = 1


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(Frozen):
    """A value that is honestly a range (low <= expected <= high)."""

    low: float
    expected: float
    high: float


class MemoryBreakdown(Frozen):
    """Per-GPU (or per-host for CPU) memory, GiB."""

    total_gib: float
    usable_gib: float  # what the engine is allowed to take (e.g. gpu_memory_utilization x total)
    weights_gib: float
    activations_gib: float  # peak of the engine's profiling run
    runtime_gib: float  # CUDA context, NCCL buffers, CUDA graphs, non-torch allocations
    kv_cache_gib: float  # what is left for KV cache and fixed per-sequence state
    free_gib: float  # memory outside the engine's share


class Estimate(Frozen):
    """One configuration's memory and speed; the `garrison estimate --json` object."""

    fits: bool
    reason: str
    model: str
    device: str  # GPU id or CPU id
    device_kind: Literal["gpu", "cpu"]
    engine: str
    quant: str
    kv_dtype: str
    gpus: int  # the whole system
    tp: int
    pp: int
    replicas: int
    max_model_len: int
    max_num_seqs: int
    max_num_batched_tokens: int
    weights_gib_per_gpu: float
    kv_cache_gib_per_gpu: float
    kv_cache_tokens: int  # per replica
    kv_bytes_per_token: float  # whole model, all layers (per replica)
    fixed_state_bytes_per_seq: float  # linear-attention / SSM state per sequence (per replica)
    max_concurrency: float  # KV tokens / max model len, per replica (as vLLM prints it)
    concurrency: int  # sequences per replica the speed numbers below assume
    input_len: int
    output_len: int
    prefill_tokens_per_s: float  # per replica, at input_len
    decode_tokens_per_s_single: float  # one sequence alone
    output_tokens_per_s: float  # whole system at the concurrency
    ttft_ms: float
    itl_ms: float
    memory: MemoryBreakdown
    ranges: dict[str, Range] = {}
    assumptions: tuple[str, ...] = ()


class LoadPoint(Frozen):
    """One point of a simulated or measured load curve."""

    rate_rpm: float
    ttft_p95_ms: float
    itl_p95_ms: float
    e2e_p95_ms: float
    output_tokens_per_s: float
    mean_waiting: float  # time-averaged requests queued on one replica (the replicas' mean)
    mean_running: float  # time-averaged requests running on one replica
    preemptions: int = 0


class ScalingTriggers(Frozen):
    """Thresholds for alert rules and the capacity runbook, with the load at which each fires."""

    gpu_utilization_pct: float = 85
    queue_depth: float = 5
    p95_latency_s: float = 5
    vram_pct: float = 90
    error_rate_pct: float = 1
    sustained_for: str = "10m"
    rpm_at_queue_trigger: float | None = None  # simulated load at which the queue trigger fires
    rpm_at_latency_trigger: float | None = None


class Alternative(Frozen):
    summary: str
    annual_cost_usd: float
    capex_usd: Range | None = None
    why_lost: str


class Checkpoint(Frozen):
    """The exact weights to fetch for a deployment: a Hugging Face repo at a revision, in one format."""

    repo: str  # e.g. "Qwen/Qwen3-32B-FP8", "unsloth/Qwen3-8B-GGUF"
    revision: str = "main"  # a commit sha or tag when the catalogue pins one
    format: str  # quant format id the engine loads it as: bf16, fp8, mxfp4, nvfp4, awq, q4_k_m ...
    file: str | None = None  # one file of the repo (a GGUF), None for the whole repo
    size_gib: float | None = None  # download size when known
    source: str = ""  # where the repo/revision fact comes from


class SLOCheck(Frozen):
    """The continuous-batching simulation's verdict for one deployment at its design load."""

    rate_rpm: float  # the design load the simulation ran at
    ttft_p95_ms: float
    itl_p95_ms: float
    e2e_p95_ms: float
    meets: bool  # every target of the use case held at rate_rpm
    capacity_rpm: float | None = None  # the highest simulated rate that still meets every target
    failed: tuple[str, ...] = ()  # which targets were missed, e.g. "ttft_p95 3,120 ms > 2,000 ms"


class Deployment(Frozen):
    """How one use case is served."""

    use_case: str
    kind: Literal["chat", "code", "batch"]
    model_id: str  # catalogue id, or a path for local models
    model_name: str  # what clients pass as `model`
    model_path: str | None = None  # local folder / .gguf the operator provided
    engine: str
    engine_image: str
    quant: str
    kv_dtype: str
    device: str  # gpu or cpu id
    device_kind: Literal["gpu", "cpu"]
    gpus_per_replica: int
    tp: int
    pp: int
    replicas: int
    nodes_per_replica: int = 1
    max_model_len: int
    max_num_seqs: int
    max_num_batched_tokens: int
    gpu_memory_utilization: float
    fim: bool = False
    requests_per_minute: float
    concurrent_requests: int
    input_tokens: int
    output_tokens: int
    ttft_p95_target_ms: float | None = None
    itl_p95_target_ms: float | None = None
    estimate: Estimate
    load_curve: tuple[LoadPoint, ...] = ()
    triggers: ScalingTriggers = ScalingTriggers()
    reasons: tuple[str, ...] = ()
    alternatives: tuple[Alternative, ...] = ()
    licence: str = ""  # SPDX id of the model's licence (catalogue), "" when unknown
    checkpoint: Checkpoint | None = None
    slo_check: SLOCheck | None = None
    # unique name of this deployment (the use case's name, suffixed with the model's when a use case
    # lists several models); "" in designs written before it existed: use `use_case` then
    name: str = ""


class Server(Frozen):
    """One server type in the bill of materials."""

    name: str
    role: str  # inference | gateway | monitoring
    count: int
    gpu: str | None
    gpus_per_server: int
    cpu: str
    cpu_sockets: int
    ram_gib: int
    nvme_tb: float
    network: str
    psu_w: int  # per server, with redundancy and margin
    power_typical_w: float  # per server
    power_max_w: float
    cooling_btu_h: float  # per server at max draw
    rack_units: int
    price_usd: Range | None = None
    hosts: tuple[str, ...] = ()  # which deployments run here
    notes: tuple[str, ...] = ()
    owned: bool = False  # the organisation already has these servers: not in capex, no maintenance


class CostedOption(Frozen):
    """One way out of an escalation, re-planned: what it costs and whether it then meets the targets."""

    option: str  # in words, e.g. "serve qwen3-8b instead"
    change: str  # the requirements edit that does it, e.g. "use_cases[chat].models: [qwen3-8b]"
    summary: str = ""  # what the re-plan chose
    capex_usd: Range | None = None
    annual_opex_usd: float | None = None
    meets_targets: bool | None = None  # every simulated target held (None: not re-planned)
    fits_budget: bool | None = None  # capex within budget.capex_usd (None: no budget stated)
    resolves: bool | None = None  # the re-planned design no longer raises this escalation


class Escalation(Frozen):
    kind: Literal[
        "budget", "model-too-large", "security", "latency", "capacity", "data", "site", "schedule", "licence"
    ]
    field: str
    problem: str
    options: tuple[str, ...]
    costed_options: tuple[CostedOption, ...] = ()


class Costs(Frozen):
    capex_usd: Range
    annual_power_usd: float
    annual_maintenance_usd: float
    annual_opex_usd: float
    three_year_tco_usd: Range
    horizon_months: int | None = None  # requirements.growth.horizon_months: the one horizon of the design
    tco_usd: Range | None = None  # capex + horizon x opex, over horizon_months
    owned_hardware: tuple[str, ...] = ()  # kit the design reuses (not in capex), in words


class Design(Frozen):
    """A complete, justified platform design."""

    schema_version: Literal[1] = DESIGN_SCHEMA_VERSION
    garrison_version: str
    name: str
    requirements: Requirements
    deployments: tuple[Deployment, ...]
    servers: tuple[Server, ...]
    platform_reasons: tuple[str, ...] = ()
    costs: Costs
    assumptions: tuple[str, ...] = ()
    escalations: tuple[Escalation, ...] = ()
    catalogue_as_of: str = ""
    calibration: str = "default"
    extra: dict[str, str] = Field(default_factory=dict)
