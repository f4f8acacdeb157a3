"""Escalations: when a requirement cannot be met as stated, say so with options that are re-planned and
costed (capex, whether the targets then hold, whether it fits the budget), never boilerplate.

Each option is a concrete edit of the requirements; `replan` (the planner itself, without further
escalation options) plans the edited requirements, so the numbers are the planner's own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from garrison import engines
from garrison.design import CostedOption, Deployment, Design, Escalation, Range
from garrison.requirements import Requirements, UseCase

Replan = Callable[[Requirements], Design]
# Escalation kinds after which a re-planned design does not count as meeting the targets
FAILING_KINDS = ("latency", "model-too-large", "capacity")


def _edited(req: Requirements, edit: Callable[[dict[str, Any]], None]) -> Requirements | None:
    """A copy of `req` with `edit` applied to its dict form (only fields the user set stay "set")."""
    data = req.model_dump(mode="python", exclude_unset=True)
    edit(data)
    try:
        return Requirements.model_validate(data)
    except ValueError:
        return None


def _use_case(data: dict[str, Any], name: str) -> dict[str, Any]:
    for u in data["use_cases"]:
        if u["name"] == name:
            return dict(u)
    raise KeyError(name)


def _set_use_case(data: dict[str, Any], name: str, uc: dict[str, Any]) -> None:
    data["use_cases"] = [uc if u["name"] == name else u for u in data["use_cases"]]


def _design_meets(d: Design) -> bool:
    checks = [dep.slo_check.meets for dep in d.deployments if dep.slo_check is not None]
    served = {dep.use_case for dep in d.deployments}
    every_use_case = all(u.name in served for u in d.requirements.use_cases)
    return every_use_case and all(checks) and not any(e.kind in FAILING_KINDS for e in d.escalations)


def _summary(d: Design) -> str:
    parts = [
        f"{dep.use_case}: {dep.model_id} {dep.quant} on {dep.replicas * max(1, dep.gpus_per_replica)}x {dep.device}"
        for dep in d.deployments
    ]
    return "; ".join(parts) or "no deployment fits"


def costed(
    option: str, change: str, req: Requirements | None, replan: Replan, budget: float | None, field: str
) -> CostedOption:
    """Re-plan one option: its capex, whether its targets hold, whether it fits the budget and whether the
    re-planned design still raises an escalation on `field`."""
    if req is None:
        return CostedOption(option=option, change=change, summary="not a valid edit of these requirements")
    d = replan(req)
    if not d.deployments:
        return CostedOption(
            option=option, change=change, summary="no deployment fits", meets_targets=False, resolves=False
        )
    cap = d.costs.capex_usd
    budget = req.budget.capex_usd if req.budget.capex_usd is not None else budget
    return CostedOption(
        option=option,
        change=change,
        summary=_summary(d),
        capex_usd=cap,
        annual_opex_usd=d.costs.annual_opex_usd,
        meets_targets=_design_meets(d),
        fits_budget=None if budget is None else cap.expected <= budget,
        resolves=not any(e.field == field for e in d.escalations),
    )


def as_text(o: CostedOption) -> str:
    """One line per option for the CLI and the bundle README."""
    if o.capex_usd is None:
        return f"{o.option} ({o.change}): {o.summary}"
    bits = [f"capex {o.capex_usd.low:,.0f}-{o.capex_usd.high:,.0f} USD"]
    if o.resolves is not None:
        bits.append("resolves it" if o.resolves else "does not resolve it")
    if o.meets_targets is not None:
        bits.append("meets the targets" if o.meets_targets else "still misses a target")
    if o.fits_budget is not None:
        bits.append("within budget" if o.fits_budget else "over budget")
    return f"{o.option} ({o.change}): {', '.join(bits)} - {o.summary}"


def _scale_load(data: dict[str, Any], uc: UseCase, team_size: int, factor: float) -> None:
    u = _use_case(data, uc.name)
    load = dict(u.get("load", {}))
    if load.get("requests_per_minute") is not None:
        load["requests_per_minute"] = load["requests_per_minute"] * factor
    elif load.get("tokens_per_day") is not None:
        load["tokens_per_day"] = load["tokens_per_day"] * factor
    elif load.get("concurrent_requests") is not None:
        load["concurrent_requests"] = max(1, int(load["concurrent_requests"] * factor))
    else:
        load["users"] = max(1, int((load.get("users") or team_size) * factor))
    u["load"] = load
    _set_use_case(data, uc.name, u)


def option_edits(
    req: Requirements, uc: UseCase, dep: Deployment | None, kind: str
) -> list[tuple[str, str, Requirements | None]]:
    """Concrete requirement edits worth re-planning for an escalation of `kind` on use case `uc`."""
    out: list[tuple[str, str, Requirements | None]] = []
    name = uc.name
    recommending = any(r.recommend for r in uc.model_refs())
    # 1. lower precision: only when the design is not already at ~4 bits
    if dep is not None and dep.estimate.quant and kind in ("budget", "site", "capacity", "latency"):
        bits_4 = dep.quant in ("awq", "gptq", "int4", "mxfp4", "nvfp4") or dep.quant.startswith(
            ("q4", "q3", "q2", "iq")
        )
        if not bits_4:
            quant = "q4_k_m" if engines.get(dep.engine).single_file_model else "awq"

            def pin(data: dict[str, Any], q: str = quant) -> None:
                u = _use_case(data, name)
                u["models"] = (
                    [{"id": dep.model_id, "quant": q}]
                    if not dep.model_id.startswith(("/", ".", "~"))
                    else [{"path": dep.model_id, "quant": q}]
                )
                _set_use_case(data, name, u)

            out.append(
                (
                    f"serve {dep.model_id} in 4-bit {quant}",
                    f"use_cases[{name}].models: [{{id: {dep.model_id}, quant: {quant}}}]",
                    _edited(req, pin),
                )
            )
    # 2. a smaller or cheaper model
    if kind in ("budget", "site", "capacity", "latency", "model-too-large"):
        if recommending:

            def lower_floor(data: dict[str, Any]) -> None:
                u = _use_case(data, name)
                u["quality_floor"] = 0
                _set_use_case(data, name, u)

            out.append(
                ("accept any quality score", f"use_cases[{name}].quality_floor: 0", _edited(req, lower_floor))
            )
        else:

            def recommend(data: dict[str, Any]) -> None:
                u = _use_case(data, name)
                u["models"] = ["recommend"]
                _set_use_case(data, name, u)

            out.append(
                (
                    "let Garrison recommend a model that fits",
                    f"use_cases[{name}].models: [recommend]",
                    _edited(req, recommend),
                )
            )
    # 3. fewer users
    if kind in ("budget", "site", "capacity", "latency", "opex"):
        out.append(
            (
                "serve half the load",
                f"use_cases[{name}].load halved",
                _edited(req, lambda d: _scale_load(d, uc, req.organisation.team_size, 0.5)),
            )
        )
    # 4. one server instead of two (high availability costs a second inference server and gateway)
    if kind in ("budget", "site") and uc.high_availability:

        def single(data: dict[str, Any]) -> None:
            u = _use_case(data, name)
            u["high_availability"] = False
            _set_use_case(data, name, u)

        out.append(
            (
                "give up high availability (one server; the gateway shares it)",
                f"use_cases[{name}].high_availability: false",
                _edited(req, single),
            )
        )
    # 5. more or other hardware
    if kind == "schedule" and req.hardware.allowed_gpus:

        def any_gpu(data: dict[str, Any]) -> None:
            hw = dict(data.get("hardware", {}))
            hw.pop("allowed_gpus", None)
            data["hardware"] = hw

        out.append(
            (
                "allow GPUs other than the long-lead ones",
                "hardware.allowed_gpus: []",
                _edited(req, any_gpu),
            )
        )
    if kind == "capacity" and req.hardware.owned_only:

        def buy(data: dict[str, Any]) -> None:
            hw = dict(data.get("hardware", {}))
            hw["owned_only"] = False
            data["hardware"] = hw

        out.append(("buy hardware beside the owned GPUs", "hardware.owned_only: false", _edited(req, buy)))
    if kind in ("latency", "model-too-large") and (
        req.hardware.allowed_gpus or req.hardware.max_gpus_per_server < 8
    ):

        def widen(data: dict[str, Any]) -> None:
            hw = dict(data.get("hardware", {}))
            hw.pop("allowed_gpus", None)
            hw["max_gpus_per_server"] = 8
            hw["owned_only"] = False
            data["hardware"] = hw

        out.append(
            (
                "allow any catalogue GPU, up to 8 per server",
                "hardware.allowed_gpus: [], max_gpus_per_server: 8",
                _edited(req, widen),
            )
        )
    # 6. a shorter context window (less KV cache per sequence)
    if kind == "model-too-large" and uc.context_length > 4096:
        shorter = max(4096, uc.context_length // 2)

        def halve_context(data: dict[str, Any]) -> None:
            u = _use_case(data, name)
            u["context_length"] = shorter
            _set_use_case(data, name, u)

        out.append(
            (
                f"a {shorter}-token context window",
                f"use_cases[{name}].context_length: {shorter}",
                _edited(req, halve_context),
            )
        )
    # 7. relax the latency targets
    if kind == "latency" and dep is not None and dep.slo_check is not None:
        sc = dep.slo_check
        ttft = round(max(sc.ttft_p95_ms, 1.0) * 1.2, -1)
        itl = round(max(sc.itl_p95_ms, 1.0) * 1.2, 0)

        def relax(data: dict[str, Any]) -> None:
            u = _use_case(data, name)
            lat = dict(u.get("latency", {}))
            lat["ttft_p95_ms"] = max(lat.get("ttft_p95_ms") or 0, ttft)
            lat["itl_p95_ms"] = max(lat.get("itl_p95_ms") or 0, itl)
            lat.pop("min_output_tokens_per_s", None)
            u["latency"] = lat
            _set_use_case(data, name, u)

        out.append(
            (
                "relax the targets to what the design reaches (+20%)",
                f"use_cases[{name}].latency: ttft_p95_ms {ttft:g}, itl_p95_ms {itl:g}",
                _edited(req, relax),
            )
        )
    return out


def cost_options(
    esc: Escalation,
    edits: list[tuple[str, str, Requirements | None]],
    replan: Replan,
    budget: float | None,
    limit: int = 4,
) -> Escalation:
    """The escalation with each edit re-planned and costed (text options keep the costs, for readers)."""
    costed_opts = tuple(costed(o, c, r, replan, budget, esc.field) for o, c, r in edits[:limit])
    texts = tuple(as_text(o) for o in costed_opts) + esc.options
    return esc.model_copy(update={"costed_options": costed_opts + esc.costed_options, "options": texts})


def budget_escalation(req: Requirements, capex: Range, more_budget_meets: bool) -> Escalation | None:
    """Capex over the budget, with "raise the budget" costed from the design itself."""
    cap = req.budget.capex_usd
    if cap is None or capex.expected <= cap:
        return None
    raise_to = CostedOption(
        option="raise the budget",
        change=f"budget.capex_usd: {capex.high:,.0f}",
        summary="this design",
        capex_usd=capex,
        meets_targets=more_budget_meets,
        fits_budget=True,
    )
    return Escalation(
        kind="budget",
        field="budget.capex_usd",
        problem=f"the least expensive design that meets the targets costs {capex.low:,.0f}-{capex.high:,.0f} USD, "
        f"over the {cap:,.0f} USD budget",
        options=(as_text(raise_to),),
        costed_options=(raise_to,),
    )


def opex_escalation(req: Requirements, annual_opex: float) -> Escalation | None:
    cap = req.budget.opex_usd_per_year
    if cap is None or annual_opex <= cap:
        return None
    return Escalation(
        kind="budget",
        field="budget.opex_usd_per_year",
        problem=f"running costs {annual_opex:,.0f} USD a year exceed {cap:,.0f}",
        options=(
            "lower the power price assumption if contracted lower",
            "fewer replicas (less growth headroom: growth.headroom_pct)",
            "GPUs with more tokens per watt",
        ),
    )


def security_escalations(req: Requirements) -> list[Escalation]:
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


__all__ = [
    "budget_escalation",
    "cost_options",
    "costed",
    "opex_escalation",
    "option_edits",
    "security_escalations",
]
