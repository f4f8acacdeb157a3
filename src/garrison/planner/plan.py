"""`plan`: requirements in, a ranked and justified Design out (pure: inputs are passed in)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from garrison import __version__
from garrison.catalogue import Catalogue
from garrison.catalogue.schema import CPU, GPU
from garrison.cost.parameters import CostParameters
from garrison.design import (
    Alternative,
    Costs,
    Deployment,
    Design,
    Escalation,
    Range,
    ScalingTriggers,
    Server,
)
from garrison.modelspec.params import param_counts
from garrison.modelspec.spec import ModelSpec
from garrison.names import served_name
from garrison.planner.bom import ServerPlan, build_servers, gateway_servers, gpus_per_chassis
from garrison.planner.candidates import DEFAULT_TARGETS_MS, Sized, enumerate_options, size_option
from garrison.planner.load import LoadTarget, derive_load
from garrison.planner.simulated import SimulatedSizing, simulate_sizing
from garrison.planner.tables import ServerParts, server_parts, usage_profiles
from garrison.requirements import ModelRef, Requirements, UseCase
from garrison.sizing.efficiency import DEFAULT_EFFICIENCY, Efficiency
from garrison.sizing.formats import native_format
from garrison.sizing.weights import weight_bytes

HOURS_PER_YEAR = 8760
_COUNTER: dict[str, int] = {}  # candidates evaluated by the current plan() call (reported in Design.extra)
# The same maintenance and depreciation assumptions as `garrison tco` (garrison.cost.parameters)
MAINTENANCE_FRACTION = CostParameters().maintenance_pct_per_year / 100
DEPRECIATION_YEARS = CostParameters().depreciation_years

ModelLoader = Callable[[ModelRef], tuple[str, ModelSpec]]


@dataclass(frozen=True)
class Ranked:
    sized: Sized
    servers: ServerPlan
    capex_mid: float
    annual_opex: float
    tco: float  # capex + horizon x opex
    tier: int  # 0: >= 8-bit weights, 1: 4-bit


def _annual_power_usd(server: Server, req: Requirements) -> float:
    """W x count x PUE x 8,760 h x $/kWh / 1000 (typical, not maximum, draw)."""
    return (
        server.power_typical_w * server.count * req.power.pue * HOURS_PER_YEAR * req.power.usd_per_kwh / 1000
    )


# Host cores an inference server wants per GPU: the engine's API server, tokenisation, scheduler and
# sampler run on the CPU (vLLM's guidance is a few physical cores per GPU); 8 leaves room for the OS,
# exporters and the data loader, with a floor of 16 cores per server.
HOST_CORES_PER_GPU = 8
HOST_CORES_MIN = 16


def _host_cpu(
    cat: Catalogue, parts: ServerParts, small: bool = False, gpus: int = 0, sockets: int = 1
) -> CPU:
    """The cheapest server CPU with enough cores for the GPUs (`small`: the gateway's default part)."""
    if small and parts.host_cpu_small in cat.cpus:
        return cat.cpus[parts.host_cpu_small]
    need = max(HOST_CORES_MIN, HOST_CORES_PER_GPU * gpus)
    server = [c for c in cat.cpus.values() if c.vendor in ("amd", "intel") and c.sockets_max >= 2 and c.price]
    fit = [c for c in server if c.cores * sockets >= need]
    if fit:
        return min(fit, key=lambda c: (c.price.low_usd if c.price else 0.0, c.cores))
    if server:
        return max(server, key=lambda c: c.cores)
    return next(iter(cat.cpus.values()))


def _rank(
    s: Sized,
    req: Requirements,
    uc: UseCase,
    cat: Catalogue,
    parts: ServerParts,
    horizon_years: float,
    owned: dict[str, int],
) -> Ranked:
    opt = s.option
    model_bytes = weight_bytes(opt.spec, param_counts(opt.spec), opt.fmt).total
    sockets = opt.sockets if opt.cpu else (2 if opt.gpus_per_replica >= 4 else 1)
    gpus_in_server = (
        min(s.total_gpus, gpus_per_chassis(opt.gpu, parts) if opt.gpu else 0)
        if opt.pp == 1
        else gpus_per_chassis(opt.gpu, parts)
    )
    cpu = opt.cpu or _host_cpu(cat, parts, gpus=gpus_in_server, sockets=sockets)
    plan_ = build_servers(
        name=f"{uc.name}-{opt.gpu.id if opt.gpu else opt.cpu.id if opt.cpu else 'host'}",
        gpu=opt.gpu,
        cpu=cpu,
        cpu_sockets=sockets,
        gpus_per_replica=opt.gpus_per_replica,
        replicas=s.replicas,
        high_availability=uc.high_availability,
        model_bytes=model_bytes,
        multi_node=opt.pp > 1,
        parts=parts,
        hosts=(uc.name,),
        host_ram_gib=(s.est.memory.total_gib + 32) if opt.cpu else 0.0,
    )
    capex_mid = (plan_.capex_low + plan_.capex_high) / 2
    if opt.gpu is not None and opt.gpu.id in owned and opt.gpu.price:
        # GPUs the organisation already has cost nothing new
        reuse = min(owned[opt.gpu.id], s.total_gpus)
        capex_mid -= reuse * (opt.gpu.price.low_usd + opt.gpu.price.high_usd) / 2
    opex = _annual_power_usd(plan_.server, req) + MAINTENANCE_FRACTION * capex_mid
    tier = 1 if opt.fmt.bits_per_weight < 6 else 0
    return Ranked(s, plan_, capex_mid, opex, capex_mid + horizon_years * opex, tier)


def _describe(r: Ranked) -> str:
    o = r.sized.option
    dev = (
        f"{r.sized.total_gpus}x {o.gpu.name}"
        if o.gpu
        else f"{r.sized.replicas}x {o.sockets}-socket {o.cpu.name if o.cpu else ''}"
    )
    shape = (
        f" (TP{o.tp}"
        + (f" x PP{o.pp}" if o.pp > 1 else "")
        + f", {r.sized.replicas} replica{'s' if r.sized.replicas > 1 else ''})"
    )
    return f"{o.model_key} {o.fmt.id} on {o.engine}, {dev}{shape if o.gpu else ''}"


def _why_lost(alt: Ranked, best: Ranked) -> str:
    if not alt.sized.meets:
        return "misses targets: " + "; ".join(alt.sized.misses)
    if alt.tier > best.tier:
        return f"4-bit weights (quality risk) while an 8-bit option fits; TCO {alt.tco:,.0f} vs {best.tco:,.0f} USD"
    diff = alt.tco - best.tco
    if round(diff) <= 0:
        return (
            f"same hardware cost; {best.sized.option.engine} preferred over {alt.sized.option.engine} "
            "(continuous batching serves concurrent users better than fixed slots)"
        )
    pct = diff / best.tco * 100 if best.tco else 0
    return f"costs {diff:,.0f} USD more over the horizon (+{pct:.0f}% TCO)"


def _engine_reasons(r: Ranked, cat: Catalogue, uc: UseCase) -> list[str]:
    o = r.sized.option
    out: list[str] = []
    plat = cat.platforms.get(o.engine)
    why = {
        "vllm": "vLLM: PagedAttention with continuous batching and chunked prefill carries many concurrent "
        "users; OpenAI-compatible server; Prometheus metrics (vllm:*); FP8/AWQ/GPTQ/MXFP4 support",
        "sglang": "SGLang: the fastest MLA attention kernels for DeepSeek-style models and RadixAttention prefix "
        "caching; OpenAI-compatible server; Prometheus metrics (sglang:*)",
        "llama.cpp": "llama.cpp server: runs GGUF quantisations on CPUs, Apple silicon and small GPUs from one "
        "binary; fixed parallel slots suit a small number of concurrent users; Prometheus metrics (llamacpp:*)",
    }
    out.append(why.get(o.engine, o.engine))
    if plat is not None and plat.maintenance != "active":
        out.append(f"note: {plat.name} is {plat.maintenance}: {plat.maintenance_note}")
    tgi = cat.platforms.get("tgi")
    if tgi is not None and tgi.maintenance != "active":
        out.append(f"TGI not chosen: {tgi.maintenance} ({tgi.maintenance_note})")
    if uc.kind == "code":
        out.append(
            "IDE side: Continue (VS Code / JetBrains) or TabbyML pointed at the gateway's "
            "/v1/completions for fill-in-the-middle and /v1/chat/completions for chat"
        )
    return out


def _triggers(r: Ranked) -> ScalingTriggers:
    s = r.sized
    # the queue trigger fires near the load where a replica's batch is full: design rate x (conc+5)/conc
    rpm_capacity = s.rps_per_replica * 60 * s.replicas
    return ScalingTriggers(
        rpm_at_queue_trigger=round(rpm_capacity, 1),
        rpm_at_latency_trigger=round(rpm_capacity * 1.1, 1),
    )


def _candidate_devices(req: Requirements, cat: Catalogue) -> tuple[list[GPU], list[CPU]]:
    hw = req.hardware
    if hw.cpu_only:
        cpus = [cat.cpu(hw.cpu)] if hw.cpu else [c for c in cat.cpus.values() if c.price is not None]
        return [], cpus
    if hw.allowed_gpus:
        gpus = [cat.gpu(n) for n in hw.allowed_gpus]
    else:
        gpus = [g for g in cat.gpus.values() if g.price is not None]
    consumer_ok = hw.allow_consumer_gpus
    if consumer_ok is None:
        consumer_ok = not req.security.compliance and not any(u.high_availability for u in req.use_cases)
    if not consumer_ok:
        gpus = [g for g in gpus if g.segment != "consumer"]
    for owned in hw.owned_gpus:
        g = cat.gpu(owned.name)
        if g not in gpus:
            gpus.append(g)
    return gpus, []


def _recommend(uc: UseCase, cat: Catalogue) -> list[str]:
    kinds = {"chat": "chat", "code": "code", "batch": "chat"}
    want = kinds[uc.kind]
    models = [
        m
        for m in cat.models.values()
        if want in m.use_cases and m.context_max >= uc.context_length and (m.fim or not uc.fim)
    ]
    models.sort(key=lambda m: (-m.params_total_b, m.id))
    return [m.id for m in models[:6]]


def plan(
    req: Requirements,
    *,
    catalogue: Catalogue | None = None,
    load_model: ModelLoader | None = None,
    efficiency: Efficiency = DEFAULT_EFFICIENCY,
    simulate: bool = True,
) -> Design:
    """Pick, for every use case and model, the cheapest deployment that fits and meets its targets."""
    if catalogue is None:
        from garrison.catalogue import load_catalogue

        catalogue = load_catalogue()
    if load_model is None:
        from garrison.planner.model_refs import load_model_ref

        load_model = load_model_ref
    cat = catalogue
    _COUNTER.clear()
    parts = server_parts()
    profiles = usage_profiles()
    horizon_years = req.growth.horizon_months / 12
    gpus, cpus = _candidate_devices(req, cat)
    owned = {cat.gpu(o.name).id: o.count for o in req.hardware.owned_gpus}
    deployments: list[Deployment] = []
    chosen: list[Ranked] = []
    escalations: list[Escalation] = []
    assumptions: list[str] = [
        f"catalogue prices and specs as of {cat.as_of}; prices are ranges, not quotes",
        f"power at {req.power.usd_per_kwh} USD/kWh x PUE {req.power.pue}; typical draw = "
        f"{parts.typical_gpu_utilisation:.0%} of GPU TDP + {parts.typical_rest_utilisation:.0%} of the rest",
        f"maintenance {MAINTENANCE_FRACTION:.0%} of hardware price per year; ranking by TCO over "
        f"{horizon_years:g} years",
    ]
    for uc in req.use_cases:
        profile = profiles[uc.kind]
        load = derive_load(uc, req.organisation.team_size, profile, req.growth)
        assumptions += load.notes
        refs = list(uc.model_refs())
        if any(r.recommend for r in refs):
            refs = [r for r in refs if not r.recommend] + [ModelRef(id=m) for m in _recommend(uc, cat)]
            recommend = True
        else:
            recommend = False
        per_model: list[tuple[str, list[Ranked], list[Sized]]] = []
        for ref in refs:
            key, spec = load_model(ref)
            if uc.context_length > spec.max_context:
                from garrison.errors import InputError

                raise InputError(
                    f"use_cases[{uc.name}].context_length",
                    f"{uc.context_length} is longer than {key} supports ({spec.max_context})",
                    f"use at most {spec.max_context} or another model",
                )
            ranked, sized_all = _evaluate(
                uc, key, spec, ref, load, gpus, cpus, cat, parts, req, efficiency, horizon_years, owned
            )
            per_model.append((key, ranked, sized_all))
            if recommend and ranked and _within_budget(ranked[0], req):
                break
        if recommend:
            viable = [(k, r, s) for k, r, s in per_model if r]
            per_model = viable[:1] if viable else per_model[:1]
        for key, ranked, sized_all in per_model:
            if not ranked:
                escalations.append(_no_fit_escalation(uc, key, sized_all))
                continue
            best = ranked[0]
            sim = _simulate(uc, best, load, efficiency) if simulate else None
            if sim is not None and sim.replicas != best.sized.replicas:
                best = _rank(
                    replace(best.sized, replicas=sim.replicas), req, uc, cat, parts, horizon_years, owned
                )
            chosen.append(best)
            deployments.append(_deployment(uc, key, best, ranked, load, cat, req, sim))
    servers = [r.servers.server for r in chosen]
    any_ha = any(uc.high_availability for uc in req.use_cases)
    gw = gateway_servers(_host_cpu(cat, parts, small=True), any_ha, parts)
    servers.append(gw.server)
    capex_low = sum(r.servers.capex_low for r in chosen) + gw.capex_low
    capex_high = sum(r.servers.capex_high for r in chosen) + gw.capex_high
    capex_mid = (capex_low + capex_high) / 2
    power = sum(_annual_power_usd(s, req) for s in servers)
    maint = MAINTENANCE_FRACTION * capex_mid
    opex = power + maint
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
    )
    escalations += _budget_escalations(req, costs, chosen)
    escalations += _security_escalations(req)
    if req.hardware.allow_consumer_gpus is None and (
        req.security.compliance or any(u.high_availability for u in req.use_cases)
    ):
        assumptions.append(
            "consumer (GeForce) GPUs excluded: compliance or high availability asked, and NVIDIA's "
            "GeForce licence excludes data-centre use; set hardware.allow_consumer_gpus to override"
        )
    if req.security.air_gapped:
        assumptions.append(
            "air-gapped: models, images and wheels arrive through `garrison airgap pack`; "
            "engines run with HF_HUB_OFFLINE=1 and local model paths"
        )
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
        extra={"candidates_evaluated": str(_COUNTER.get("candidates", 0))},
    )


