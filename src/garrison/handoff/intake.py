"""Hand-off in: turn what another agent writes into Garrison's requirements, in one pass.

Accepts the role description's `handoff: {source_agent, context: {...}, request}` and what its
neighbours plausibly add (organisation, team size, use cases, budget, compliance, residency, deadline,
latency targets, models with sizes and precision, owned hardware, licences, availability), with values
as numbers or as free-form strings. Each value is either parsed, guessed (and the guess recorded), or
kept verbatim as a note; nothing is dropped, and a target or a compliance requirement is never left out
without a line saying so. The record of what happened travels in `Requirements.handoff`, so design.json,
the report and the hand-offs out all carry it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from garrison.errors import GarrisonError, InputError
from garrison.handoff import parse as p
from garrison.requirements import Handoff, HandoffField

# Normalised key -> slot. Keys are lower-cased with every run of non-alphanumerics as "_".
ALIASES: dict[str, str] = {
    **dict.fromkeys(
        [
            "selected_models",
            "models",
            "model",
            "model_recommendations",
            "recommended_models",
            "target_models",
            "llm",
            "llms",
            "model_selection",
            "candidate_models",
        ],
        "models",
    ),
    **dict.fromkeys(
        [
            "model_sizes",
            "model_size",
            "sizes",
            "parameters",
            "parameter_counts",
            "precision",
            "quantization",
            "quantisation",
        ],
        "model_sizes",
    ),
    **dict.fromkeys(
        ["context_lengths", "context_length", "context_window", "context_windows", "max_context", "context"],
        "context",
    ),
    **dict.fromkeys(
        [
            "concurrent_users",
            "simultaneous_users",
            "concurrency",
            "peak_users",
            "concurrent_requests",
            "peak_concurrency",
            "concurrent_sessions",
        ],
        "concurrent",
    ),
    **dict.fromkeys(
        [
            "throughput_requirements",
            "throughput",
            "throughput_requirement",
            "tokens_per_second",
            "tokens_per_second_per_user",
            "output_speed",
        ],
        "throughput",
    ),
    **dict.fromkeys(["organisation", "organization", "org", "company", "customer", "client"], "organisation"),
    **dict.fromkeys(
        [
            "team_size",
            "team",
            "users",
            "user_count",
            "headcount",
            "employees",
            "developers",
            "seats",
            "number_of_users",
        ],
        "team_size",
    ),
    **dict.fromkeys(["use_cases", "use_case", "workloads", "applications", "scenarios"], "use_cases"),
    **dict.fromkeys(
        [
            "budget",
            "budget_envelope",
            "budget_constraints",
            "budget_constraint",
            "capex",
            "budget_usd",
            "cost_ceiling",
            "hardware_budget",
        ],
        "budget",
    ),
    **dict.fromkeys(["opex", "opex_budget", "annual_budget", "running_costs", "operating_budget"], "opex"),
    **dict.fromkeys(
        [
            "compliance",
            "compliance_requirements",
            "regulations",
            "regulatory",
            "frameworks",
            "standards",
            "certifications",
            "regulatory_requirements",
        ],
        "compliance",
    ),
    **dict.fromkeys(
        [
            "data_residency",
            "residency",
            "data_location",
            "region",
            "data_sovereignty",
            "sovereignty",
            "jurisdiction",
        ],
        "residency",
    ),
    **dict.fromkeys(
        ["deadline", "timeline", "go_live", "target_date", "due", "delivery_date", "launch_date", "schedule"],
        "deadline",
    ),
    **dict.fromkeys(
        [
            "latency_targets",
            "latency",
            "latency_target",
            "latency_requirements",
            "slo",
            "slos",
            "sla",
            "response_time",
            "performance_targets",
            "targets",
            "ttft",
            "time_to_first_token",
        ],
        "latency",
    ),
    **dict.fromkeys(
        [
            "security",
            "security_requirements",
            "security_posture",
            "network",
            "isolation",
            "air_gapped",
            "airgapped",
            "network_isolation",
            "security_controls",
        ],
        "security",
    ),
    **dict.fromkeys(
        ["availability", "uptime", "high_availability", "ha", "availability_target"], "availability"
    ),
    **dict.fromkeys(
        [
            "power_price",
            "electricity_price",
            "energy_price",
            "usd_per_kwh",
            "electricity",
            "power_cost",
            "power",
        ],
        "power",
    ),
    **dict.fromkeys(
        ["power_budget", "power_limit", "available_power", "site_power", "power_available", "power_kw"],
        "site_power",
    ),
    **dict.fromkeys(["rack_space", "rack_units", "racks", "free_rack_units", "rack"], "rack_space"),
    **dict.fromkeys(["cooling", "cooling_capacity", "cooling_btu_h"], "cooling"),
    **dict.fromkeys(
        [
            "existing_hardware",
            "owned_hardware",
            "hardware",
            "owned_gpus",
            "available_hardware",
            "gpus",
            "hardware_constraints",
        ],
        "hardware",
    ),
    **dict.fromkeys(
        [
            "licences",
            "licenses",
            "licence",
            "license",
            "licence_policy",
            "license_policy",
            "allowed_licences",
            "allowed_licenses",
        ],
        "licences",
    ),
    **dict.fromkeys(["internal_networks", "networks", "cidrs", "subnets"], "networks"),
    **dict.fromkeys(["input_tokens", "prompt_tokens", "prompt_length", "input_length"], "input_tokens"),
    **dict.fromkeys(
        ["output_tokens", "completion_tokens", "output_length", "response_length"], "output_tokens"
    ),
    **dict.fromkeys(
        ["requests_per_minute", "request_rate", "requests_per_day", "tokens_per_day", "volume"], "volume"
    ),
}
LATENCY_TARGET_KEYS = ("ttft_p95_ms", "itl_p95_ms", "e2e_p95_s")
UNNAMED = "Unnamed organisation"


def _norm(key: object) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(key).lower()).strip("_")


MAX_TEXT = 500  # characters of one value the record keeps


def _text(value: Any) -> str:
    """A value as one line of text, the way the record keeps it (at most MAX_TEXT characters)."""
    if isinstance(value, str):
        text = " ".join(value.split())
    else:
        dumped = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000).strip()
        text = dumped.removesuffix("...").strip()
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + f"... ({len(text):,} characters)"


@dataclass
class _UseCase:
    """A use case being assembled from the hand-off."""

    name: str
    kind: str
    fim: bool
    origin: str  # where the use case came from, for messages
    users: int | None = None
    concurrent: int | None = None
    rpm: float | None = None
    tokens_per_day: float | None = None
    models: list[dict[str, Any]] = field(default_factory=list)
    context: int | None = None
    latency: dict[str, float] = field(default_factory=dict)
    input_tokens: int | None = None
    output_tokens: int | None = None
    ha: bool = False


@dataclass
class _Model:
    """A model named (or implied) by the hand-off."""

    ref: dict[str, Any]  # {"id": ...} or {"path": ...}, plus "quant" when pinned
    label: str  # what the hand-off called it
    kinds: tuple[str, ...] = ("chat",)
    fim: bool = False
    context_max: int | None = None
    context: int | None = None  # context length the hand-off asks for this model


class Intake:
    """One hand-off being read; `fields` and `notes` are what the record will hold."""

    def __init__(self, catalogue: Any | None = None) -> None:
        self._cat = catalogue
        self.fields: list[HandoffField] = []
        self.notes: list[str] = []

    @property
    def cat(self) -> Any:
        if self._cat is None:
            from garrison.catalogue import load_catalogue

            self._cat = load_catalogue()
        return self._cat

    # -------------------------------------------------------------- the record
    def parsed(self, key: str, value: Any, result: str) -> None:
        self.fields.append(HandoffField(key=key, value=_text(value), status="parsed", result=result))

    def guessed(self, key: str, value: Any, result: str) -> None:
        self.fields.append(HandoffField(key=key, value=_text(value), status="guessed", result=result))

    def ignored(self, key: str, value: Any, why: str) -> None:
        self.fields.append(
            HandoffField(key=key, value=_text(value), status="ignored", result=f"{why}; kept as a note")
        )
        self.notes.append(f"{key}: {_text(value)}")


def _entries(doc: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str | None, Any]]]:
    """The hand-off mapping and its (path, slot, value) entries: context keys, keys beside context,
    and keys beside `handoff` at the top level."""
    h = doc["handoff"]
    if not isinstance(h, dict):
        raise InputError("handoff", "must be a mapping", "see docs/handoff.md for the hand-off shape")
    out: list[tuple[str, str | None, Any]] = []
    ctx = h.get("context")
    if isinstance(ctx, dict):
        out += [(f"context.{k}", ALIASES.get(_norm(k)), v) for k, v in ctx.items()]
    elif ctx is not None:
        out.append(("context", None, ctx))
    for k, v in h.items():
        if k not in ("source_agent", "target_agent", "context", "request"):
            out.append((str(k), ALIASES.get(_norm(k)), v))
    for k, v in doc.items():
        if k != "handoff":
            out.append((f"(top level).{k}", ALIASES.get(_norm(k)), v))
    return h, out


def from_handoff(doc: Mapping[str, Any], catalogue: Any | None = None) -> dict[str, Any]:
    """Garrison's requirements (a plain dict, `handoff` record included) from a hand-off document."""
    h, entries = _entries(doc)
    it = Intake(catalogue)
    slots: dict[str, list[tuple[str, Any]]] = {}
    for path, slot, value in entries:
        if slot is None:
            it.ignored(path, value, "not a field Garrison plans with")
        else:
            slots.setdefault(slot, []).append((path, value))
    target = h.get("target_agent")
    if target and not re.search(r"architect|infrastructure", str(target), re.IGNORECASE):
        it.ignored("target_agent", target, "addressed to another agent; planned anyway")

    org_name, org_team = _organisation(it, slots)
    models = _models(it, slots)
    use_cases = _use_cases(it, slots, models)
    _loads(it, slots, use_cases)
    _context(it, slots, use_cases)
    _latency(it, slots, use_cases)
    _throughput(it, slots, use_cases)
    availability = _availability(it, slots, use_cases)
    req: dict[str, Any] = {
        "organisation": {"name": org_name, "team_size": _team_size(it, slots, org_team, use_cases)},
        "use_cases": [_use_case_dict(u) for u in use_cases],
    }
    for key, value in (
        ("budget", _budget(it, slots)),
        ("security", _security(it, slots)),
        ("power", _power(it, slots)),
        ("hardware", _hardware(it, slots)),
    ):
        if value:
            req[key] = value
    licences = _licences(it, slots)
    if licences:
        for uc in req["use_cases"]:
            uc["licences"] = list(licences)
    deadline = _deadline(it, slots)
    site = _site(it, slots, deadline)
    if site:
        req["site"] = site
    compliance_text = [f"{path}: {_text(v)}" for path, v in slots.get("compliance", [])]
    compliance_text += [f"{path}: {_text(v)}" for path, v in slots.get("residency", [])]
    req["compliance_notes"] = "\n".join(compliance_text)
    req["handoff"] = Handoff(
        source_agent=str(h.get("source_agent") or ""),
        request=_text(h.get("request") or ""),
        deadline=deadline,
        availability_pct=availability,
        licences=tuple(licences),
        fields=tuple(it.fields),
        notes=tuple(it.notes),
    ).model_dump()
    return req


