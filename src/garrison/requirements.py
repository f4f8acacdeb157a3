"""The organisation's requirements (YAML in), validated strictly: unknown keys are errors."""

from __future__ import annotations

import ipaddress
import re
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

UseCaseKind = Literal["chat", "code", "batch"]
Modality = Literal["text", "image"]
Engine = Literal["vllm", "sglang", "llama.cpp", "tgi", "trtllm", "localai", "tabby"]


# Bounds: every number is finite (no .inf/.nan) and within a physical range, every list and text is
# bounded, so no input can make the planner loop for hours (see garrison.input_limits for the file).
# Each (use case, model) pair is its own deployment, sized and simulated in turn (about 1-2 s each):
# at most 16 in all keeps a plan under a minute; plan a larger estate site by site.
MAX_USE_CASES = 16
MAX_MODELS_PER_USE_CASE = 8
MAX_DEPLOYMENTS = 16


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class ModelRef(Strict):
    """A model: a catalogue id, a local HF folder or .gguf file, or `recommend`."""

    id: str | None = Field(default=None, max_length=256)  # catalogue id or alias, e.g. "qwen3-32b"
    path: str | None = Field(default=None, max_length=4096)  # local folder with config.json, or a .gguf file
    quant: str | None = Field(
        default=None, max_length=64
    )  # pin a weight format (fp8, awq, Q4_K_M, ...); None lets the planner choose

    @model_validator(mode="after")
    def _one_of(self) -> ModelRef:
        if (self.id is None) == (self.path is None):
            raise ValueError("give exactly one of `id` (catalogue) or `path` (folder or .gguf)")
        return self

    @property
    def recommend(self) -> bool:
        return self.id == "recommend"


class Latency(Strict):
    """Latency targets, at P95 unless stated."""

    ttft_p95_ms: float | None = Field(default=None, gt=0, le=600_000)
    itl_p95_ms: float | None = Field(default=None, gt=0, le=60_000)
    e2e_p95_s: float | None = Field(default=None, gt=0, le=86_400)
    min_output_tokens_per_s: float | None = Field(default=None, gt=0, le=100_000)  # per stream


class Load(Strict):
    """Expected load. Give concurrency or a request rate; otherwise it is derived from `users`."""

    users: int | None = Field(default=None, ge=1, le=1_000_000)
    concurrent_requests: int | None = Field(default=None, ge=1, le=100_000)
    requests_per_minute: float | None = Field(default=None, gt=0, le=10_000_000)
    input_tokens: int = Field(default=1024, ge=1, le=10_000_000)
    output_tokens: int = Field(default=256, ge=1, le=1_000_000)
    # batch: the daily volume to finish; 1e11 tokens/day is 1.2 M tokens/s, thousands of GPUs
    tokens_per_day: float | None = Field(default=None, gt=0, le=1e11)