def _within_budget(r: Ranked, req: Requirements) -> bool:
    return req.budget.capex_usd is None or r.capex_mid <= req.budget.capex_usd


def _evaluate(
    uc: UseCase,
    key: str,
    spec: ModelSpec,
    ref: ModelRef,
    load: LoadTarget,
    gpus: list[GPU],
    cpus: list[CPU],
    cat: Catalogue,
    parts: ServerParts,
    req: Requirements,
    eff: Efficiency,
    horizon_years: float,
    owned: dict[str, int],
) -> tuple[list[Ranked], list[Sized]]:
    sized_all: list[Sized] = []
    evaluated = 0
    for opt in enumerate_options(
        key,
        spec,
        gpus,
        cpus,
        cat.quant_formats,
        ref.quant,
        req.hardware.allowed_engines,
        req.hardware.max_gpus_per_server,
        lambda g: gpus_per_chassis(g, parts),
        native_format(spec, cat) if spec.source == "gguf" else None,
    ):
        s = size_option(
            opt,
            kind=uc.kind,
            context_length=uc.context_length,
            load=load,
            ttft_target_ms=uc.latency.ttft_p95_ms,
            itl_target_ms=uc.latency.itl_p95_ms,
            high_availability=uc.high_availability,
            eff=eff,
        )
        evaluated += 1
        if s is not None:
            sized_all.append(s)
    ranked = [_rank(s, req, uc, cat, parts, horizon_years, owned) for s in sized_all if s.meets]
    budget = req.budget.capex_usd
    # within budget first, then 8-bit before 4-bit weights, then TCO; at equal cost a batching
    # engine (vLLM / SGLang) before llama.cpp's fixed slots
    ranked.sort(
        key=lambda r: (
            budget is not None and r.capex_mid > budget,
            r.tier,
            round(r.tco),
            r.sized.option.engine == "llama.cpp",
        )
    )
    _COUNTER["candidates"] = _COUNTER.get("candidates", 0) + evaluated
    return ranked, sized_all


