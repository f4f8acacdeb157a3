"""One small pure function per cost quantity. Each docstring states its formula once."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from garrison.catalogue.schema import GPU, CloudPrice
from garrison.cost.parameters import HOURS_PER_YEAR, CostParameters
from garrison.cost.result import TokenVolume, UsdRange
from garrison.design import Deployment, Design, Server


def active_hours_per_year(kind: str, params: CostParameters) -> float:
    """Hours a year a use case sends its design request rate (interactive: working hours; batch: all)."""
    return params.batch_active_hours_per_year if kind == "batch" else params.interactive_active_hours_per_year


def token_volume(dep: Deployment, params: CostParameters) -> TokenVolume:
    """Tokens/year = requests_per_minute x 60 x active hours x tokens per request (input, output).

    Capacity at full utilisation = the estimate's whole-system output tokens/s x 8760 h x 3600 s,
    plus the input tokens that come with them in the same request mix (x (1 + input/output)).
    """
    hours = active_hours_per_year(dep.kind, params)
    requests = dep.requests_per_minute * 60.0 * hours
    out_capacity = dep.estimate.output_tokens_per_s * 3600.0 * HOURS_PER_YEAR
    capacity = out_capacity * (1.0 + dep.input_tokens / max(dep.output_tokens, 1))
    return TokenVolume(
        use_case=dep.use_case,
        kind=dep.kind,
        input_tokens_per_year=requests * dep.input_tokens,
        output_tokens_per_year=requests * dep.output_tokens,
        capacity_tokens_per_year=capacity,
        assumption=(
            f"{dep.use_case}: {dep.requests_per_minute:g} requests/min x {hours:g} active h/year x "
            f"({dep.input_tokens} in + {dep.output_tokens} out) tokens per request"
        ),
    )


def server_capex_usd(server: Server, gpus: Mapping[str, GPU]) -> tuple[UsdRange | None, str | None]:
    """Capex of one server line = price range x count. Without a design price, the catalogue's GPU
    price x GPUs x count is used and flagged (chassis unpriced); with neither, nothing is invented."""
    if server.price_usd is not None:
        p = server.price_usd
        return UsdRange(
            low=p.low * server.count, expected=p.expected * server.count, high=p.high * server.count
        ), None
    gpu = gpus.get(server.gpu) if server.gpu else None
    if gpu is not None and gpu.price is not None and server.gpus_per_server > 0:
        n = server.gpus_per_server * server.count
        lo, hi = gpu.price.low_usd * n, gpu.price.high_usd * n
        return UsdRange(low=lo, expected=(lo + hi) / 2, high=hi), (
            f"server {server.name}: the design gives no price; only its {n} x {server.gpu} GPUs are "
            f"priced (catalogue, {gpu.price.as_of}); chassis, CPUs, RAM and disks are not included"
        )
    if server.gpu:
        return None, (
            f"server {server.name}: no price in the design and GPU {server.gpu} has no price in the "
            f"catalogue; add `price` to the catalogue's GPU row or a price_usd to the design's server"
        )
    return None, f"server {server.name} ({server.role}): no price in the design; add price_usd"


def capex_usd(design: Design, gpus: Mapping[str, GPU]) -> tuple[UsdRange, tuple[str, ...]]:
    """Capex = sum over bought server lines of price range x count; owned servers cost nothing.
    Returns what was missing too."""
    low = exp = high = 0.0
    missing: list[str] = []
    for server in design.servers:
        if getattr(server, "owned", False):
            continue  # the organisation already has it: no capex (its power still counts)
        rng, note = server_capex_usd(server, gpus)
        if rng is not None:
            low, exp, high = low + rng.low, exp + rng.expected, high + rng.high
        if note is not None:
            missing.append(note)
    return UsdRange(low=low, expected=exp, high=high), tuple(missing)


def server_power_w(server: Server) -> float:
    """IT draw of one server line, W = count x the design's typical draw per server (`power_typical_w`:
    the planner's 60 % of GPU TDP + 70 % of the rest, planner/bom.py). The TCO costs what the design
    sized, so design.json, `garrison plan`, `garrison tco` and the report carry one power figure."""
    return server.count * server.power_typical_w


def power_usd_per_year(it_w: float, pue: float, usd_per_kwh: float) -> float:
    """Energy bill = IT W x PUE (cooling and losses) / 1000 x $/kWh x 8760 h."""
    return it_w * pue / 1000.0 * usd_per_kwh * HOURS_PER_YEAR


def maintenance_usd_per_year(capex_expected_usd: float, pct_per_year: float) -> float:
    """Support contracts and spares = capex x maintenance % per year."""
    return capex_expected_usd * pct_per_year / 100.0


def colocation_usd_per_year(design: Design, usd_per_ru_month: float) -> float:
    """Rack space = rack units of all servers x $/RU-month x 12."""
    units = sum(s.rack_units * s.count for s in design.servers)
    return units * usd_per_ru_month * 12.0


def cloud_usd_per_year(
    price: CloudPrice, volume: Sequence[TokenVolume], cached_share: float, discounts: bool = True
) -> float:
    """Cloud bill = sum over use cases of input Mtok x input price + output Mtok x output price.

    With `discounts`: a `cached_share` of input tokens is billed at the cached-input price where the
    model has one, and batch use cases get the provider's batch discount off the whole request.
    """
    total = 0.0
    for v in volume:
        in_price = price.input_usd_per_mtok
        if discounts and price.cached_input_usd_per_mtok is not None:
            in_price = (1 - cached_share) * in_price + cached_share * price.cached_input_usd_per_mtok
        cost = (
            v.input_tokens_per_year / 1e6 * in_price
            + v.output_tokens_per_year / 1e6 * price.output_usd_per_mtok
        )
        if discounts and v.kind == "batch" and price.batch_discount:
            cost *= 1 - price.batch_discount
        total += cost
    return total


def breakeven_month(capex: float, opex_per_year: float, cloud_per_year: float) -> int | None:
    """First month m with capex + opex/12 x m <= cloud/12 x m, i.e. ceil(capex / monthly saving).

    None when the cloud bill never exceeds the running cost (no break-even at any horizon).
    """
    monthly_saving = (cloud_per_year - opex_per_year) / 12.0
    if monthly_saving <= 0:
        return None
    if capex <= 0:
        return 0
    return max(1, math.ceil(capex / monthly_saving - 1e-9))


def savings_pct(capex: float, opex_per_year: float, cloud_per_year: float, years: float) -> float | None:
    """(cloud x years - (capex + opex x years)) / (cloud x years) x 100; None with no cloud bill."""
    cloud = cloud_per_year * years
    if cloud <= 0:
        return None
    return (cloud - (capex + opex_per_year * years)) / cloud * 100.0