def _use_case_dict(u: _UseCase) -> dict[str, Any]:
    load: dict[str, Any] = {}
    if u.concurrent is not None:
        load["concurrent_requests"] = max(1, u.concurrent)
    elif u.rpm is not None:
        load["requests_per_minute"] = u.rpm
    elif u.tokens_per_day is not None:
        load["tokens_per_day"] = u.tokens_per_day
    elif u.users is not None:
        load["users"] = max(1, u.users)
    if u.input_tokens:
        load["input_tokens"] = u.input_tokens
    if u.output_tokens:
        load["output_tokens"] = u.output_tokens
    out: dict[str, Any] = {
        "name": u.name,
        "kind": u.kind,
        "models": u.models or [{"id": "recommend"}],
        "fim": u.fim,
    }
    if load:
        out["load"] = load
    if u.context:
        out["context_length"] = u.context
    if u.latency:
        out["latency"] = dict(u.latency)
    if u.ha:
        out["high_availability"] = True
    return out


def _first(slots: Mapping[str, list[tuple[str, Any]]], slot: str, it: Intake) -> tuple[str, Any] | None:
    """The first entry of a slot; later entries for the same slot are recorded as not applied."""
    entries = slots.get(slot, [])
    for path, value in entries[1:]:
        it.ignored(path, value, f"a second value for the same thing as {entries[0][0]}")
    return entries[0] if entries else None