def _simulate(uc: UseCase, best: Ranked, load: LoadTarget, eff: Efficiency) -> SimulatedSizing | None:
    d_ttft, d_itl = DEFAULT_TARGETS_MS.get(uc.kind, (None, None))
    s = best.sized
    rpm = load.design_rpm if load.design_rpm > 0 else s.rps_per_replica * s.replicas * 60
    return simulate_sizing(
        s,
        rate_rpm=rpm,
        input_tokens=load.input_tokens,
        output_tokens=load.output_tokens,
        ttft_target_ms=uc.latency.ttft_p95_ms if uc.latency.ttft_p95_ms is not None else d_ttft,
        itl_target_ms=uc.latency.itl_p95_ms if uc.latency.itl_p95_ms is not None else d_itl,
        min_replicas=2 if uc.high_availability else 1,
        eff=eff,
    )


def _deployment(
    uc: UseCase,
    key: str,
    best: Ranked,
    ranked: list[Ranked],
    load: LoadTarget,
    cat: Catalogue,
    req: Requirements,
    sim: SimulatedSizing | None = None,
) -> Deployment:
    s = best.sized
    o = s.option
    alts: list[Alternative] = []
    seen = {_describe(best).split(",")[0] + (o.gpu.id if o.gpu else "")}
    for r in ranked[1:]:
        ro = r.sized.option
        sig = _describe(r).split(",")[0] + (ro.gpu.id if ro.gpu else "")
        if sig in seen:
            continue
        seen.add(sig)
        alts.append(
            Alternative(
                summary=_describe(r),
                annual_cost_usd=round(r.capex_mid / DEPRECIATION_YEARS + r.annual_opex, 2),
                capex_usd=Range(
                    low=round(r.servers.capex_low),
                    expected=round(r.capex_mid),
                    high=round(r.servers.capex_high),
                ),
                why_lost=_why_lost(r, best),
            )
        )
        if len(alts) == 3:
            break
    plat = cat.platforms.get(o.engine)
    image = f"{plat.image}:{plat.image_tag}" if plat and plat.image else o.engine
    if o.engine == "llama.cpp" and (o.gpu is None or o.gpu.vendor != "nvidia"):
        # llama.cpp publishes per-backend images: server-cuda-bN, server-rocm-bN and plain server-bN (CPU)
        backend = "rocm-" if o.gpu is not None and o.gpu.vendor == "amd" else ""
        image = image.replace("server-cuda-", f"server-{backend}")
    d_ttft, d_itl = DEFAULT_TARGETS_MS.get(uc.kind, (None, None))
    reasons = _engine_reasons(best, cat, uc)
    reasons.insert(
        0,
        f"{_describe(best)}: lowest {req.growth.horizon_months}-month TCO "
        f"({best.tco:,.0f} USD) among {len(ranked)} configurations that fit and meet the targets",
    )
    unit = "GPU" if o.gpu else "host"
    reasons.append(
        f"weights {o.fmt.id}: {o.fmt.bits_per_weight:.2f} bits per weight incl. scales; "
        f"{s.est.weights_gib_per_gpu:.1f} GiB per {unit}, {s.est.kv_cache_gib_per_gpu:.1f} GiB KV cache "
        f"per {unit}"
    )
    rpm = load.design_rpm
    if rpm <= 0:  # sized from stated concurrency: report the rate that concurrency carries
        rpm = sim.rate_rpm if sim else s.rps_per_replica * s.replicas * 60
    return Deployment(
        use_case=uc.name,
        kind=uc.kind,
        model_id=key,
        model_name=served_name(key),  # a token: it is routed on in nginx and passed to the engine
        model_path=None,
        engine=o.engine,
        engine_image=image,
        quant=o.fmt.id,
        kv_dtype=s.est.kv_dtype,
        device=o.gpu.id if o.gpu else (o.cpu.id if o.cpu else "cpu"),
        device_kind="gpu" if o.gpu else "cpu",
        gpus_per_replica=o.gpus_per_replica,
        tp=o.tp,
        pp=o.pp,
        replicas=s.replicas,
        nodes_per_replica=o.pp,
        max_model_len=s.max_model_len,
        max_num_seqs=s.est.max_num_seqs if o.engine != "llama.cpp" else s.est.concurrency,
        max_num_batched_tokens=s.est.max_num_batched_tokens,
        gpu_memory_utilization=0.90,
        fim=uc.fim,
        requests_per_minute=round(rpm, 2),
        concurrent_requests=s.conc_per_replica * s.replicas,
        input_tokens=load.input_tokens,
        output_tokens=load.output_tokens,
        ttft_p95_target_ms=uc.latency.ttft_p95_ms if uc.latency.ttft_p95_ms is not None else d_ttft,
        itl_p95_target_ms=uc.latency.itl_p95_ms if uc.latency.itl_p95_ms is not None else d_itl,
        estimate=s.est.model_copy(
            update={
                "ttft_ms": round(s.ttft_ms, 2),
                "itl_ms": round(s.itl_ms, 2),
                "concurrency": s.conc_per_replica,
                "replicas": s.replicas,
                "gpus": s.total_gpus,
            }
        ),
        load_curve=sim.curve if sim else (),
        triggers=sim.triggers if sim else _triggers(best),
        reasons=tuple(reasons) + (sim.notes if sim else ()),
        alternatives=tuple(alts),
    )