class UseCase(Strict):
    """One way the organisation uses LLMs."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    kind: UseCaseKind
    models: tuple[ModelRef | str, ...] = Field(min_length=1, max_length=MAX_MODELS_PER_USE_CASE)
    context_length: int = Field(default=8192, ge=256, le=10_000_000)
    load: Load = Load()
    latency: Latency = Latency()
    fim: bool = False  # code completion with fill-in-the-middle
    high_availability: bool = False  # at least two replicas on separate servers
    # Licences the organisation accepts, as SPDX ids (or the Hugging Face licence id where SPDX has none,
    # e.g. llama3.1): `recommend` only considers models under one of them, and an explicitly named model
    # under another licence is an input error. Empty: any licence (each deployment still names its own).
    licences: tuple[str, ...] = ()
    # Lowest acceptable score when the planner recommends a model, on the quality index that applies to
    # this use case (data/model_quality.yaml: general intelligence for chat/batch/agentic code, HumanEval-FIM
    # for code with `fim: true`): it then picks the least expensive model at or above this score.
    quality_floor: float | None = Field(default=None, ge=0, le=100)
    inputs: tuple[Modality, ...] = ("text",)  # what requests carry: text, images

    @field_validator("licences")
    @classmethod
    def _spdx(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for lic in v:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.+-]{0,63}", lic):
                raise ValueError(f"{lic!r} is not a licence id; use SPDX ids such as apache-2.0 or mit")
        return tuple(lic.lower() for lic in v)

    @field_validator("models", mode="before")
    @classmethod
    def _refs(cls, v: object) -> object:
        if isinstance(v, (str, dict)):
            v = [v]
        if isinstance(v, list):
            out: list[object] = []
            for item in v:
                if isinstance(item, str):
                    is_path = item.startswith(("/", "./", "../", "~")) or item.endswith(".gguf")
                    out.append(ModelRef(path=item) if is_path else ModelRef(id=item))
                else:
                    out.append(item)
            return tuple(out)
        return v

    def model_refs(self) -> tuple[ModelRef, ...]:
        return tuple(m if isinstance(m, ModelRef) else ModelRef(id=m) for m in self.models)


class Budget(Strict):
    capex_usd: float | None = Field(default=None, gt=0, le=1e11)
    opex_usd_per_year: float | None = Field(default=None, gt=0, le=1e11)


class Power(Strict):
    usd_per_kwh: float = Field(default=0.15, gt=0, le=5)
    pue: float = Field(default=1.4, ge=1.0, le=3.0)


class Security(Strict):
    """Security posture. Every stack gets TLS, API keys and denied egress regardless."""

    air_gapped: bool = False
    vlan_segmented: bool = False
    zero_trust_gateway: bool = False
    internal_networks: tuple[str, ...] = Field(default=("10.0.0.0/8",), max_length=64)
    compliance: tuple[str, ...] = Field(default=(), max_length=32)
    data_residency: str | None = Field(default=None, max_length=200)

    @field_validator("internal_networks")
    @classmethod
    def _cidrs(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in v:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as e:
                raise ValueError(f"{cidr!r} is not a network in CIDR form, e.g. 10.20.0.0/16") from e
        return v


class Growth(Strict):
    headroom_pct: float = Field(default=30, ge=0, le=500)  # capacity kept free for growth
    horizon_months: int = Field(default=24, ge=1, le=120)


class OwnedGPU(Strict):
    """GPUs the organisation already has, and how many of them sit in one existing server."""

    name: str
    count: int = Field(ge=1, le=4096)
    per_server: int | None = Field(default=None, ge=1, le=16)  # None: as many per server as the chassis takes

    @model_validator(mode="after")
    def _fits(self) -> OwnedGPU:
        if self.per_server is not None and self.per_server > self.count:
            raise ValueError(f"per_server {self.per_server} is more than count {self.count}")
        return self


class Hardware(Strict):
    """What the organisation already has, and what the planner may use."""

    owned_gpus: tuple[OwnedGPU, ...] = ()
    owned_only: bool = False  # buy no inference hardware: plan on `owned_gpus` (or the CPU host) only
    allowed_gpus: tuple[str, ...] = ()  # empty = any in the catalogue
    allowed_engines: tuple[Engine, ...] = ()
    cpu_only: bool = False
    # GeForce cards: NVIDIA's GeForce driver licence excludes data-centre deployment and the cards
    # lack ECC. None = allowed unless compliance regimes are named or a use case needs HA.
    allow_consumer_gpus: bool | None = None
    max_gpus_per_server: int = Field(default=8, ge=1, le=16)
    cpu: str | None = None  # CPU for a CPU-only site (catalogue id)


class Site(Strict):
    """Where the platform goes and by when; each limit is optional and checked against the design."""

    deadline: date | None = None  # in production by this date: hardware lead times are checked against it
    rack_units: int | None = Field(default=None, ge=1, le=10_000)  # free rack space, U
    power_kw: float | None = Field(default=None, gt=0, le=100_000)  # IT power available at maximum draw
    cooling_btu_h: float | None = Field(default=None, gt=0, le=1e9)  # heat the room can remove


class Organisation(Strict):
    name: str = Field(min_length=1, max_length=200)
    team_size: int = Field(ge=1, le=10_000_000)


class HandoffField(Strict):
    """One value of another agent's hand-off and what the intake did with it."""

    key: str  # where it was, e.g. "context.concurrent_users"
    value: str  # as written
    status: Literal["parsed", "guessed", "ignored"]  # ignored = not applied, kept as a note
    result: str  # what it became ("use_cases[chat].latency.ttft_p95_ms = 2000") or why not


class Handoff(Strict):
    """Where the requirements came from when another agent handed them over, and what of it Garrison
    could not turn into a field (kept verbatim so the design, the report and the hand-offs out carry it)."""

    source_agent: str = ""
    request: str = ""
    deadline: str | None = None  # as written; the programme manager's hand-off carries it
    availability_pct: float | None = Field(default=None, gt=0, lt=100)  # uptime target, if stated
    licences: tuple[str, ...] = ()  # licence ids the hand-off allows (empty: not stated)
    fields: tuple[HandoffField, ...] = ()
    notes: tuple[str, ...] = ()


class Requirements(Strict):
    """Everything Garrison needs to plan a platform."""

    schema_version: Literal[1] = 1
    organisation: Organisation
    use_cases: tuple[UseCase, ...] = Field(min_length=1, max_length=MAX_USE_CASES)
    budget: Budget = Budget()
    power: Power = Power()
    security: Security = Security()
    growth: Growth = Growth()
    hardware: Hardware = Hardware()
    site: Site = Site()
    compliance_notes: str = Field(default="", max_length=20_000)
    handoff: Handoff | None = None  # set when the requirements came from an agent's hand-off

    @model_validator(mode="after")
    def _unique_names(self) -> Requirements:
        names = [u.name for u in self.use_cases]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"use case names must be unique; repeated: {', '.join(sorted(dup))}")
        pairs = sum(len(u.models) for u in self.use_cases)
        if pairs > MAX_DEPLOYMENTS:
            raise ValueError(
                f"{pairs} models across the use cases; at most {MAX_DEPLOYMENTS} are planned at once "
                "(plan a larger platform in parts, e.g. one requirements file per site or team)"
            )
        if self.hardware.owned_only and not (self.hardware.owned_gpus or self.hardware.cpu_only):
            raise ValueError(
                "hardware.owned_only needs hardware.owned_gpus (the GPUs to plan on) or hardware.cpu_only"
            )
        return self
