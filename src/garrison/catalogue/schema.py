"""Typed rows of the catalogue. Every row carries `source` and `as_of`; keys carry their units."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Row(BaseModel):
    """Common fields: a stable id, names people type, and provenance."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    name: str
    aliases: tuple[str, ...] = ()
    source: str = Field(min_length=3)
    as_of: str = Field(pattern=r"^\d{4}(-\d{2}(-\d{2})?|-Q[1-4])?$")


class PriceRange(BaseModel):
    """A dated price range in US dollars."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    low_usd: float = Field(gt=0)
    high_usd: float = Field(gt=0)
    kind: Literal["new", "used", "msrp", "list", "street", "estimate"] = "street"
    as_of: str
    source: str


class Interconnect(BaseModel):
    """Scale-up link between GPUs of one server."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["nvlink", "pcie", "infinity-fabric", "unified", "none"]
    # per GPU, one direction, GB/s (marketed NVLink "900 GB/s" bidirectional -> 450)
    bw_gbps_per_direction: float = Field(gt=0)
    max_gpus_per_node: int = Field(ge=1, default=8)


class GPU(Row):
    """An accelerator as a sizing engine needs it."""

    vendor: Literal["nvidia", "amd", "apple", "intel"]
    arch: str
    segment: Literal["datacenter", "workstation", "consumer", "apple"]
    memory_gb: float = Field(gt=0)  # marketed, decimal GB
    # what the engine sees as total device memory (torch.cuda.mem_get_info total), GiB
    usable_memory_gib: float = Field(gt=0)
    mem_bw_gbps: float = Field(gt=0)
    bf16_dense_tflops: float = Field(gt=0)
    fp8_dense_tflops: float | None = None
    int8_dense_tops: float | None = None
    fp4_dense_tflops: float | None = None
    tdp_w: float = Field(gt=0)
    interconnect: Interconnect
    pcie_slots: int = Field(ge=0, default=2)  # physical slot width of the card (0 for SXM/OAM/SoC)
    price: PriceRange | None = None


class CPU(Row):
    """A server CPU (one socket) for llama.cpp-style inference and for host sizing."""

    vendor: Literal["amd", "intel", "ampere", "apple"]
    cores: int = Field(ge=1)
    base_ghz: float = Field(gt=0, le=7)  # all-core base clock; the CPU speed model scales with it
    memory_channels: int = Field(ge=1)
    memory_mts: int = Field(ge=1000)  # DDR transfer rate, MT/s
    # theoretical = channels x MT/s x 8 bytes; STREAM-like sustained is lower (see sizing.cpu)
    mem_bw_gbps: float = Field(gt=0)
    isa: tuple[str, ...] = ()  # avx2, avx512, avx512_bf16, amx, neon, sve ...
    # peak dense matmul throughput llama.cpp can reach for prompt processing, TFLOPS (bf16/int8 path)
    matmul_tflops: float = Field(gt=0)
    tdp_w: float = Field(gt=0)
    sockets_max: int = Field(ge=1, default=2)
    price: PriceRange | None = None


class QuantFormat(Row):
    """A weight format and its real storage cost including scales and zero points."""

    family: Literal["float", "fp8", "int8", "gptq", "awq", "mxfp4", "nvfp4", "gguf"]
    bits_per_weight: float = Field(gt=0, le=32)
    # which precision the GEMMs run in on a GPU that supports it: decides the compute roofline
    compute: Literal["bf16", "fp16", "fp8", "int8", "fp4", "cpu"]
    engines: tuple[str, ...]
    min_arch: str | None = None  # e.g. "hopper" for fp8 W8A8 at full rate, "blackwell" for nvfp4