def _no_fit_escalation(uc: UseCase, key: str, sized_all: list[Sized]) -> Escalation:
    if sized_all:  # it fits somewhere, but never within the latency targets
        best = min(sized_all, key=lambda s: s.ttft_ms)
        return Escalation(
            kind="latency",
            field=f"use_cases[{uc.name}].latency",
            problem=f"{key}: no configuration meets the latency targets; best reaches TTFT "
            f"{best.ttft_ms:.0f} ms and ITL {best.itl_ms:.0f} ms ({'; '.join(best.misses)})",
            options=(
                f"relax the targets to TTFT {best.ttft_ms * 1.2:.0f} ms / ITL {best.itl_ms * 1.2:.0f} ms",
                "choose a smaller or MoE model with fewer active parameters",
                "allow faster GPUs (hardware.allowed_gpus) or more GPUs per server",
            ),
        )
    return Escalation(
        kind="model-too-large",
        field=f"use_cases[{uc.name}].models",
        problem=f"{key} does not fit any allowed device at context {uc.context_length} in any format tried",
        options=(
            "quantise harder (e.g. quant: awq or a GGUF Q4_K_M) or pin a smaller context_length",
            "choose a smaller model from the catalogue (garrison estimate MODEL shows what fits)",
            "allow data-centre GPUs with more memory or a multi-node deployment (hardware.allowed_gpus)",
        ),
    )


