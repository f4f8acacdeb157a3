"""Cost a sized option (servers, capex, opex, TCO over the horizon) and rank the options.

Ranking rules, in order (each has a unit test in tests/planner/test_ranking_rules.py):
1. within the capex budget before over it;
2. within the site's power, cooling and rack space before outside them;
3. weights at >= 8 bits, or in the format the model was released in (MXFP4 gpt-oss, FP8 DeepSeek),
   before weights re-quantised to ~4 bits after release (a quality risk the release did not take);
4. lower total cost of ownership over requirements.growth.horizon_months; owned GPUs and servers cost
   nothing to buy and carry no maintenance (their power still counts);
5. at equal cost, a checkpoint someone published in that format before an online or on-site conversion;
6. at equal cost, a continuous-batching engine (vLLM, SGLang) before llama.cpp's fixed slots;
7. at equal cost, the smaller tensor-parallel group (fewer all-reduces, more replicas to fail over to).
Consumer GPUs are not ranked lower: under compliance or high availability they are not candidates at all
(plan._candidate_devices), and the recommendation's licence and quality rules live in recommend.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from garrison import engines
from garrison.catalogue import Catalogue
from garrison.catalogue.schema import CPU
from garrison.cost.parameters import CostParameters
from garrison.design import Server
from garrison.modelspec.params import param_counts
from garrison.planner.bom import ServerPlan, build_servers, chassis_for, fully_populated, gpus_per_chassis
from garrison.planner.candidates import Sized
from garrison.planner.tables import ServerParts
from garrison.requirements import Requirements, UseCase
from garrison.sizing.weights import weight_bytes

HOURS_PER_YEAR = 8760
# The same maintenance and depreciation assumptions as `garrison tco` (garrison.cost.parameters)
MAINTENANCE_FRACTION = CostParameters().maintenance_pct_per_year / 100
DEPRECIATION_YEARS = CostParameters().depreciation_years
# Host cores an inference server wants per GPU: the engine's API server, tokenisation, scheduler and
# sampler run on the CPU (vLLM's guidance is a few physical cores per GPU); 8 leaves room for the OS,
# exporters and the data loader, with a floor of 16 cores per server.
HOST_CORES_PER_GPU = 8
HOST_CORES_MIN = 16
# Weights below this many bits per weight count as "4-bit" for rule 3.
FOUR_BIT_BELOW = 6.0
# The simulator's replica cap (planner.simulated.MAX_REPLICAS): the N+1 search stops there too.
MAX_REPLICAS = 64


@dataclass(frozen=True)
class OwnedPool:
    """GPUs the organisation owns and has not yet given to a deployment: id -> (count, per server)."""

    gpus: dict[str, tuple[int, int]]

    def available(self, gpu_id: str) -> tuple[int, int]:
        return self.gpus.get(gpu_id, (0, 0))

    def take(self, gpu_id: str, count: int) -> OwnedPool:
        have, per = self.available(gpu_id)
        left = dict(self.gpus)
        left[gpu_id] = (max(0, have - count), per)
        return OwnedPool(left)


@dataclass(frozen=True)
class SiteCaps:
    """The site limits one deployment is checked against (None: not limited)."""

    power_w: float | None = None
    cooling_btu_h: float | None = None
    rack_units: int | None = None


@dataclass(frozen=True)
class Ranked:
    """A sized option with its bill of materials and costs."""

    sized: Sized
    servers: tuple[ServerPlan, ...]  # owned servers first, then what must be bought
    capex_low: float  # what must be bought
    capex_high: float
    annual_opex: float  # power of every server + maintenance of the bought ones
    tco: float  # capex (mid) + horizon x opex
    tier: int  # 0: >= 8-bit or as released; 1: re-quantised to ~4 bits
    published: bool  # the weights load from a checkpoint published in this format
    owned_gpus: int  # GPUs of the deployment the organisation already has
    within_budget: bool
    within_site: bool
    feasible: bool = True  # False: bought replicas would need more GPUs than a chassis holds
    filled_from: int | None = None  # replicas the load needed before filling boards / owned boxes
    refuted: bool = False  # simulated: no replica count holds the targets
    simulated: bool = False  # replicas (and so costs) are the simulation's, not the analytic estimate

    @property
    def capex_mid(self) -> float:
        return (self.capex_low + self.capex_high) / 2

    @property
    def bought_gpus(self) -> int:
        return self.sized.total_gpus - self.owned_gpus


def rank_key(r: Ranked) -> tuple[bool, bool, int, int, bool, bool, int]:
    """Sort key of the module docstring's rules (smaller is better)."""
    return (
        not r.within_budget,
        not r.within_site,
        r.tier,
        round(r.tco),
        not r.published,
        engines.get(r.sized.option.engine).fixed_slots,
        r.sized.option.tp,
    )


