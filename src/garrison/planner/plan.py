"""`plan`: requirements in, a ranked, simulated and justified Design out (pure: inputs are passed in).

Per use case: targets (targets.py) and load (load.py); the models (stated, or a search over the
catalogue: recommend.py); every device x count x format x engine sized analytically (candidates.py) and
costed (ranking.py); the best candidates verified by simulation in rank order until no unsimulated
candidate can beat the best verified one (simulated.py; simulation only ever adds replicas, so the
analytic cost is a lower bound); the Deployment built (deployment.py). Then the bill of materials, the
costs over the one horizon, the site checks (site.py) and the escalations, each option re-planned and
costed (escalations.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date

from garrison import __version__
from garrison.catalogue import Catalogue
from garrison.catalogue.schema import CPU, GPU
from garrison.design import Costs, Deployment, Design, Escalation, Range
from garrison.errors import InputError
from garrison.modelspec.spec import ModelSpec
from garrison.planner import escalations as esc
from garrison.planner import recommend as rec
from garrison.planner.bom import ServerPlan, colocate_gateway, gateway_servers, gpus_per_chassis
from garrison.planner.candidates import Sized, enumerate_options, size_option
from garrison.planner.deployment import build_deployment
from garrison.planner.load import LoadTarget, derive_load
from garrison.planner.ranking import (
    MAINTENANCE_FRACTION,
    OwnedPool,
    Ranked,
    SiteCaps,
    annual_power_usd,
    cost_option,
    describe,
    host_cpu,
    n_plus_one,
    rank_key,
    servers_for,
    survivors,
)
from garrison.planner.simulated import SimulatedSizing, finish, verdict
from garrison.planner.site import site_escalations
from garrison.planner.tables import ServerParts, server_parts, usage_profiles
from garrison.planner.targets import Targets, targets_for
from garrison.requirements import ModelRef, Requirements, UseCase
from garrison.sizing.efficiency import DEFAULT_EFFICIENCY, Efficiency
from garrison.sizing.formats import native_format

ModelLoader = Callable[[ModelRef], tuple[str, ModelSpec]]
# Candidates verified by simulation per model before the planner settles for the best verified one.
MAX_SIMULATED = 6


@dataclass(frozen=True)
class _Ctx:
    """What every step of one plan() call reads."""

    req: Requirements
    cat: Catalogue
    parts: ServerParts
    eff: Efficiency
    simulate: bool
    load_model: ModelLoader
    gpus: list[GPU]
    cpus: list[CPU]
    site: SiteCaps
    budget_left: float | None


@dataclass
class _ModelResult:
    """One model of one use case: its ranked options and the verified choice."""

    key: str
    spec: ModelSpec
    ranked: list[Ranked]
    sized_all: list[Sized]
    evaluated: int
    best: Ranked | None = None
    sim: SimulatedSizing | None = None
    held: bool = False  # the simulation found a replica count that holds every target
    notes: list[str] = field(default_factory=list)
    dep_name: str = ""


def _candidate_devices(req: Requirements, cat: Catalogue) -> tuple[list[GPU], list[CPU], list[str]]:
    hw = req.hardware
    notes: list[str] = []
    if hw.cpu_only:
        cpus = [cat.cpu(hw.cpu)] if hw.cpu else [c for c in cat.cpus.values() if c.price is not None]
        return [], cpus, notes
    owned = [cat.gpu(o.name) for o in hw.owned_gpus]
    if hw.owned_only:
        return list(dict.fromkeys(owned)), [], notes
    if hw.allowed_gpus:
        gpus = [cat.gpu(n) for n in hw.allowed_gpus]
    else:
        gpus = [g for g in cat.gpus.values() if g.price is not None]
    consumer_ok = hw.allow_consumer_gpus
    if consumer_ok is None:
        consumer_ok = not req.security.compliance and not any(u.high_availability for u in req.use_cases)
        if not consumer_ok:
            notes.append(
                "consumer (GeForce) GPUs excluded: compliance or high availability asked, and NVIDIA's "
                "GeForce licence excludes data-centre use; set hardware.allow_consumer_gpus to override"
            )
    if not consumer_ok:
        gpus = [g for g in gpus if g.segment != "consumer"]
    for g in owned:
        if g not in gpus:
            gpus.append(g)
    return gpus, [], notes


def _owned_pool(req: Requirements, cat: Catalogue, parts: ServerParts) -> OwnedPool:
    pool: dict[str, tuple[int, int]] = {}
    for o in req.hardware.owned_gpus:
        g = cat.gpu(o.name)
        per = o.per_server or min(o.count, gpus_per_chassis(g, parts))
        have, _ = pool.get(g.id, (0, per))
        pool[g.id] = (have + o.count, per)
    return OwnedPool(pool)


def failover_rpm(uc: UseCase, load: LoadTarget, targets: Targets) -> float | None:
    """The load a highly available deployment must still carry with one server down: today's busy hour
    (growth headroom excluded: a failure and the full growth are not planned to coincide). None when
    there is nothing to check (no HA, no latency target, or a load stated as concurrency)."""
    if not uc.high_availability or not targets.any or load.design_rpm <= 0:
        return None
    return load.requests_per_minute


def _check_licence(uc: UseCase, key: str, cat: Catalogue) -> None:
    """An explicitly named catalogue model under a licence the use case does not accept is an input error."""
    if not uc.licences:
        return
    entry = cat.models.get(key)
    if entry is None:
        return  # a local folder or file: its licence is the operator's to check
    if entry.licence_id not in uc.licences:
        raise InputError(
            f"use_cases[{uc.name}].models",
            f"{entry.id} is licensed {entry.license}, not one of {', '.join(uc.licences)}",
            "name a model under an accepted licence, add its licence to use_cases[].licences, or use `recommend`",
        )


def _evaluate(
    ctx: _Ctx,
    uc: UseCase,
    key: str,
    spec: ModelSpec,
    ref: ModelRef,
    load: LoadTarget,
    targets: Targets,
    owned: OwnedPool,
    dep_name: str = "",
) -> _ModelResult:
    """Every option of one model, sized and costed, ranked (analytically)."""
    sized_all: list[Sized] = []
    evaluated = 0
    owned_ids = frozenset(g for g, (n, _) in owned.gpus.items() if n > 0)
    per_owned = {g: per for g, (n, per) in owned.gpus.items() if n > 0}

    def per_chassis(g: GPU) -> int:
        return max(gpus_per_chassis(g, ctx.parts), per_owned.get(g.id, 0))

    for opt in enumerate_options(
        key,
        spec,
        ctx.gpus,
        ctx.cpus,
        ctx.cat.quant_formats,
        ref.quant,
        ctx.req.hardware.allowed_engines,
        ctx.req.hardware.max_gpus_per_server,
        per_chassis,
        native_format(spec, ctx.cat) if spec.source == "gguf" else None,
        owned=owned_ids,
    ):
        s = size_option(
            opt,
            kind=uc.kind,
            context_length=uc.context_length,
            load=load,
            targets=targets,
            high_availability=uc.high_availability,
            eff=ctx.eff,
        )
        evaluated += 1
        if s is not None:
            sized_all.append(s)
    fail = failover_rpm(uc, load, targets)
    costed = (
        cost_option(s, ctx.req, uc, ctx.cat, ctx.parts, owned, ctx.site, ctx.budget_left, dep_name, fail)
        for s in sized_all
        if s.meets
    )
    ranked = [r for r in costed if r.feasible]
    if ctx.req.hardware.owned_only:
        ranked = [
            r
            for r in ranked
            if r.bought_gpus == 0 and (r.sized.option.gpu is not None or ctx.req.hardware.cpu_only)
        ]
    ranked.sort(key=rank_key)
    return _ModelResult(key, spec, ranked, sized_all, evaluated, dep_name=dep_name)


def _verify(
    ctx: _Ctx, uc: UseCase, mr: _ModelResult, load: LoadTarget, targets: Targets, owned: OwnedPool
) -> None:
    """Simulate candidates in rank order until no unsimulated one can beat the best verified one."""
    if not mr.ranked:
        return
    if not ctx.simulate:
        mr.best = mr.ranked[0]
        return
    best: Ranked | None = None
    refuted: list[str] = []
    outcome: dict[int, Ranked] = {}  # id(option) -> the simulated version of that ranked entry
    fail = failover_rpm(uc, load, targets)
    ha_notes: dict[int, str] = {}
    for r in mr.ranked[:MAX_SIMULATED]:
        if best is not None and rank_key(r) >= rank_key(best):
            break  # its analytic cost is a lower bound: simulation can only add replicas
        # simulate what the load needs; cost_option fills boards / owned boxes again afterwards
        base = replace(r.sized, replicas=r.filled_from) if r.filled_from else r.sized
        v = verdict(base, load, targets, ctx.eff)
        if v.replicas is None:
            refuted.append(describe(r))
            outcome[id(r.sized.option)] = replace(r, refuted=True, simulated=True)
            continue
        replicas = v.replicas
        if fail is not None and not base.option.owned:
            replicas, ha_note = _simulated_n_plus_one(
                ctx, replace(base, replicas=replicas), load, targets, fail
            )
            ha_notes[id(r.sized.option)] = ha_note
        verified = cost_option(
            replace(base, replicas=replicas),
            ctx.req,
            uc,
            ctx.cat,
            ctx.parts,
            owned,
            ctx.site,
            ctx.budget_left,
            mr.dep_name,
        )
        verified = replace(verified, simulated=True)
        outcome[id(r.sized.option)] = verified
        if ctx.req.hardware.owned_only and verified.bought_gpus:
            mr.notes.append(
                f"simulation: {verified.sized.replicas} replicas needed, more than the owned GPUs hold"
            )
            continue
        if best is None or rank_key(verified) < rank_key(best):
            best = verified
    if refuted:
        mr.notes.append(
            "simulation refuted the analytic sizing of: "
            + "; ".join(refuted)
            + " (no replica count up to 64 "
            "holds the targets)"
        )
    if best is not None:
        mr.best, mr.held = best, True
        mr.sim = finish(best.sized, load, targets, ctx.eff, best.sized.replicas, held=True)
        if id(best.sized.option) in ha_notes:
            mr.notes.append(ha_notes[id(best.sized.option)])
    else:  # nothing holds: report the analytic best with the simulation's verdict (an escalation follows)
        mr.best = mr.ranked[0]
        mr.sim = finish(mr.best.sized, load, targets, ctx.eff, mr.best.sized.replicas, held=False)
    # the verified choice leads; simulated entries carry the simulation's replicas (or its refutation),
    # the rest their analytic numbers
    chosen_opt = mr.best.sized.option
    rest = [outcome.get(id(r.sized.option), r) for r in mr.ranked if r.sized.option is not chosen_opt]
    mr.ranked = [mr.best, *sorted(rest, key=lambda r: (not r.refuted, rank_key(r)))]


def _simulated_n_plus_one(
    ctx: _Ctx, s: Sized, load: LoadTarget, targets: Targets, fail_rpm: float
) -> tuple[int, str]:
    """Replicas (>= s.replicas) that keep the P95 targets at today's busy-hour load with one server down,
    by simulation, and the sentence that says so."""
    today = replace(load, design_rpm=fail_rpm)
    alone = verdict(replace(s, replicas=1), today, targets, ctx.eff).replicas
    need = alone if alone is not None else s.replicas
    r = n_plus_one(s, ctx.parts, need)
    servers = servers_for(r, ctx.parts, True)
    left = survivors(r, ctx.parts, True)
    note = (
        f"high availability (N+1): with one of the {servers} servers down, {left} replica(s) remain and "
        f"{need} hold the P95 targets at today's busy-hour load ({fail_rpm:,.1f} req/min, before the growth "
        "headroom; simulated)"
    )
    if r.replicas > s.replicas:
        note += f"; {r.replicas} replicas where the design load alone needs {s.replicas}"
    return r.replicas, note


def _no_fit(uc: UseCase, mr: _ModelResult) -> Escalation:
    if mr.sized_all:  # it fits somewhere, but never within the latency targets
        best = min(mr.sized_all, key=lambda s: s.ttft_ms)
        return Escalation(
            kind="latency",
            field=f"use_cases[{uc.name}].latency",
            problem=f"{mr.key}: no configuration meets the latency targets; best reaches TTFT "
            f"{best.ttft_ms:,.0f} ms and ITL {best.itl_ms:,.0f} ms ({'; '.join(best.misses)})",
            options=(),
        )
    return Escalation(
        kind="model-too-large",
        field=f"use_cases[{uc.name}].models",
        problem=f"{mr.key} does not fit any allowed device at context {uc.context_length} in any format tried",
        options=("pin a shorter use_cases[].context_length",),
    )


def _deployment_name(uc: UseCase, key: str, many: bool) -> str:
    if not many:
        return uc.name
    tail = re.sub(r"[^a-z0-9]+", "-", key.rsplit("/", 1)[-1].removesuffix(".gguf").lower()).strip("-")
    return f"{uc.name}-{tail}"[:63].rstrip("-")


def _recommend(
    ctx: _Ctx, uc: UseCase, load: LoadTarget, targets: Targets, owned: OwnedPool
) -> tuple[list[_ModelResult], list[str], int]:
    """Search the catalogue for this use case: the chosen model's result, the explanation, options sized."""
    s = rec.search(uc, ctx.cat)
    results: list[rec.Scored] = []
    by_id: dict[str, _ModelResult] = {}
    budget = ctx.budget_left
    evaluated = 0

    def evaluate(c: rec.ModelCandidate) -> rec.Scored | None:
        nonlocal evaluated
        key, spec = ctx.load_model(ModelRef(id=c.entry.id))
        if uc.context_length > spec.max_context:
            return None
        mr = _evaluate(ctx, uc, key, spec, ModelRef(id=c.entry.id), load, targets, owned)
        evaluated += mr.evaluated
        by_id[c.entry.id] = mr
        top = mr.ranked[0] if mr.ranked else None
        scored = rec.Scored(c, top.tco if top else None, top.capex_mid if top else None, top is not None)
        results.append(scored)
        return scored

    scored = [c for c in s.candidates if c.quality is not None]
    if uc.quality_floor is None and budget is not None:
        for c in scored:  # best score first: the first model that fits the budget is the answer
            r = evaluate(c)
            if r is not None and r.meets and r.capex is not None and r.capex <= budget:
                break
    for c in scored:
        if c.quality is not None and c.quality.score >= s.floor and c.entry.id not in by_id:
            evaluate(c)
    margin = s.index.tie_margin if s.index else 0.0
    if rec.choose(uc, results, s.floor, budget, margin)[0] is None:
        for c in s.candidates:
            if c.quality is None:
                evaluate(c)
    while True:
        chosen, rule = rec.choose(uc, results, s.floor, budget, margin)
        if chosen is None:
            return [], [f"recommend: {rule}"], evaluated
        mr = by_id[chosen.candidate.entry.id]
        _verify(ctx, uc, mr, load, targets, owned)
        if mr.held or not ctx.simulate:
            assert mr.best is not None
            final = replace(chosen, tco=mr.best.tco, capex=mr.best.capex_mid)
            results = [final if r is chosen else r for r in results]
            if budget is not None and chosen.capex is not None and chosen.capex <= budget < mr.best.capex_mid:
                # the simulation held only on a larger configuration, and that one is over the budget:
                # choose again with its real cost
                continue
            return [mr], rec.explain(final, rule, results, s, budget), evaluated
        # the simulation refutes it: drop the model and choose again
        results = [replace(r, meets=False) if r is chosen else r for r in results]