# ------------------------------------------------------------------ organisation and team
def _organisation(it: Intake, slots: Mapping[str, list[tuple[str, Any]]]) -> tuple[str, int | None]:
    entry = _first(slots, "organisation", it)
    team: int | None = None
    if entry is None:
        it.guessed("organisation", "(absent)", f"organisation.name = {UNNAMED!r} (the hand-off names none)")
        return UNNAMED, None
    path, value = entry
    if isinstance(value, dict):
        name = None
        for k, v in value.items():
            nk = _norm(k)
            if nk in ("name", "organisation", "organization", "company") and isinstance(v, str) and v.strip():
                name = " ".join(v.split())
                it.parsed(f"{path}.{k}", v, f"organisation.name = {name!r}")
            elif ALIASES.get(nk) == "team_size" or nk in ("size",):
                n = p.count(v)
                if n:
                    team = n
                    it.parsed(f"{path}.{k}", v, f"organisation.team_size = {n}")
                else:
                    it.ignored(f"{path}.{k}", v, "no head-count in it")
            else:
                it.ignored(f"{path}.{k}", v, "not a field Garrison plans with")
        if name is None:
            it.guessed(path, value, f"organisation.name = {UNNAMED!r} (no name in it)")
            name = UNNAMED
        return name, team
    if isinstance(value, str) and value.strip():
        name = " ".join(value.split())
        it.parsed(path, value, f"organisation.name = {name!r}")
        return name, None
    it.guessed(path, value, f"organisation.name = {UNNAMED!r} (not a name)")
    return UNNAMED, None


# ------------------------------------------------------------------ models
def _catalogue_model(it: Intake, label: str) -> Any | None:
    """The catalogue row for a name, or None (unknown or ambiguous names are not errors here)."""
    try:
        return it.cat.model(label)
    except GarrisonError:
        return None


def _model_from_row(row: Any, label: str, quant: str | None) -> _Model:
    ref: dict[str, Any] = {"id": row.id}
    if quant:
        ref["quant"] = quant
    kinds = tuple(k for k in row.use_cases if k in ("chat", "code", "batch")) or ("chat",)
    return _Model(ref, label, kinds, bool(row.fim), int(row.context_max))


def _is_path(text: str) -> bool:
    return text.startswith(("/", "./", "../", "~")) or text.endswith(".gguf")


def _models(it: Intake, slots: Mapping[str, list[tuple[str, Any]]]) -> list[_Model]:
    """Models named in the hand-off, with their precision pinned when stated."""
    sizes = _sizes(it, slots)
    out: list[_Model] = []
    for path, value in slots.get("models", []):
        items = (
            value if isinstance(value, list) else p.split_list(value) if isinstance(value, str) else [value]
        )
        for i, item in enumerate(items):
            key = f"{path}[{i}]" if isinstance(value, list) else path
            if isinstance(item, dict):
                out += _model_dict(it, key, item)
                continue
            label = str(item).strip()
            m = _model_named(it, key, label, sizes.get(label) or sizes.get("*"))
            if m is not None:
                out.append(m)
    if not out:
        size = sizes.get("*")
        if size is not None and size.total_b:
            guess = _model_of_size(it, size)
            if guess is not None:
                out.append(guess)
    return out


def _model_dict(it: Intake, key: str, item: dict[str, Any]) -> list[_Model]:
    """`{name|id|model: ..., size|parameters: ..., precision|quant: ..., context: ...}`."""
    name = next((item[k] for k in item if _norm(k) in ("name", "id", "model", "hf_id", "path")), None)
    size_text = " ".join(
        str(item[k])
        for k in item
        if _norm(k) in ("size", "parameters", "params", "precision", "quant", "quantization", "dtype")
    )
    size = p.model_size(size_text) if size_text else None
    used = {"name", "id", "model", "hf_id", "path", "size", "parameters", "params", "precision", "quant"}
    used |= {"quantization", "dtype", "context", "context_length"}
    for k, v in item.items():
        if _norm(k) not in used:
            it.ignored(f"{key}.{k}", v, "not a model fact Garrison uses")
    if name is None:
        if size is not None and size.total_b:
            m = _model_of_size(it, size, key)
            return [m] if m else []
        it.ignored(key, item, "no model name in it")
        return []
    m = _model_named(it, f"{key}.name", str(name), size)
    if m is None:
        return []
    ctx_key = next((k for k in item if _norm(k) in ("context", "context_length")), None)
    if ctx_key is not None:
        n = p.tokens(item[ctx_key])
        if n:
            m.context = n
            it.parsed(f"{key}.{ctx_key}", item[ctx_key], f"context_length = {n} for {m.label}")
        else:
            it.ignored(f"{key}.{ctx_key}", item[ctx_key], "no token count in it")
    return [m]


def _model_named(it: Intake, key: str, label: str, size: p.ModelSize | None) -> _Model | None:
    """A model from a name or path; unknown names are recorded and left for the planner to replace."""
    quant = _precision(it, key, size)
    if _is_path(label):
        ref: dict[str, Any] = {"path": label}
        if quant:
            ref["quant"] = quant
        it.parsed(key, label, f"model path {label}")
        return _Model(ref, label)
    row = _catalogue_model(it, label)
    if row is None:
        # "Models to be deployed", "a 70B model": not a name; try the size, else the planner recommends
        parsed = p.model_size(label)
        if parsed is not None and parsed.total_b and p.is_size_phrase(label):
            return _model_of_size(it, parsed, key)
        it.ignored(key, label, "not a model in the catalogue (the planner recommends one instead)")
        return None
    it.parsed(key, label, f"model {row.id}" + (f" at {quant}" if quant else ""))
    if (
        size is not None
        and size.total_b
        and abs(size.total_b - row.params_total_b) > 0.15 * row.params_total_b
    ):
        it.notes.append(
            f"{key}: the hand-off says {size.total_b:g}B for {label}; the catalogue says "
            f"{row.params_total_b:g}B ({row.source}); sized with the catalogue's"
        )
    return _model_from_row(row, label, quant)


def _precision(it: Intake, key: str, size: p.ModelSize | None) -> str | None:
    if size is None or size.precision is None:
        return None
    try:
        fmt = it.cat.quant(size.precision)
    except GarrisonError:
        return None
    if size.precision_guessed:
        it.guessed(key + " (precision)", size.precision, f"weights pinned to {fmt.id} (a generic bit width)")
    return str(fmt.id)


