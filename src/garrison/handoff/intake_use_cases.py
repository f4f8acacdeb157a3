"""Hand-off use cases and what they need: kinds and FIM from phrases, models assigned, load (concurrent
users, request volume, tokens), context lengths, latency and throughput targets, availability."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from garrison.handoff import parse as p
from garrison.handoff.intake_models import catalogue_model, model_from_mapping, model_named
from garrison.handoff.intake_record import (
    Intake,
    ModelDraft,
    UseCaseDraft,
    as_text,
    first_entry,
    norm_key,
)
from garrison.handoff.keys import slot_of


def use_case_dict(u: UseCaseDraft) -> dict[str, Any]:
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


_USER_NOUNS = (
    r"(users?|developers?|engineers?|people|staff|seats|analysts?|agents?|employees|members|clerks?)"
)


def _users_in(text: str) -> int | None:
    m = re.search(r"(\d[\d,.]*\s*[kK]?)\s*(?:\w+\s+){0,2}" + _USER_NOUNS, text)
    return p.count(m.group(1)) if m else None


def read_use_cases(
    it: Intake, slots: Mapping[str, list[tuple[str, Any]]], models: list[ModelDraft]
) -> list[UseCaseDraft]:
    drafts: list[UseCaseDraft] = []
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


def _use_case_from(it: Intake, key: str, item: Any) -> UseCaseDraft | None:
    if isinstance(item, dict):
        desc = " ".join(
            str(item[k])
            for k in item
            if norm_key(k) in ("name", "use_case", "description", "kind", "type", "purpose")
        )
        kind_key = next((k for k in item if norm_key(k) in ("kind", "type")), None)
        kind_fim = p.kind_of(str(item[kind_key])) if kind_key else None
        kind_fim = kind_fim or p.kind_of(desc)
        name_key = next((k for k in item if norm_key(k) in ("name", "use_case")), None)
        name = p.slug(str(item[name_key]) if name_key else desc, "use-case")
        u = UseCaseDraft(name, *(kind_fim or ("chat", False)), origin=key)
        if kind_fim is None:
            it.guessed(key, desc or item, f"use case {name}: kind chat (no kind cue in it)")
        else:
            it.parsed(key, desc or item, f"use case {name}: kind {u.kind}" + (", FIM" if u.fim else ""))
        _use_case_details(it, key, item, u)
        return u
    text = as_text(item)
    if not text:
        return None
    kind_fim = p.kind_of(text)
    short = re.sub(r"^(a|an|the)\s+", "", re.sub(r"\bfor\b.*$", "", text).strip(), flags=re.IGNORECASE)
    name = p.slug(short or text, "use-case")
    u = UseCaseDraft(name, *(kind_fim or ("chat", False)), origin=key)
    u.users = _users_in(text)
    detail = f"use case {name}: kind {u.kind}" + (", FIM" if u.fim else "")
    detail += f", {u.users} users" if u.users else ""
    if kind_fim is None:
        it.guessed(key, text, detail + " (no kind cue in it: chat assumed)")
    else:
        it.parsed(key, text, detail)
    return u


def _use_case_details(it: Intake, key: str, item: dict[str, Any], u: UseCaseDraft) -> None:
    """Per-use-case values inside a use-case mapping."""
    for k, v in item.items():
        nk = norm_key(k)
        path = f"{key}.{k}"
        slot = slot_of(nk)
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
                    model_from_mapping(it, f"{path}[{i}]", m)
                    if isinstance(m, dict)
                    else [x for x in [model_named(it, f"{path}[{i}]", str(m), None)] if x]
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


def _assign_models(it: Intake, drafts: list[UseCaseDraft], models: list[ModelDraft]) -> None:
    """Give every model a use case and every use case a model (or `recommend`), printing each guess."""
    if not drafts:
        for m in models:
            kind = m.kinds[0]
            u = UseCaseDraft(
                kind, kind, m.fim and kind == "code", origin="selected models", models=[dict(m.ref)]
            )
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
            drafts.append(UseCaseDraft("chat", "chat", False, origin="(none)"))
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
                row = catalogue_model(it, ref.get("id", "")) if "id" in ref else None
                if row is not None and not row.fim:
                    it.notes.append(
                        f"use case {u.name}: FIM asked but {row.id} documents no fill-in-the-middle; "
                        "the planner decides (see escalations)"
                    )


# ------------------------------------------------------------------ load
def _spread(
    it: Intake, key: str, value: Any, n: int, use_cases: list[UseCaseDraft], attr: str, what: str
) -> None:
    """Give `n` to one use case, or split it evenly (rounded up) across several, as a printed guess."""
    pool = interactive(use_cases) if attr == "concurrent" else use_cases
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


def read_loads(it: Intake, slots: Mapping[str, list[tuple[str, Any]]], use_cases: list[UseCaseDraft]) -> None:
    entry = first_entry(slots, "concurrent", it)
    if entry is not None:
        key, value = entry
        n = p.count(value)
        if n:
            _spread(it, key, value, n, use_cases, "concurrent", "concurrent requests")
        else:
            it.ignored(key, value, "no number in it (load taken from the team size instead)")
    for key, value in slots.get("volume", []):
        _apply_volume(it, key, norm_key(key.rsplit(".", 1)[-1]), value, use_cases)
    for slot in ("input_tokens", "output_tokens"):
        entry = first_entry(slots, slot, it)
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


def _apply_volume(it: Intake, key: str, nk: str, value: Any, use_cases: list[UseCaseDraft]) -> None:
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


def read_team_size(
    it: Intake,
    slots: Mapping[str, list[tuple[str, Any]]],
    org_team: int | None,
    use_cases: list[UseCaseDraft],
) -> int:
    entry = first_entry(slots, "team_size", it)
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
def read_context(
    it: Intake, slots: Mapping[str, list[tuple[str, Any]]], use_cases: list[UseCaseDraft]
) -> None:
    entry = first_entry(slots, "context", it)
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
    row = catalogue_model(it, name)
    return row is not None and row.id == model_id


_TTFT = re.compile(r"first[- ]token|ttft|time to first|start(s|ing)? (to )?(stream|answer|respond)", re.I)
_ITL = re.compile(r"inter[- ]?token|itl|tpot|per[- ]token|between tokens|token latency", re.I)
_E2E = re.compile(r"end[- ]to[- ]end|e2e|full (answer|response)|complete (answer|response)|total", re.I)


def interactive(use_cases: list[UseCaseDraft]) -> list[UseCaseDraft]:
    return [u for u in use_cases if u.kind != "batch"] or use_cases


def read_latency(
    it: Intake, slots: Mapping[str, list[tuple[str, Any]]], use_cases: list[UseCaseDraft]
) -> None:
    for key, value in slots.get("latency", []):
        if isinstance(value, dict):
            for k, v in value.items():
                hits = [u for u in use_cases if p.slug(str(k), "") in (u.name, u.kind)]
                if hits:
                    _apply_latency(it, f"{key}.{k}", v, hits)
                else:
                    _apply_latency(it, f"{key}.{k}", f"{k}: {v}", interactive(use_cases))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                _apply_latency(it, f"{key}[{i}]", v, interactive(use_cases))
        else:
            _apply_latency(it, key, value, interactive(use_cases))


def read_throughput(
    it: Intake, slots: Mapping[str, list[tuple[str, Any]]], use_cases: list[UseCaseDraft]
) -> None:
    for key, value in slots.get("throughput", []):
        _apply_latency(it, key, value, interactive(use_cases), throughput=True)


def _apply_latency(
    it: Intake, key: str, value: Any, targets: list[UseCaseDraft], throughput: bool = False
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
            it.notes.append(
                f"{key}: {as_text(clause)} is not a P95 figure; Garrison holds it as a P95 target"
            )
    if not applied:
        it.ignored(
            key,
            value,
            "no duration or token rate in it: target NOT APPLIED (say e.g. 'first token under 2 s')",
        )


_RATE_WORDS = re.compile(r"tokens?\s*(/|per)\s*s|tok/s", re.I)


# ------------------------------------------------------------------ availability
def read_availability(
    it: Intake, slots: Mapping[str, list[tuple[str, Any]]], use_cases: list[UseCaseDraft]
) -> float | None:
    entry = first_entry(slots, "availability", it)
    if entry is None:
        return None
    key, value = entry
    return _apply_availability(it, key, value, use_cases)


def _apply_availability(it: Intake, key: str, value: Any, targets: list[UseCaseDraft]) -> float | None:
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