def ranked_options(
    req: Requirements,
    use_case: str,
    ref: ModelRef,
    *,
    catalogue: Catalogue,
    load_model: ModelLoader,
    efficiency: Efficiency = DEFAULT_EFFICIENCY,
) -> list[Ranked]:
    """Every option of one model for one use case, costed and in rank order (before any simulation)."""
    parts = server_parts()
    uc = next(u for u in req.use_cases if u.name == use_case)
    gpus, cpus, _ = _candidate_devices(req, catalogue)
    site = SiteCaps(
        power_w=req.site.power_kw * 1000 if req.site.power_kw is not None else None,
        cooling_btu_h=req.site.cooling_btu_h,
        rack_units=req.site.rack_units,
    )
    ctx = _Ctx(req, catalogue, parts, efficiency, False, load_model, gpus, cpus, site, req.budget.capex_usd)
    load = derive_load(uc, req.organisation.team_size, usage_profiles()[uc.kind], req.growth)
    key, spec = load_model(ref)
    owned = _owned_pool(req, catalogue, parts)
    return _evaluate(ctx, uc, key, spec, ref, load, targets_for(uc), owned).ranked


def plan(
    req: Requirements,
    *,
    catalogue: Catalogue | None = None,
    load_model: ModelLoader | None = None,
    efficiency: Efficiency = DEFAULT_EFFICIENCY,
    simulate: bool = True,
    today: date | None = None,
    escalate: bool = True,
) -> Design:
    """Pick, for every use case and model, the cheapest deployment that fits and holds its targets.

    `today` dates the lead-time check against `site.deadline` (the CLI passes the real date);
    `escalate=False` skips re-planning the escalation options (used when re-planning them).
    """
    if catalogue is None:
        from garrison.catalogue import load_catalogue

        catalogue = load_catalogue()
    if load_model is None:
        from garrison.planner.model_refs import load_model_ref

        load_model = load_model_ref
    cat = catalogue
    parts = server_parts()
    profiles = usage_profiles()
    horizon_years = req.growth.horizon_months / 12
    gpus, cpus, device_notes = _candidate_devices(req, cat)
    site = SiteCaps(
        power_w=req.site.power_kw * 1000 if req.site.power_kw is not None else None,
        cooling_btu_h=req.site.cooling_btu_h,
        rack_units=req.site.rack_units,
    )
    owned = _owned_pool(req, cat, parts)
    deployments: list[Deployment] = []
    chosen: list[Ranked] = []
    escalations: list[Escalation] = []
    pending: list[tuple[Escalation, UseCase, Deployment | None]] = []
    evaluated_total = 0
    assumptions: list[str] = [
        f"catalogue prices and specs as of {cat.as_of}; prices are ranges, not quotes",
        f"power at {req.power.usd_per_kwh} USD/kWh x PUE {req.power.pue}; typical draw = "
        f"{parts.typical_gpu_utilisation:.0%} of GPU TDP + {parts.typical_rest_utilisation:.0%} of the rest",
        f"maintenance {MAINTENANCE_FRACTION:.0%} of the price of bought hardware per year (none on owned kit); "
        f"costs over the {req.growth.horizon_months}-month horizon (growth.horizon_months)",
        *device_notes,
    ]
    budget_left = req.budget.capex_usd
    if budget_left is not None and (
        len(req.use_cases) > 1 or any(u.high_availability for u in req.use_cases)
    ):
        # several use cases (or HA) put two or more inference servers in the design, and then the gateway
        # gets its own node(s): reserve their cost before the models spend the budget
        gw = gateway_servers(
            host_cpu(cat, parts, small=True), any(u.high_availability for u in req.use_cases), parts
        )
        budget_left -= (gw.capex_low + gw.capex_high) / 2
    for uc in req.use_cases:
        ctx = _Ctx(req, cat, parts, efficiency, simulate, load_model, gpus, cpus, site, budget_left)
        targets = targets_for(uc)
        load = derive_load(uc, req.organisation.team_size, profiles[uc.kind], req.growth)
        assumptions += load.notes
        assumptions += targets.notes
        refs = [r for r in uc.model_refs() if not r.recommend]
        results: list[_ModelResult] = []
        extra: list[str] = []
        if len(refs) < len(uc.model_refs()):
            found, extra, n = _recommend(ctx, uc, load, targets, owned)
            evaluated_total += n
            results += found
            if not found:
                pending.append(
                    (
                        Escalation(
                            kind="model-too-large",
                            field=f"use_cases[{uc.name}].models",
                            problem="no catalogue model passes this use case's filters and meets its targets on "
                            "the allowed hardware (" + "; ".join(extra) + ")",
                            options=(),
                        ),
                        uc,
                        None,
                    )
                )
        for ref in refs:
            key, spec = load_model(ref)
            _check_licence(uc, key, cat)
            if uc.context_length > spec.max_context:
                raise InputError(
                    f"use_cases[{uc.name}].context_length",
                    f"{uc.context_length} is longer than {key} supports ({spec.max_context})",
                    f"use at most {spec.max_context} or another model",
                )
            many_refs = len(uc.model_refs()) > 1
            mr = _evaluate(
                ctx, uc, key, spec, ref, load, targets, owned, _deployment_name(uc, key, many_refs)
            )
            evaluated_total += mr.evaluated
            _verify(ctx, uc, mr, load, targets, owned)
            results.append(mr)
        many = len(results) > 1
        for mr in results:
            if mr.best is None:
                e = _no_fit(uc, mr)
                if req.hardware.owned_only and mr.sized_all:
                    e = Escalation(
                        kind="capacity",
                        field="hardware.owned_only",
                        problem=f"{mr.key}: the owned GPUs cannot carry {uc.name} within its targets",
                        options=(),
                    )
                pending.append((e, uc, None))
                continue
            best = mr.best
            owned = (
                owned.take(best.sized.option.gpu.id, best.owned_gpus)
                if best.owned_gpus and best.sized.option.gpu
                else owned
            )
            chosen.append(best)
            if budget_left is not None:
                budget_left -= best.capex_mid
            dep = build_deployment(
                name=mr.dep_name or _deployment_name(uc, mr.key, many),
                uc=uc,
                best=best,
                ranked=mr.ranked,
                load=load,
                targets=targets,
                cat=cat,
                horizon_months=req.growth.horizon_months,
                sim=mr.sim,
                extra_reasons=[*extra, *mr.notes],
                candidates=len(mr.ranked),
            )
            deployments.append(dep)
            if dep.slo_check is not None and not dep.slo_check.meets:
                pending.append(
                    (
                        Escalation(
                            kind="latency",
                            field=f"use_cases[{uc.name}].latency",
                            problem=f"{dep.model_id}: the simulation at {dep.slo_check.rate_rpm:,.1f} req/min misses "
                            f"{'; '.join(dep.slo_check.failed)} with every configuration tried",
                            options=(),
                        ),
                        uc,
                        dep,
                    )
                )
    # bill of materials
    plans: list[ServerPlan] = [p for r in chosen for p in r.servers]
    any_ha = any(uc.high_availability for uc in req.use_cases)
    inference_servers = sum(p.server.count for p in plans)
    if plans and inference_servers == 1 and not any_ha:
        plans = [colocate_gateway(plans[0], parts)]
        gateway: list[ServerPlan] = []
    else:
        gateway = [gateway_servers(host_cpu(cat, parts, small=True), any_ha, parts)] if plans else []
    all_plans = plans + gateway
    servers = [p.server for p in all_plans]
    capex_low = sum(p.capex_low for p in all_plans)
    capex_high = sum(p.capex_high for p in all_plans)
    capex_mid = (capex_low + capex_high) / 2
    power = sum(annual_power_usd(s, req) for s in servers)
    maint = MAINTENANCE_FRACTION * capex_mid
    opex = power + maint
    owned_note = tuple(
        f"{s.count}x {s.name}: {s.gpus_per_server}x {s.gpu} (owned)" for s in servers if s.owned
    )
    costs = Costs(
        capex_usd=Range(low=round(capex_low), expected=round(capex_mid), high=round(capex_high)),
        annual_power_usd=round(power, 2),
        annual_maintenance_usd=round(maint, 2),
        annual_opex_usd=round(opex, 2),
        three_year_tco_usd=Range(
            low=round(capex_low + 3 * opex),
            expected=round(capex_mid + 3 * opex),
            high=round(capex_high + 3 * opex),
        ),
        horizon_months=req.growth.horizon_months,
        tco_usd=Range(
            low=round(capex_low + horizon_years * opex),
            expected=round(capex_mid + horizon_years * opex),
            high=round(capex_high + horizon_years * opex),
        ),
        owned_hardware=owned_note,
    )
    # escalations
    meets_all = all(d.slo_check.meets for d in deployments if d.slo_check is not None)
    b = esc.budget_escalation(req, costs.capex_usd, meets_all)
    if b is not None and deployments:
        pending.append((b, req.use_cases[0], deployments[0]))
    o = esc.opex_escalation(req, costs.annual_opex_usd)
    if o is not None:
        escalations.append(o)
    site_escs, site_notes = site_escalations(req, servers, cat, today)
    assumptions += site_notes
    for e in site_escs:
        pending.append((e, req.use_cases[0], deployments[0] if deployments else None))

    def replan(r2: Requirements) -> Design:
        return plan(
            r2,
            catalogue=cat,
            load_model=load_model,
            efficiency=efficiency,
            simulate=simulate,
            today=today,
            escalate=False,
        )

    for e, e_uc, e_dep in pending:
        if escalate:
            kind = "opex" if e.field == "budget.opex_usd_per_year" else e.kind
            edits = esc.option_edits(req, e_uc, e_dep, kind)
            e = esc.cost_options(e, edits, replan, req.budget.capex_usd)
        escalations.append(e)
    escalations += esc.security_escalations(req)
    if req.security.air_gapped:
        assumptions.append(
            "air-gapped: models, images and wheels arrive through `garrison airgap pack`; "
            "engines run with HF_HUB_OFFLINE=1 and local model paths"
        )
    # engines the catalogue keeps but never plans (archived or in maintenance mode), said once per design
    # rather than under every deployment
    for plat in sorted(cat.platforms.values(), key=lambda p: p.id):
        if plat.kind == "engine" and plat.maintenance != "active" and deployments:
            assumptions.append(f"{plat.name} not considered: {plat.maintenance} ({plat.maintenance_note})")
    reasons = sorted({reason for d in deployments for reason in d.reasons})
    return Design(
        garrison_version=__version__,
        name=req.organisation.name,
        requirements=req,
        deployments=tuple(deployments),
        servers=tuple(servers),
        platform_reasons=tuple(reasons),
        costs=costs,
        assumptions=tuple(assumptions),
        escalations=tuple(escalations),
        catalogue_as_of=cat.as_of,
        calibration=efficiency.name,
        extra={"candidates_evaluated": str(evaluated_total)},
    )


__all__ = ["plan", "ranked_options"]