class ModelEntry(Row):
    """An open-weight model: facts plus the name of its config file in data/model_configs/."""

    hf_id: str
    config_file: str  # data/model_configs/<file>.json (a copy of the HF config.json)
    params_total_b: float = Field(gt=0)
    params_active_b: float = Field(gt=0)
    license: str  # as the source states it, with caveats
    # The licence as an id (SPDX, lowercase, or the Hugging Face licence id where SPDX has none:
    # llama3.1, gemma, qwen, deepseek, modified-mit, mnpl) and how sure the catalogue is of it:
    # seen = read in a source when the row was written; recall = from the model card as remembered;
    # inferred = assumed from the model family; unknown = not established (never recommended).
    licence_id: str = Field(default="", pattern=r"^[a-z0-9.+-]*$")
    licence_status: Literal["seen", "recall", "inferred", "unknown"] = "unknown"
    context_max: int = Field(ge=512)
    fim: bool = False
    use_cases: tuple[Literal["chat", "code", "batch", "reasoning", "vision"], ...] = ("chat",)
    native_dtype: Literal["bf16", "fp16", "fp8", "mxfp4", "nvfp4", "int4"] = "bf16"
    release: str = ""


class Platform(Row):
    """A serving engine or front end and what it is good for."""

    kind: Literal["engine", "frontend", "assistant"]
    vendors: tuple[Literal["nvidia", "amd", "apple", "intel", "cpu"], ...]
    quant_families: tuple[str, ...]
    features: tuple[str, ...]
    maintenance: Literal["active", "maintenance-mode", "archived"]
    maintenance_note: str = ""
    openai_compatible: bool = True
    metrics_prefix: str = ""  # Prometheus metric prefix, e.g. "vllm:" / "sglang:" / "llamacpp:"
    image: str = ""  # container image repository (tag pinned in data, digest at pack time)
    image_tag: str = ""
    license: str = ""


class CloudPrice(Row):
    """A cloud API list price per million tokens."""

    provider: str
    model: str
    input_usd_per_mtok: float = Field(ge=0)
    output_usd_per_mtok: float = Field(ge=0)
    cached_input_usd_per_mtok: float | None = None
    batch_discount: float | None = Field(default=None, ge=0, le=1)  # fraction off list for batch APIs


AS_OF_PATTERN = r"^\d{4}(-\d{2}(-\d{2})?|-Q[1-4])?$"


class _Fact(BaseModel):
    """A sourced, dated fact that is not an id-keyed catalogue row."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(min_length=3)
    as_of: str = Field(pattern=AS_OF_PATTERN)


class QualityScore(_Fact):
    """One model's score on the catalogue's quality index (data/model_quality.yaml)."""

    model: str  # catalogue model id
    score: float = Field(ge=0, le=100)
    variant: str = ""  # e.g. "reasoning (high)": which setting of the model the index scored
    approx: bool = False  # the source gives "~score"


# What a quality index is used for: a use case's kind, or `code-fim` for code completion with
# fill-in-the-middle (a code use case with `fim: true`).
QualityUse = Literal["chat", "batch", "code", "code-fim"]


class QualityIndex(BaseModel):
    """One public benchmark index, the use cases it ranks models for, and its scores."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    index: str = Field(pattern=r"^[a-z0-9][a-z0-9.-]*$")
    index_name: str
    index_url: str
    metric: str  # what a score measures, e.g. "exact match %"
    applies_to: tuple[QualityUse, ...] = Field(min_length=1)
    default_floor: float = Field(ge=0, le=100)  # used when a use case states no quality_floor
    # Scores closer than this are not distinguishable on this index (its stated or computed 95 % interval);
    # the recommendation then takes the least expensive of them.
    tie_margin: float = Field(default=0.0, ge=0, le=20)
    scores: tuple[QualityScore, ...]


class QualityIndices(BaseModel):
    """data/model_quality.yaml: one index per kind of use (their scores are never compared)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    indices: tuple[QualityIndex, ...] = Field(min_length=1)


class CheckpointEntry(_Fact):
    """A published checkpoint of a model in a format other than its own release (data/checkpoints.yaml)."""

    model: str  # catalogue model id
    format: str  # quant format id
    repo: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
    revision: str = "main"
    file: str | None = None
    publisher: Literal["official", "community"]


class LeadTime(_Fact):
    """Weeks from order to delivery for a GPU (catalogue id) or a server class (data/lead_times.yaml)."""

    item: str
    weeks_low: float = Field(ge=0, le=260)
    weeks_high: float = Field(ge=0, le=260)