def annual_power_usd(server: Server, req: Requirements) -> float:
    """W x count x PUE x 8,760 h x $/kWh / 1000 (typical, not maximum, draw)."""
    return (
        server.power_typical_w * server.count * req.power.pue * HOURS_PER_YEAR * req.power.usd_per_kwh / 1000
    )


def host_cpu(
    cat: Catalogue,
    parts: ServerParts,
    small: bool = False,
    gpus: int = 0,
    sockets: int = 1,
    desktop_ok: bool = False,
) -> CPU:
    """The cheapest CPU with enough cores for the GPUs (`small`: the gateway's default part).

    Rack servers get server CPUs (dual-socket capable parts: EPYC, Xeon Scalable, with ECC and a BMC on
    their boards); a desk-side tower for consumer cards (`desktop_ok`) may take a workstation/desktop part.
    """
    if small and parts.host_cpu_small in cat.cpus:
        return cat.cpus[parts.host_cpu_small]
    need = max(HOST_CORES_MIN, HOST_CORES_PER_GPU * gpus)
    least_sockets = sockets if desktop_ok else max(2, sockets)
    server = [
        c
        for c in cat.cpus.values()
        if c.vendor in ("amd", "intel") and c.sockets_max >= least_sockets and c.price
    ]
    fit = [c for c in server if c.cores * sockets >= need]
    if fit:
        return min(fit, key=lambda c: (c.price.low_usd if c.price else 0.0, c.cores))
    if server:
        return max(server, key=lambda c: c.cores)
    return next(iter(cat.cpus.values()))


def is_published(s: Sized, cat: Catalogue) -> bool:
    """The weights exist on the Hub in this format: the model's own release or a catalogue checkpoint row."""
    o = s.option
    if o.spec.source == "gguf" or o.fmt.id == o.spec.native_dtype.lower():
        return True
    entry = cat.models.get(o.model_key)
    return entry is not None and any(ck.format == o.fmt.id for ck in cat.checkpoints.get(entry.id, ()))


def weights_tier(s: Sized) -> int:
    """1 when the weights were re-quantised to ~4 bits after release, else 0 (rule 3)."""
    o = s.option
    as_released = o.spec.source == "gguf" or o.fmt.id == o.spec.native_dtype.lower()
    return 1 if o.fmt.bits_per_weight < FOUR_BIT_BELOW and not as_released else 0


