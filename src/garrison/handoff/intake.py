"""Hand-off in: turn what another agent writes into Garrison's requirements, in one pass.

Accepts the role description's `handoff: {source_agent, context: {...}, request}` and what its
neighbours plausibly add (organisation, team size, use cases, budget, compliance, residency, deadline,
latency targets, models with sizes and precision, owned hardware, licences, availability), with values
as numbers or as free-form strings. Each value is either parsed, guessed (and the guess recorded), or
kept verbatim as a note; nothing is dropped, and a target or a compliance requirement is never left out
without a line saying so. The record of what happened travels in `Requirements.handoff`, so design.json,
the report and the hand-offs out all carry it.

The readers are split by what they read: `intake_models`, `intake_use_cases` (use cases, load, context,
latency, availability), `intake_limits` (budget, security, power, hardware, licences, site); the state
is `intake_record`; the key spellings are data (data/handoff_keys.yaml, `keys.slot_of`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from garrison.errors import InputError
from garrison.handoff import parse as p
from garrison.handoff.intake_limits import (
    read_budget,
    read_deadline,
    read_hardware,
    read_licences,
    read_power,
    read_security,
    read_site,
)
from garrison.handoff.intake_models import read_models
from garrison.handoff.intake_record import UNNAMED, Intake, as_text, first_entry, norm_key
from garrison.handoff.intake_use_cases import (
    read_availability,
    read_context,
    read_latency,
    read_loads,
    read_team_size,
    read_throughput,
    read_use_cases,
    use_case_dict,
)
from garrison.handoff.keys import slot_of
from garrison.requirements import Handoff

ORG_NAME_MAX = 150  # Organisation.name allows 200; a longer "name" is a sentence, kept whole in the record


def _entries(doc: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str | None, Any]]]:
    """The hand-off mapping and its (path, slot, value) entries: context keys, keys beside context,
    and keys beside `handoff` at the top level."""
    h = doc["handoff"]
    if not isinstance(h, dict):
        raise InputError("handoff", "must be a mapping", "see docs/handoff.md for the hand-off shape")
    out: list[tuple[str, str | None, Any]] = []
    ctx = h.get("context")
    if isinstance(ctx, dict):
        out += [(f"context.{k}", slot_of(norm_key(k)), v) for k, v in ctx.items()]
    elif ctx is not None:
        out.append(("context", None, ctx))
    for k, v in h.items():
        if k not in ("source_agent", "target_agent", "context", "request"):
            out.append((str(k), slot_of(norm_key(k)), v))
    for k, v in doc.items():
        if k != "handoff":
            out.append((f"(top level).{k}", slot_of(norm_key(k)), v))
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
    models = read_models(it, slots)
    use_cases = read_use_cases(it, slots, models)
    read_loads(it, slots, use_cases)
    read_context(it, slots, use_cases)
    read_latency(it, slots, use_cases)
    read_throughput(it, slots, use_cases)
    availability = read_availability(it, slots, use_cases)
    req: dict[str, Any] = {
        "organisation": {"name": org_name, "team_size": read_team_size(it, slots, org_team, use_cases)},
        "use_cases": [use_case_dict(u) for u in use_cases],
    }
    for key, value in (
        ("budget", read_budget(it, slots)),
        ("security", read_security(it, slots)),
        ("power", read_power(it, slots)),
        ("hardware", read_hardware(it, slots)),
    ):
        if value:
            req[key] = value
    licences = read_licences(it, slots)
    if licences:
        for uc in req["use_cases"]:
            uc["licences"] = list(licences)
    deadline = read_deadline(it, slots)
    site = read_site(it, slots, deadline)
    if site:
        req["site"] = site
    compliance_text = [f"{path}: {as_text(v)}" for path, v in slots.get("compliance", [])]
    compliance_text += [f"{path}: {as_text(v)}" for path, v in slots.get("residency", [])]
    req["compliance_notes"] = "\n".join(compliance_text)
    req["handoff"] = Handoff(
        source_agent=str(h.get("source_agent") or ""),  # a name: refused by garrison.names if not one line
        request=as_text(h.get("request") or ""),
        deadline=deadline,
        availability_pct=availability,
        licences=tuple(licences),
        fields=tuple(it.fields),
        notes=tuple(it.notes),
    ).model_dump()
    return req


def _organisation(it: Intake, slots: Mapping[str, list[tuple[str, Any]]]) -> tuple[str, int | None]:
    entry = first_entry(slots, "organisation", it)
    team: int | None = None
    if entry is None:
        it.guessed("organisation", "(absent)", f"organisation.name = {UNNAMED!r} (the hand-off names none)")
        return UNNAMED, None
    path, value = entry
    if isinstance(value, dict):
        name = None
        for k, v in value.items():
            nk = norm_key(k)
            if nk in ("name", "organisation", "organization", "company") and isinstance(v, str) and v.strip():
                name = as_text(v, limit=ORG_NAME_MAX)
                it.parsed(f"{path}.{k}", v, f"organisation.name = {name!r}")
            elif slot_of(nk) == "team_size" or nk in ("size",):
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
        name = as_text(value, limit=ORG_NAME_MAX)
        it.parsed(path, value, f"organisation.name = {name!r}")
        return name, None
    it.guessed(path, value, f"organisation.name = {UNNAMED!r} (not a name)")
    return UNNAMED, None


# ------------------------------------------------------------------ models


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