def _model_of_size(it: Intake, size: p.ModelSize, key: str = "context.model_sizes") -> _Model | None:
    """The catalogue model closest to a stated size (total, and active for MoE), newest first on ties."""
    total = size.total_b or 0.0
    rows = [r for r in it.cat.models.values() if abs(r.params_total_b - total) <= 0.15 * total]
    if size.active_b:
        rows = [r for r in rows if abs(r.params_active_b - size.active_b) <= 0.3 * size.active_b] or rows
    if not rows:
        it.ignored(key, f"{size.total_b:g}B", "no catalogue model of that size (the planner recommends one)")
        return None
    # closest size first (to 1 %), then the newest release
    best = min(rows, key=lambda r: (round(abs(r.params_total_b - total) / total, 2), _newest(r)))
    quant = _precision(it, key, size)
    it.guessed(
        key,
        f"{size.total_b:g}B" + (f" at {size.precision}" if size.precision else ""),
        f"model {best.id} ({best.params_total_b:g}B, the closest catalogue model of that size)"
        + (f" at {quant}" if quant else ""),
    )
    return _model_from_row(best, f"{size.total_b:g}B", quant)


def _newest(row: Any) -> tuple[int, str]:
    """Sort key: newer releases first, then by id."""
    digits = re.sub(r"\D", "", row.release or "")
    return (-int(digits or 0), row.id)


def _sizes(it: Intake, slots: Mapping[str, list[tuple[str, Any]]]) -> dict[str, p.ModelSize]:
    """Model sizes by model label; "*" applies to every model."""
    out: dict[str, p.ModelSize] = {}
    for path, value in slots.get("model_sizes", []):
        if isinstance(value, dict):
            for k, v in value.items():
                s = p.model_size(str(v))
                if s is None:
                    it.ignored(f"{path}.{k}", v, "no parameter count or precision in it")
                else:
                    out[str(k)] = s
                    it.parsed(f"{path}.{k}", v, _size_text(s))
            continue
        s = p.model_size(_text(value)) if value is not None else None
        if s is None:
            it.ignored(path, value, "no parameter count or precision in it")
        else:
            out["*"] = s
            it.parsed(path, value, _size_text(s))
    return out


def _size_text(s: p.ModelSize) -> str:
    parts = []
    if s.total_b:
        parts.append(f"{s.total_b:g}B parameters")
    if s.active_b:
        parts.append(f"{s.active_b:g}B active")
    if s.precision:
        parts.append(f"precision {s.precision}")
    return ", ".join(parts)


# ------------------------------------------------------------------ use cases
_USER_NOUNS = (
    r"(users?|developers?|engineers?|people|staff|seats|analysts?|agents?|employees|members|clerks?)"
)


def _users_in(text: str) -> int | None:
    m = re.search(r"(\d[\d,.]*\s*[kK]?)\s*(?:\w+\s+){0,2}" + _USER_NOUNS, text)
    return p.count(m.group(1)) if m else None


def _use_cases(
    it: Intake, slots: Mapping[str, list[tuple[str, Any]]], models: list[_Model]
) -> list[_UseCase]:
    drafts: list[_UseCase] = []
    for path, value in slots.get("use_cases", []):
        if isinstance(value, dict):
            items: list[tuple[str, Any]] = [
                (f"{path}.{k}", {"name": k, **v} if isinstance(v, dict) else f"{k}: {v}")
                for k, v in value.items()
            ]
        elif isinstance(value, list):
            items = [(f"{path}[{i}]", v) for i, v in enumerate(value)]
        else:
            items = [(path, v) for v in p.split_list(value)] if isinstance(value, str) else [(path, value)]
        for key, item in items:
            u = _use_case_from(it, key, item)
            if u is not None:
                drafts.append(u)
    _assign_models(it, drafts, models)
    names: set[str] = set()
    for u in drafts:
        base, n = u.name, 2
        while u.name in names:
            u.name = f"{base[:37]}-{n}"
            n += 1
        names.add(u.name)
    return drafts


def _use_case_from(it: Intake, key: str, item: Any) -> _UseCase | None:
    if isinstance(item, dict):
        desc = " ".join(
            str(item[k])
            for k in item
            if _norm(k) in ("name", "use_case", "description", "kind", "type", "purpose")
        )
        kind_key = next((k for k in item if _norm(k) in ("kind", "type")), None)
        kind_fim = p.kind_of(str(item[kind_key])) if kind_key else None
        kind_fim = kind_fim or p.kind_of(desc)
        name_key = next((k for k in item if _norm(k) in ("name", "use_case")), None)
        name = p.slug(str(item[name_key]) if name_key else desc, "use-case")
        u = _UseCase(name, *(kind_fim or ("chat", False)), origin=key)
        if kind_fim is None:
            it.guessed(key, desc or item, f"use case {name}: kind chat (no kind cue in it)")
        else:
            it.parsed(key, desc or item, f"use case {name}: kind {u.kind}" + (", FIM" if u.fim else ""))
        _use_case_details(it, key, item, u)
        return u
    text = _text(item)
    if not text:
        return None
    kind_fim = p.kind_of(text)
    short = re.sub(r"^(a|an|the)\s+", "", re.sub(r"\bfor\b.*$", "", text).strip(), flags=re.IGNORECASE)
    name = p.slug(short or text, "use-case")
    u = _UseCase(name, *(kind_fim or ("chat", False)), origin=key)
    u.users = _users_in(text)
    detail = f"use case {name}: kind {u.kind}" + (", FIM" if u.fim else "")
    detail += f", {u.users} users" if u.users else ""
    if kind_fim is None:
        it.guessed(key, text, detail + " (no kind cue in it: chat assumed)")
    else:
        it.parsed(key, text, detail)
    return u