def _budget_escalations(req: Requirements, costs: Costs, chosen: list[Ranked]) -> list[Escalation]:
    out: list[Escalation] = []
    cap = req.budget.capex_usd
    if cap is not None and costs.capex_usd.expected > cap:
        out.append(
            Escalation(
                kind="budget",
                field="budget.capex_usd",
                problem=f"the cheapest design that meets the targets costs {costs.capex_usd.low:,.0f}-"
                f"{costs.capex_usd.high:,.0f} USD, over the {cap:,.0f} USD budget",
                options=(
                    f"raise the budget to about {costs.capex_usd.high:,.0f} USD",
                    "lower growth.headroom_pct or the expected load",
                    "relax latency targets or accept 4-bit weights (quant: awq / Q4_K_M)",
                    "choose a smaller model",
                ),
            )
        )
    opex_cap = req.budget.opex_usd_per_year
    if opex_cap is not None and costs.annual_opex_usd > opex_cap:
        out.append(
            Escalation(
                kind="budget",
                field="budget.opex_usd_per_year",
                problem=f"running costs {costs.annual_opex_usd:,.0f} USD a year exceed {opex_cap:,.0f}",
                options=(
                    "lower the power price assumption if contracted lower",
                    "fewer replicas (less headroom)",
                    "more efficient GPUs (tokens per watt)",
                ),
            )
        )
    return out


def _security_escalations(req: Requirements) -> list[Escalation]:
    if req.security.zero_trust_gateway:
        return [
            Escalation(
                kind="security",
                field="security.zero_trust_gateway",
                problem="Garrison's gateway authenticates every request (per-key API keys over TLS, audit log) but "
                "does not generate identity-provider (OIDC) sign-in or mutual TLS between services",
                options=(
                    "put an identity-aware proxy (e.g. oauth2-proxy with your IdP) in front of the gateway",
                    "enable a service mesh with mTLS (Istio / Linkerd) in the Kubernetes overlay",
                    "accept API keys + TLS + network policy as the control and record it in the risk register",
                ),
            )
        ]
    return []


__all__ = ["plan"]