def fill_boards(s: Sized, parts: ServerParts, owned: OwnedPool, high_availability: bool) -> Sized:
    """Replicas rounded up to fill what is paid for anyway: whole HGX baseboards (they ship with 8 GPUs;
    with high availability, at least two of them) and the owned boxes the deployment runs on."""
    o = s.option
    if o.pp > 1 or o.gpu is None:
        return s
    replicas = s.replicas
    if o.owned:
        have, per = owned.available(o.gpu.id)
        fit = (have // per if per else 0) * max(0, per // o.gpus_per_replica)
        if replicas <= fit:
            replicas = fit
    elif fully_populated(o.gpu, parts):
        per_server = max(1, gpus_per_chassis(o.gpu, parts) // o.gpus_per_replica)
        servers = max(math.ceil(replicas / per_server), 2 if high_availability and replicas >= 2 else 1)
        replicas = servers * per_server
    return s if replicas == s.replicas else replace(s, replicas=replicas)


def servers_for(s: Sized, parts: ServerParts, high_availability: bool) -> int:
    """Servers the (bought) replicas of `s` take: the layout build_servers makes."""
    o = s.option
    if o.gpu is None:
        return s.replicas
    per = gpus_per_chassis(o.gpu, parts)
    if o.pp > 1:
        return s.replicas * math.ceil(o.gpus_per_replica / per)
    per_server = max(1, per // o.gpus_per_replica)
    servers = math.ceil(s.replicas / per_server)
    if high_availability and s.replicas >= 2:
        servers = max(servers, 2)
    return servers


def survivors(s: Sized, parts: ServerParts, high_availability: bool) -> int:
    """Replicas left serving when the server holding the most replicas fails (replicas spread evenly)."""
    servers = servers_for(s, parts, high_availability)
    if servers <= 1:
        return 0
    if s.option.pp > 1:  # a multi-node replica spans its own servers: one server down stops one replica
        return s.replicas - 1
    return s.replicas - math.ceil(s.replicas / servers)


def n_plus_one(s: Sized, parts: ServerParts, needed: int) -> Sized:
    """Fewest replicas >= s.replicas such that losing any one server still leaves `needed` replicas.

    High availability means the service keeps its targets through a server failure at today's load,
    not only that it stays up: two replicas that each carry half the busy hour are not HA capacity.
    """
    r = s.replicas
    while survivors(replace(s, replicas=r), parts, True) < needed and r < MAX_REPLICAS:
        r += 1
    return s if r == s.replicas else replace(s, replicas=r)


def failover_replicas(s: Sized, failover_rpm: float) -> int:
    """Replicas that carry `failover_rpm` at the analytic per-replica rate (at least one)."""
    if s.rps_per_replica <= 0:
        return s.replicas
    return max(1, math.ceil(failover_rpm / 60 / s.rps_per_replica))


def cost_option(
    s: Sized,
    req: Requirements,
    uc: UseCase,
    cat: Catalogue,
    parts: ServerParts,
    owned: OwnedPool,
    site: SiteCaps = SiteCaps(),
    budget_usd: float | None = None,
    deployment: str = "",
    failover_rpm: float | None = None,
) -> Ranked:
    """Servers (owned ones first), capex of what must be bought, opex and TCO of one sized option.

    `deployment` names the servers and what they host (the use case's name by default). With high
    availability and `failover_rpm` (today's busy-hour load), replicas are added until losing one server
    still leaves enough of them for that load (n_plus_one, analytic per-replica rate).
    """
    if uc.high_availability and failover_rpm and not s.option.owned:
        s = n_plus_one(s, parts, failover_replicas(s, failover_rpm))
    needed = s.replicas
    s = fill_boards(s, parts, owned, uc.high_availability)
    opt = s.option
    model_bytes = weight_bytes(opt.spec, param_counts(opt.spec), opt.fmt).total
    dep = deployment or uc.name
    name = f"{dep}-{opt.gpu.id if opt.gpu else opt.cpu.id if opt.cpu else 'host'}"
    host_ram = (s.est.memory.total_gib + 32) if opt.cpu else 0.0
    plans: list[ServerPlan] = []
    owned_used = 0
    replicas_left = s.replicas
    if opt.gpu is not None and opt.owned and opt.pp == 1:
        have, per = owned.available(opt.gpu.id)
        boxes = have // per if per else 0
        fit = boxes * max(0, per // opt.gpus_per_replica)
        owned_replicas = min(s.replicas, fit)
        if owned_replicas:
            owned_used = owned_replicas * opt.gpus_per_replica
            cpu = host_cpu(cat, parts, gpus=per, sockets=1, desktop_ok=True)
            plans.append(
                build_servers(
                    name=f"{name}-owned",
                    gpu=opt.gpu,
                    cpu=cpu,
                    cpu_sockets=1,
                    gpus_per_replica=opt.gpus_per_replica,
                    replicas=owned_replicas,
                    high_availability=uc.high_availability,
                    model_bytes=model_bytes,
                    multi_node=False,
                    parts=parts,
                    hosts=(dep,),
                    owned=True,
                    per_server=per,
                )
            )
            replicas_left -= owned_replicas
    feasible = True
    if replicas_left > 0:
        if opt.gpu is not None and opt.pp == 1 and opt.gpus_per_replica > gpus_per_chassis(opt.gpu, parts):
            feasible = False  # a replica shaped for an owned box cannot be bought in a standard chassis
        gpus_bought = replicas_left * opt.gpus_per_replica
        in_server = (
            min(gpus_bought, gpus_per_chassis(opt.gpu, parts) if opt.gpu else 0)
            if opt.pp == 1
            else gpus_per_chassis(opt.gpu, parts)
        )
        if opt.cpu is not None:
            sockets = opt.sockets
            cpu = opt.cpu
        else:
            sockets = 2 if in_server >= 4 else 1
            desk = opt.gpu is not None and chassis_for(opt.gpu, parts) == "workstation4"
            cpu = host_cpu(cat, parts, gpus=in_server, sockets=sockets, desktop_ok=desk)
        plans.append(
            build_servers(
                name=name,
                gpu=opt.gpu,
                cpu=cpu,
                cpu_sockets=sockets,
                gpus_per_replica=opt.gpus_per_replica,
                replicas=replicas_left,
                high_availability=uc.high_availability,
                model_bytes=model_bytes,
                multi_node=opt.pp > 1,
                parts=parts,
                hosts=(dep,),
                host_ram_gib=host_ram,
            )
        )
    capex_low = sum(p.capex_low for p in plans)
    capex_high = sum(p.capex_high for p in plans)
    capex_mid = (capex_low + capex_high) / 2
    opex = sum(annual_power_usd(p.server, req) for p in plans) + MAINTENANCE_FRACTION * capex_mid
    horizon_years = req.growth.horizon_months / 12
    power_w = sum(p.server.power_max_w * p.server.count for p in plans)
    btu = sum(p.server.cooling_btu_h * p.server.count for p in plans)
    units = sum(p.server.rack_units * p.server.count for p in plans)
    within_site = (
        (site.power_w is None or power_w <= site.power_w)
        and (site.cooling_btu_h is None or btu <= site.cooling_btu_h)
        and (site.rack_units is None or units <= site.rack_units)
    )
    return Ranked(
        sized=s,
        servers=tuple(plans),
        capex_low=capex_low,
        capex_high=capex_high,
        annual_opex=opex,
        tco=capex_mid + horizon_years * opex,
        tier=weights_tier(s),
        published=is_published(s, cat),
        owned_gpus=owned_used,
        within_budget=budget_usd is None or capex_mid <= budget_usd,
        within_site=within_site,
        feasible=feasible,
        filled_from=needed if s.replicas != needed else None,
    )


def describe(r: Ranked) -> str:
    """One line: model, format, engine, hardware, shape."""
    s = r.sized
    o = s.option
    if o.gpu:
        owned = f" ({r.owned_gpus} owned)" if r.owned_gpus else ""
        dev = f"{s.total_gpus}x {o.gpu.name}{owned}"
        shape = f" (TP{o.tp}" + (f" x PP{o.pp}" if o.pp > 1 else "") + f", {s.replicas} replica"
        shape += "s)" if s.replicas > 1 else ")"
    else:
        dev = f"{s.replicas}x {o.sockets}-socket {o.cpu.name if o.cpu else 'CPU'} server"
        shape = ""
    return f"{o.model_key} {o.fmt.id} on {o.engine}, {dev}{shape}"


def why_lost(alt: Ranked, best: Ranked) -> str:
    """Why `alt` ranks below `best`, naming the first rule that separates them."""
    if not alt.sized.meets:
        return "misses targets: " + "; ".join(alt.sized.misses)
    if alt.refuted:
        return (
            f"the simulation refutes its analytic sizing ({alt.sized.replicas} replica(s), TCO {alt.tco:,.0f} USD): "
            "no replica count up to 64 holds every P95 target at the design load"
        )
    if best.within_budget and not alt.within_budget:
        return f"over the capex budget ({alt.capex_mid:,.0f} USD)"
    if best.within_site and not alt.within_site:
        return "does not fit the site's power, cooling or rack space"
    if alt.tier > best.tier:
        return (
            f"weights re-quantised to {alt.sized.option.fmt.bits_per_weight:.1f} bits after release (quality risk) "
            f"while an option at >= 8 bits or as released fits; TCO {alt.tco:,.0f} vs {best.tco:,.0f} USD"
        )
    diff = alt.tco - best.tco
    if round(diff) < 0:  # cheaper on paper but not verified (the simulation stopped at MAX_SIMULATED)
        return f"not verified by simulation; analytic TCO {alt.tco:,.0f} USD"
    if round(diff) > 0:
        pct = diff / best.tco * 100 if best.tco else 0
        capex = alt.capex_mid - best.capex_mid
        detail = f"capex {capex:+,.0f} USD" if round(capex) else "running costs"
        return f"costs {diff:,.0f} USD more over the horizon (+{pct:.0f}% TCO; {detail})"
    a, b = alt.sized.option, best.sized.option
    if best.published and not alt.published:
        return f"same cost; {b.fmt.id} loads a published checkpoint, {a.fmt.id} needs converting or online quantisation"
    if a.engine != b.engine:
        return (
            f"same cost; {b.engine} preferred over {a.engine} "
            "(continuous batching serves concurrent users better than fixed slots)"
        )
    if a.tp > b.tp:
        return (
            f"same cost; TP{b.tp} preferred over TP{a.tp} (fewer all-reduces, more replicas to fail over to)"
        )
    return f"costs the same over the horizon (within 1 USD of {best.tco:,.0f}); ranked after it on ties"


__all__ = [
    "DEPRECIATION_YEARS",
    "MAINTENANCE_FRACTION",
    "OwnedPool",
    "Ranked",
    "SiteCaps",
    "annual_power_usd",
    "cost_option",
    "describe",
    "failover_replicas",
    "host_cpu",
    "n_plus_one",
    "rank_key",
    "servers_for",
    "survivors",
    "why_lost",
]