def _use_case_details(it: Intake, key: str, item: dict[str, Any], u: _UseCase) -> None:
    """Per-use-case values inside a use-case mapping."""
    for k, v in item.items():
        nk = _norm(k)
        path = f"{key}.{k}"
        slot = ALIASES.get(nk)
        if nk in ("name", "use_case", "description", "kind", "type", "purpose"):
            continue
        if nk == "fim" or "fill_in" in nk:
            u.fim = bool(v)
            it.parsed(path, v, f"use case {u.name}: fim = {u.fim}")
        elif slot == "team_size":
            n = p.count(v)
            if n:
                u.users = n
                it.parsed(path, v, f"use case {u.name}: {n} users")
            else:
                it.ignored(path, v, "no head-count in it")
        elif slot == "concurrent":
            n = p.count(v)
            if n:
                u.concurrent = n
                it.parsed(path, v, f"use case {u.name}: {n} concurrent requests")
            else:
                it.ignored(path, v, "no number in it")
        elif slot == "models":
            items = v if isinstance(v, list) else p.split_list(v) if isinstance(v, str) else [v]
            for i, m in enumerate(items):
                mm = (
                    _model_dict(it, f"{path}[{i}]", m)
                    if isinstance(m, dict)
                    else [x for x in [_model_named(it, f"{path}[{i}]", str(m), None)] if x]
                )
                for x in mm:
                    u.models.append(dict(x.ref))
        elif slot == "context":
            n = p.tokens(v)
            if n:
                u.context = n
                it.parsed(path, v, f"use case {u.name}: context_length = {n}")
            else:
                it.ignored(path, v, "no token count in it")
        elif slot in ("latency", "throughput"):
            _apply_latency(it, path, v, [u], throughput=slot == "throughput")
        elif slot in ("input_tokens", "output_tokens"):
            n = p.tokens(v)
            if n:
                setattr(u, slot, n)
                it.parsed(path, v, f"use case {u.name}: {slot} = {n}")
            else:
                it.ignored(path, v, "no token count in it")
        elif slot == "volume":
            _apply_volume(it, path, nk, v, [u])
        elif slot == "availability":
            _apply_availability(it, path, v, [u])
        else:
            it.ignored(path, v, "not a use-case field Garrison plans with")


def _assign_models(it: Intake, drafts: list[_UseCase], models: list[_Model]) -> None:
    """Give every model a use case and every use case a model (or `recommend`), printing each guess."""
    if not drafts:
        for m in models:
            kind = m.kinds[0]
            u = _UseCase(kind, kind, m.fim and kind == "code", origin="selected models", models=[dict(m.ref)])
            u.context = m.context
            drafts.append(u)
            it.guessed(
                f"use case for {m.label}",
                m.label,
                f"use case {kind}: kind {kind}"
                + (", FIM" if u.fim else "")
                + " (from the catalogue's use cases"
                " of the model; the hand-off names no use case)",
            )
        if not drafts:
            drafts.append(_UseCase("chat", "chat", False, origin="(none)"))
            it.guessed(
                "use_cases", "(absent)", "one chat use case (the hand-off names neither use cases nor models)"
            )
        for u in drafts:
            if not u.models:
                it.guessed(
                    f"use case {u.name}: model", "(absent)", "model `recommend` (the planner picks one)"
                )
        return
    for m in models:
        fitting = [u for u in drafts if u.kind in m.kinds]
        fitting.sort(key=lambda u: (bool(u.models), m.kinds.index(u.kind)))
        target = fitting[0] if fitting else next((u for u in drafts if not u.models), drafts[0])
        target.models.append(dict(m.ref))
        if m.context and not target.context:
            target.context = m.context
        it.guessed(f"model {m.label}", m.label, f"serves use case {target.name}")
    for u in drafts:
        if not u.models:
            reuse = [m for m in models if u.kind in m.kinds]
            if reuse:
                u.models = [dict(m.ref) for m in reuse]
                it.guessed(
                    f"use case {u.name}: model",
                    "(absent)",
                    "serves it with "
                    + ", ".join(m.label for m in reuse)
                    + " too (the hand-off's models that "
                    "suit a " + u.kind + " use case)",
                )
            else:
                it.guessed(
                    f"use case {u.name}: model", "(absent)", "model `recommend` (the planner picks one)"
                )
        elif u.kind == "code" and u.fim:
            for ref in u.models:
                row = _catalogue_model(it, ref.get("id", "")) if "id" in ref else None
                if row is not None and not row.fim:
                    it.notes.append(
                        f"use case {u.name}: FIM asked but {row.id} documents no fill-in-the-middle; "
                        "the planner decides (see escalations)"
                    )


# ------------------------------------------------------------------ load
def _spread(
    it: Intake, key: str, value: Any, n: int, use_cases: list[_UseCase], attr: str, what: str
) -> None:
    """Give `n` to one use case, or split it evenly (rounded up) across several, as a printed guess."""
    pool = _interactive(use_cases) if attr == "concurrent" else use_cases
    targets = [u for u in pool if getattr(u, attr) is None]
    if not targets:
        it.ignored(key, value, f"every use case states its own {what}")
        return
    if len(targets) == 1:
        setattr(targets[0], attr, n)
        it.parsed(key, value, f"use case {targets[0].name}: {n} {what}")
        return
    share = -(-n // len(targets))
    for u in targets:
        setattr(u, attr, share)
    it.guessed(
        key, value, f"{n} {what} split evenly: {share} for each of " + ", ".join(u.name for u in targets)
    )


def _loads(it: Intake, slots: Mapping[str, list[tuple[str, Any]]], use_cases: list[_UseCase]) -> None:
    entry = _first(slots, "concurrent", it)
    if entry is not None:
        key, value = entry
        n = p.count(value)
        if n:
            _spread(it, key, value, n, use_cases, "concurrent", "concurrent requests")
        else:
            it.ignored(key, value, "no number in it (load taken from the team size instead)")
    for key, value in slots.get("volume", []):
        _apply_volume(it, key, _norm(key.rsplit(".", 1)[-1]), value, use_cases)
    for slot in ("input_tokens", "output_tokens"):
        entry = _first(slots, slot, it)
        if entry is None:
            continue
        key, value = entry
        n = p.tokens(value)
        if not n:
            it.ignored(key, value, "no token count in it")
            continue
        for u in use_cases:
            if getattr(u, slot) is None:
                setattr(u, slot, n)
        it.parsed(key, value, f"{slot} = {n} for every use case")


def _apply_volume(it: Intake, key: str, nk: str, value: Any, use_cases: list[_UseCase]) -> None:
    n = p.number(value)
    text = str(value).lower()
    if n is None or n <= 0:
        it.ignored(key, value, "no number in it")
        return
    if "token" in nk or "token" in text:
        batch = [u for u in use_cases if u.kind == "batch"] or use_cases
        for u in batch:
            u.tokens_per_day = n / len(batch)
        it.parsed(key, value, f"tokens_per_day = {n:g} for " + ", ".join(u.name for u in batch))
        return
    per_day = "day" in nk or "day" in text
    rpm = n / 480 if per_day else n  # a working day of 8 h = 480 min carries a day's requests
    targets = [u for u in use_cases if u.rpm is None and u.concurrent is None] or use_cases
    for u in targets:
        u.rpm = round(rpm / len(targets), 3)
    msg = f"{rpm:g} requests/min" + (" (a day's requests over an 8 h working day)" if per_day else "")
    (it.guessed if per_day or len(targets) > 1 else it.parsed)(
        key, value, msg + " for " + ", ".join(u.name for u in targets)
    )


def _team_size(
    it: Intake, slots: Mapping[str, list[tuple[str, Any]]], org_team: int | None, use_cases: list[_UseCase]
) -> int:
    entry = _first(slots, "team_size", it)
    if entry is not None:
        key, value = entry
        n = p.count(value)
        if n and org_team is None:
            it.parsed(key, value, f"organisation.team_size = {n}")
            return max(1, n)
        if n:
            it.ignored(key, value, f"the organisation already gives team_size {org_team}")
        else:
            it.ignored(key, value, "no head-count in it")
    if org_team is not None:
        return max(1, org_team)
    users = sum(u.users or 0 for u in use_cases) or sum(u.concurrent or 0 for u in use_cases)
    if users:
        it.guessed(
            "team_size", "(absent)", f"organisation.team_size = {users} (the users the use cases name)"
        )
        return users
    it.guessed("team_size", "(absent)", "organisation.team_size = 10 (nothing in the hand-off says how many)")
    return 10


# ------------------------------------------------------------------ context, latency, throughput
def _context(it: Intake, slots: Mapping[str, list[tuple[str, Any]]], use_cases: list[_UseCase]) -> None:
    entry = _first(slots, "context", it)
    if entry is None:
        return
    key, value = entry
    if isinstance(value, dict):
        for k, v in value.items():
            n = p.tokens(v)
            hits = [
                u
                for u in use_cases
                if u.name == p.slug(str(k), "")
                or any(
                    str(k).lower() in (m.get("id", "") or m.get("path", "")).lower()
                    or (m.get("id") and _same_model(it, str(k), m["id"]))
                    for m in u.models
                )
            ]
            if n and hits:
                for u in hits:
                    u.context = max(u.context or 0, n)
                it.parsed(f"{key}.{k}", v, f"context_length = {n} for " + ", ".join(u.name for u in hits))
            else:
                it.ignored(
                    f"{key}.{k}", v, "no token count in it" if not n else "matches no model or use case"
                )
        return
    values = value if isinstance(value, list) else [value]
    lengths = [p.tokens(v) for v in values]
    if not any(lengths):
        it.ignored(key, value, "no token count in it (each model's default context is used)")
        return
    longest = max(n for n in lengths if n)
    for u in use_cases:
        if not u.context:
            u.context = longest
    it.parsed(
        key, value, f"context_length = {longest}" + (" (the longest listed)" if len(values) > 1 else "")
    )


def _same_model(it: Intake, name: str, model_id: str) -> bool:
    row = _catalogue_model(it, name)
    return row is not None and row.id == model_id


_TTFT = re.compile(r"first[- ]token|ttft|time to first|start(s|ing)? (to )?(stream|answer|respond)", re.I)
_ITL = re.compile(r"inter[- ]?token|itl|tpot|per[- ]token|between tokens|token latency", re.I)
_E2E = re.compile(r"end[- ]to[- ]end|e2e|full (answer|response)|complete (answer|response)|total", re.I)


def _interactive(use_cases: list[_UseCase]) -> list[_UseCase]:
    return [u for u in use_cases if u.kind != "batch"] or use_cases


def _latency(it: Intake, slots: Mapping[str, list[tuple[str, Any]]], use_cases: list[_UseCase]) -> None:
    for key, value in slots.get("latency", []):
        if isinstance(value, dict):
            for k, v in value.items():
                hits = [u for u in use_cases if p.slug(str(k), "") in (u.name, u.kind)]
                if hits:
                    _apply_latency(it, f"{key}.{k}", v, hits)
                else:
                    _apply_latency(it, f"{key}.{k}", f"{k}: {v}", _interactive(use_cases))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                _apply_latency(it, f"{key}[{i}]", v, _interactive(use_cases))
        else:
            _apply_latency(it, key, value, _interactive(use_cases))


def _throughput(it: Intake, slots: Mapping[str, list[tuple[str, Any]]], use_cases: list[_UseCase]) -> None:
    for key, value in slots.get("throughput", []):
        _apply_latency(it, key, value, _interactive(use_cases), throughput=True)


def _apply_latency(
    it: Intake, key: str, value: Any, targets: list[_UseCase], throughput: bool = False
) -> None:
    """Latency targets from a phrase: each clause that names a metric and a duration (or tokens/s)
    becomes a P95 target on `targets`. A target that cannot be read is kept and printed, never dropped."""
    names = ", ".join(u.name for u in targets)
    clauses = (
        [value] if not isinstance(value, str) else [c for c in re.split(r"[;,]|\band\b", value) if c.strip()]
    )
    applied = 0
    for clause in clauses:
        text = str(clause)
        rate = p.tokens_per_s(clause) if (throughput or isinstance(clause, str)) else None
        if rate is not None and (throughput or _RATE_WORDS.search(text)):
            if re.search(r"aggregate|total|system|overall|cluster", text, re.I):
                it.ignored(
                    key,
                    clause,
                    "a whole-system token rate is not a per-user target (kept for the design "
                    "load); NOT APPLIED as a latency target",
                )
                continue
            itl = round(1000.0 / rate, 1) if rate > 0 else None
            if itl is None:
                continue
            for u in targets:
                u.latency["itl_p95_ms"] = min(u.latency.get("itl_p95_ms", itl), itl)
            it.parsed(key, clause, f"itl_p95_ms = {itl:g} (= 1000 / {rate:g} tokens/s per user) for {names}")
            applied += 1
            continue
        ms = p.duration_ms(clause)
        if ms is None or ms <= 0:
            continue
        if _ITL.search(text):
            metric, val = "itl_p95_ms", ms
        elif _E2E.search(text):
            metric, val = "e2e_p95_s", ms / 1000
        elif _TTFT.search(text):
            metric, val = "ttft_p95_ms", ms
        else:
            metric, val = "ttft_p95_ms", ms
            for u in targets:
                u.latency[metric] = min(u.latency.get(metric, val), val)
            it.guessed(
                key, clause, f"{metric} = {val:g} for {names} (no metric named: taken as time to first token)"
            )
            applied += 1
            continue
        for u in targets:
            u.latency[metric] = min(u.latency.get(metric, val), val)
        it.parsed(key, clause, f"{metric} = {val:g} for {names}")
        applied += 1
        if re.search(r"\bp(50|90|99)\b|median|average|mean", text, re.I):
            it.notes.append(f"{key}: {_text(clause)} is not a P95 figure; Garrison holds it as a P95 target")
    if not applied:
        it.ignored(
            key,
            value,
            "no duration or token rate in it: target NOT APPLIED (say e.g. 'first token under 2 s')",
        )


_RATE_WORDS = re.compile(r"tokens?\s*(/|per)\s*s|tok/s", re.I)


# ------------------------------------------------------------------ availability
def _availability(
    it: Intake, slots: Mapping[str, list[tuple[str, Any]]], use_cases: list[_UseCase]
) -> float | None:
    entry = _first(slots, "availability", it)
    if entry is None:
        return None
    key, value = entry
    return _apply_availability(it, key, value, use_cases)


def _apply_availability(it: Intake, key: str, value: Any, targets: list[_UseCase]) -> float | None:
    pct = p.percent(value) if not isinstance(value, bool) else None
    wants_ha = bool(value) if isinstance(value, bool) else pct is not None and pct >= 99.0
    if isinstance(value, str) and re.search(r"\b(high|ha|redundan|failover|no single point)", value, re.I):
        wants_ha = True
    if pct is not None and not 0 < pct < 100:
        it.ignored(key, value, "an availability must be between 0 and 100 %")
        return None
    if not wants_ha and pct is None:
        it.ignored(key, value, "no availability figure in it")
        return None
    for u in targets:
        u.ha = u.ha or wants_ha
    result = (f"availability target {pct:g} %" if pct is not None else "high availability") + (
        "; high_availability = true (2+ replicas on separate servers) for "
        + ", ".join(u.name for u in targets)
        if wants_ha
        else ""
    )
    (it.guessed if pct is not None and wants_ha else it.parsed)(key, value, result)
    return pct


# ------------------------------------------------------------------ money, security, hardware, licences
def _budget(it: Intake, slots: Mapping[str, list[tuple[str, Any]]]) -> dict[str, float]:
    out: dict[str, float] = {}
    last_currency = [""]

    def take(key: str, value: Any, force_opex: bool) -> None:
        m = p.money(value)
        if m is None or m.amount <= 0:
            it.ignored(key, value, "no amount in it: budget NOT APPLIED")
            return
        field = "opex_usd_per_year" if (m.per_year or force_opex) else "capex_usd"
        if field in out:
            it.ignored(key, value, f"budget.{field} already given")
            return
        out[field] = m.amount
        currency = m.currency or last_currency[0] or "USD"
        last_currency[0] = currency
        if currency != "USD":
            it.guessed(
                key,
                value,
                f"budget.{field} = {m.amount:,.0f} (a {currency} amount taken as USD: "
                "no exchange rate offline)",
            )
        else:
            it.parsed(key, value, f"budget.{field} = {m.amount:,.0f} USD")

    for slot, opex in (("budget", False), ("opex", True)):
        for key, value in slots.get(slot, []):
            if isinstance(value, dict):
                for k, v in value.items():
                    nk = _norm(k)
                    if nk in ("capex", "hardware", "capital", "upfront", "total", "amount", "envelope"):
                        take(f"{key}.{k}", v, False)
                    elif nk in ("opex", "annual", "yearly", "running", "operating", "per_year"):
                        take(f"{key}.{k}", v, True)
                    else:
                        it.ignored(f"{key}.{k}", v, "not a budget figure Garrison uses")
            elif isinstance(value, str):
                for clause in p.clauses(value):
                    take(key, clause, opex)
            else:
                take(key, value, opex)
    return out


_AIRGAP = re.compile(r"air[- ]?gap|offline|no internet|disconnected|isolated network|no egress", re.I)
_VLAN = re.compile(r"vlan|segment", re.I)
_ZT = re.compile(r"zero[- ]?trust|mtls|mutual tls", re.I)


def _security(it: Intake, slots: Mapping[str, list[tuple[str, Any]]]) -> dict[str, Any]:
    sec: dict[str, Any] = {}
    for key, value in slots.get("security", []):
        if isinstance(value, bool):
            flag = _norm(key.rsplit(".", 1)[-1])
            if "air" in flag or "gap" in flag:
                sec["air_gapped"] = value
                it.parsed(key, value, f"security.air_gapped = {value}")
            else:
                it.ignored(key, value, "a yes/no without a control named")
            continue
        items = [f"{k}: {v}" for k, v in value.items()] if isinstance(value, dict) else p.split_list(value)
        for item in items:
            hit = []
            if _AIRGAP.search(item) and not re.search(r"\bnot\b|\bno\b air", item, re.I):
                sec["air_gapped"] = True
                hit.append("security.air_gapped = true")
            if _VLAN.search(item):
                sec["vlan_segmented"] = True
                hit.append("security.vlan_segmented = true")
            if _ZT.search(item):
                sec["zero_trust_gateway"] = True
                hit.append("security.zero_trust_gateway = true")
            if hit:
                it.parsed(key, item, "; ".join(hit))
            else:
                it.ignored(
                    key,
                    item,
                    "no control Garrison renders named in it (TLS, API keys and denied egress are always on)",
                )
    known: list[str] = []
    for key, value in slots.get("compliance", []):
        regimes, verbatim = p.compliance(value)
        for r in regimes:
            if r not in known:
                known.append(r)
        for v in verbatim:
            if v not in known:
                known.append(v)
        if regimes:
            it.parsed(key, value, "security.compliance += " + ", ".join(regimes))
        if verbatim:
            it.guessed(
                key,
                value,
                "security.compliance += "
                + ", ".join(repr(v) for v in verbatim)
                + " (no known regime named: kept as written)",
            )
    if known:
        sec["compliance"] = known
    entry = _first(slots, "residency", it)
    if entry is not None:
        key, value = entry
        text = _text(value)
        if text:
            sec["data_residency"] = text
            it.parsed(key, value, f"security.data_residency = {text!r}")
    for key, value in slots.get("networks", []):
        import ipaddress

        ok, bad = [], []
        for n in p.split_list(value):
            try:
                ipaddress.ip_network(n, strict=False)
                ok.append(n)
            except ValueError:
                bad.append(n)
        if ok:
            sec["internal_networks"] = ok
            it.parsed(key, value, "security.internal_networks = " + ", ".join(ok))
        if bad:
            it.ignored(key, ", ".join(bad), "not networks in CIDR form")
    return sec


def _power(it: Intake, slots: dict[str, list[tuple[str, Any]]]) -> dict[str, float]:
    prices = []
    for key, value in slots.get("power", []):
        if (
            isinstance(value, str)
            and re.search(r"\bk?w\b", value, re.I)
            and not re.search(r"kwh", value, re.I)
        ):
            slots.setdefault("site_power", []).insert(0, (key, value))  # "10 kW available": a site limit
        else:
            prices.append((key, value))
    if not prices:
        return {}
    for key, value in prices[1:]:
        it.ignored(key, value, f"a second value for the same thing as {prices[0][0]}")
    key, value = prices[0]
    n = p.number(value)
    if n is None or not 0 < n <= 5:
        it.ignored(key, value, "no price per kWh in it (0-5)")
        return {}
    if isinstance(value, str) and re.search(r"€|eur|£|gbp", value, re.I):
        it.guessed(key, value, f"power.usd_per_kwh = {n:g} (taken as USD)")
    else:
        it.parsed(key, value, f"power.usd_per_kwh = {n:g}")
    return {"usd_per_kwh": n}


def _hardware(it: Intake, slots: Mapping[str, list[tuple[str, Any]]]) -> dict[str, Any]:
    owned: list[dict[str, Any]] = []
    hw: dict[str, Any] = {}
    for key, value in slots.get("hardware", []):
        items = [f"{v} x {k}" for k, v in value.items()] if isinstance(value, dict) else p.split_list(value)
        for item in items:
            if re.search(r"cpu[- ]only|no gpus?", item, re.I):
                hw["cpu_only"] = True
                it.parsed(key, item, "hardware.cpu_only = true")
                continue
            m = re.match(r"\s*(\d+)\s*(?:x|×|\*)?\s*(.+)$", item) or re.match(
                r"\s*(.+?)\s*(?:x|×|\*)\s*(\d+)\s*$", item
            )
            count, name = (1, item.strip())
            if m:
                a, b = m.group(1), m.group(2)
                count, name = (int(a), b) if a.isdigit() else (int(b), a)
            try:
                gpu = it.cat.gpu(name.strip())
            except GarrisonError:
                it.ignored(key, item, "no GPU in the catalogue by that name")
                continue
            owned.append({"name": gpu.id, "count": count})
            it.parsed(key, item, f"hardware.owned_gpus += {count} x {gpu.id}")
    if owned:
        hw["owned_gpus"] = owned
    return hw


def _licences(it: Intake, slots: Mapping[str, list[tuple[str, Any]]]) -> list[str]:
    ids: list[str] = []
    for key, value in slots.get("licences", []):
        found, rest = p.licences(value)
        ids += [i for i in found if i not in ids]
        if found:
            it.parsed(key, value, "allowed licences " + ", ".join(found))
        if rest:
            it.ignored(key, ", ".join(rest), "no licence Garrison knows named in it")
    return ids


def _deadline(it: Intake, slots: Mapping[str, list[tuple[str, Any]]]) -> str | None:
    entry = _first(slots, "deadline", it)
    if entry is None:
        return None
    key, value = entry
    text = _text(value)
    due = p.deadline_date(text)
    if due is None:
        it.ignored(key, value, "no date in it: hardware lead times are not checked against it")
    else:
        it.parsed(
            key, value, f"site.deadline = {due.isoformat()} (hardware lead times are checked against it)"
        )
    return text


def _site(it: Intake, slots: Mapping[str, list[tuple[str, Any]]], deadline: str | None) -> dict[str, Any]:
    """Deadline, power and rack space the site offers (requirements.site)."""
    site: dict[str, Any] = {}
    due = p.deadline_date(deadline) if deadline else None
    if due is not None:
        site["deadline"] = due.isoformat()
    readers: tuple[tuple[str, str, str, Callable[[Any], float | None]], ...] = (
        ("site_power", "power_kw", "kW", _kw),
        ("rack_space", "rack_units", "U", _units),
        ("cooling", "cooling_btu_h", "BTU/h", p.number),
    )
    for slot, field_name, unit, read in readers:
        entry = _first(slots, slot, it)
        if entry is None:
            continue
        key, value = entry
        n = read(value)
        if n is None or n <= 0:
            it.ignored(key, value, f"no {unit} figure in it")
            continue
        site[field_name] = round(n) if field_name == "rack_units" else n
        it.parsed(key, value, f"site.{field_name} = {site[field_name]:g}")
    return site


def _kw(value: Any) -> float | None:
    """'10 kW' -> 10, '12,000 W' -> 12, 8 -> 8 (a bare number is kW)."""
    if isinstance(value, str):
        m = re.search(r"(\d[\d,.]*)\s*(kw|w)\b", value, re.I)
        if m:
            n = float(m.group(1).replace(",", ""))
            return n if m.group(2).lower() == "kw" else n / 1000
    return p.number(value)


def _units(value: Any) -> float | None:
    """'8U', '8 rack units', 12 -> rack units."""
    if isinstance(value, str):
        value = re.sub(r"(?i)(\d)\s*u\b", r"\1", value)
    n = p.count(value)
    return None if n is None else float(n)


def intake_lines(record: Handoff) -> list[str]:
    """One line per guessed or ignored hand-off value, with the guess: what `plan` prints on stderr."""
    out = []
    for f in record.fields:
        if f.status == "parsed":
            continue
        out.append(f"hand-off {f.status}: {f.key} = {f.value!r} -> {f.result}")
    out += [
        f"hand-off note: {n}"
        for n in record.notes
        if not any(n == f"{f.key}: {f.value}" for f in record.fields)
    ]
    return out
