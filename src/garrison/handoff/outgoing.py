"""Hand-off YAML for the architect role's colleagues: `handoff: {source_agent, target_agent, ...}`.

The shape follows the role description's "Handoff Protocols" section; the context keys follow its
"Provides To" table (MLOps: deployment configs; API integration: endpoints and auth; ROI: TCO data;
data sovereignty: architecture validation; implementation guide: onboarding) and the agents its
"Escalation Triggers" name (programme manager: what to buy, cost, deadline, trade-offs; model
evaluator: models, formats, alternatives; security advisor: controls to confirm). Every escalation is
addressed to the agent the role description names for its kind (ESCALATION_ROUTES).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import yaml

from garrison.cost.result import TCO
from garrison.design import Design
from garrison.errors import InputError
from garrison.handoff import parse as p

Target = Literal[
    "mlops",
    "security",
    "program-manager",
    "model-evaluator",
    "api-integration",
    "roi",
    "data-sovereignty",
    "implementation-guide",
]
TARGETS: tuple[str, ...] = get_args(Target)
SOURCE_AGENT = "@Local-AI-Infrastructure-Architect"
AGENTS = {
    "mlops": ("@MLOps-Engineer", "Deploy and operate this infrastructure"),
    "security": (
        "@Security-Risk-Compliance-Advisor",
        "Confirm these security controls meet the security requirements, or say which do not",
    ),
    "program-manager": (
        "@Program-Manager",
        "Approve the purchase and timeline, or choose among the trade-off options below",
    ),
    "model-evaluator": (
        "@Open-Source-Model-Evaluator",
        "Confirm these models and formats, or propose alternatives for the escalations below",
    ),
    "api-integration": ("@API-Integration-Specialist", "Configure service connectivity to these endpoints"),
    "roi": ("@ROI-Calculator", "Update financial projections with this TCO"),
    "data-sovereignty": ("@Data-Sovereignty-Advisor", "Confirm this architecture is compliant"),
    "implementation-guide": ("@Implementation-Guide", "Write setup tutorials to onboard the team"),
}
# The role description's "Escalation Triggers": who hears about each kind of escalation, and the action.
# latency and capacity are not in its table: a missed latency target is a model question (a smaller or
# faster model), a capacity shortfall a budget question (more hardware).
ESCALATION_ROUTES: dict[str, tuple[str, str]] = {
    "budget": ("@Program-Manager", "Present trade-off options"),
    "capacity": ("@Program-Manager", "Present trade-off options"),
    "model-too-large": ("@Open-Source-Model-Evaluator", "Consult for alternatives"),
    "latency": ("@Open-Source-Model-Evaluator", "Consult for alternatives (a smaller or faster model)"),
    "security": ("@Security-Risk-Compliance-Advisor", "Escalate: security requirement not achievable"),
    "data": ("@Data-Sovereignty-Advisor", "Alert: compliance gap in the architecture"),
    # the role's "Hardware lead time impacts timeline: notify @Program-Manager immediately"
    "schedule": ("@Program-Manager", "Notify immediately: hardware lead time impacts the timeline"),
    "site": ("@Program-Manager", "Present trade-off options (the site's power, space or cooling)"),
    "licence": ("@Open-Source-Model-Evaluator", "Consult for alternatives under an accepted licence"),
}
# The role's success metric: "<2 weeks from hardware arrival to production".
DEPLOY_DAYS_AFTER_ARRIVAL = 14
ARTEFACTS = (
    "hardware spec",
    "docker compose",
    "kubernetes manifests",
    "gateway (nginx) config",
    "monitoring (prometheus rules, dashboards)",
    "firewall rules",
    "air-gap package list",
    "runbooks",
    "report.html",
)


def handoff(design: Design, to: str, tco: TCO | None = None) -> dict[str, Any]:
    """The hand-off document for one colleague as plain data (YAML-ready)."""
    if to not in AGENTS:
        raise InputError("--to", f"{to!r} is not a colleague", f"use one of: {', '.join(TARGETS)}")
    agent, request = AGENTS[to]
    builders = {
        "mlops": _mlops,
        "security": _security,
        "model-evaluator": _evaluator,
        "api-integration": _api,
        "data-sovereignty": _sovereignty,
        "implementation-guide": _guide,
    }
    if to in ("roi", "program-manager"):
        if tco is None:
            raise InputError(
                "tco", f"the {to} hand-off needs the TCO", "compute it with `garrison tco` first"
            )
        context = _roi(design, tco) if to == "roi" else _programme(design, tco)
    else:
        context = builders[to](design)
    return {
        "handoff": {
            "source_agent": SOURCE_AGENT,
            "target_agent": agent,
            "design": design.name,
            "context": _rounded(context),
            "request": request,
        }
    }


def _rounded(obj: Any) -> Any:
    """Floats to two decimals (money in dollars and cents, percentages), recursively."""
    if isinstance(obj, float):
        return round(obj, 2)
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_rounded(v) for v in obj]
    return obj


def handoff_yaml(design: Design, to: str, tco: TCO | None = None) -> str:
    """`handoff()` as YAML text, keys in a fixed order."""
    return yaml.safe_dump(handoff(design, to, tco), sort_keys=False, allow_unicode=True, width=100)


def handoff_files(design: Design, tco: TCO, targets: tuple[str, ...] = TARGETS) -> dict[str, str]:
    """`{"handoff-<target>.yaml": text}` for every colleague (or those in `targets`)."""
    return {f"handoff-{to}.yaml": handoff_yaml(design, to, tco) for to in targets}


def _gateway_host(d: Design) -> str:
    gw = next((s.name for s in d.servers if s.role == "gateway"), None)
    return gw or next((s.name for s in d.servers), "gateway")


def _hardware(d: Design) -> list[dict[str, Any]]:
    return [
        {
            "name": s.name,
            "role": s.role,
            "count": s.count,
            "gpus": f"{s.gpus_per_server} x {s.gpu}" if s.gpu else "none",
            "cpu": f"{s.cpu_sockets} x {s.cpu}",
            "ram_gib": s.ram_gib,
            "nvme_tb": s.nvme_tb,
            "network": s.network,
            "psu_w": s.psu_w,
            "power_typical_w": s.power_typical_w,
            "power_max_w": s.power_max_w,
            "cooling_btu_h": s.cooling_btu_h,
            "rack_units": s.rack_units,
            "hosts": list(s.hosts),
        }
        for s in d.servers
    ]


def _mlops(d: Design) -> dict[str, Any]:
    sec = d.requirements.security
    return {
        "hardware_spec": _hardware(d),
        "deployment_configs": [
            {
                "use_case": x.use_case,
                "model": x.model_id,
                "served_name": x.model_name,
                "engine": x.engine,
                "image": x.engine_image,
                "quant": x.quant,
                "kv_dtype": x.kv_dtype,
                "gpus_per_replica": x.gpus_per_replica,
                "tensor_parallel": x.tp,
                "pipeline_parallel": x.pp,
                "replicas": x.replicas,
                "max_model_len": x.max_model_len,
                "max_num_seqs": x.max_num_seqs,
                "max_num_batched_tokens": x.max_num_batched_tokens,
                "gpu_memory_utilization": x.gpu_memory_utilization,
            }
            for x in d.deployments
        ],
        "network_architecture": {
            "air_gapped": sec.air_gapped,
            "vlan_segmented": sec.vlan_segmented,
            "zero_trust_gateway": sec.zero_trust_gateway,
            "internal_networks": list(sec.internal_networks),
            "gateway": _gateway_host(d),
            "egress": "denied except internal networks",
            "tls": "terminated at the gateway",
            "auth": "API keys at the gateway",
        },
        "monitoring_setup": {
            "scrape": ["engine /metrics on every replica", "DCGM exporter on every GPU server"],
            "scaling_triggers": [{"use_case": x.use_case, **x.triggers.model_dump()} for x in d.deployments],
        },
        "runbooks": "rendered with `garrison render` next to: " + ", ".join(ARTEFACTS),
        "checkpoints": [
            {"use_case": x.use_case, **(x.checkpoint.model_dump() if x.checkpoint else {"repo": None})}
            for x in d.deployments
        ],
        "escalations": escalations(d),
    }


def _endpoints(d: Design) -> list[dict[str, Any]]:
    host = _gateway_host(d)
    return [
        {
            "use_case": x.use_case,
            "kind": x.kind,
            "base_url": f"https://{host}/v1",
            "model": x.model_name,
            "api": "OpenAI-compatible: /v1/chat/completions, /v1/completions, /v1/models"
            + (" (FIM via /v1/completions suffix)" if x.fim else ""),
            "max_context_tokens": x.max_model_len,
            "design_requests_per_minute": x.requests_per_minute,
            "ttft_p95_target_ms": x.ttft_p95_target_ms,
        }
        for x in d.deployments
    ]


def _api(d: Design) -> dict[str, Any]:
    return {
        "endpoints": _endpoints(d),
        "authentication": {
            "scheme": "Authorization: Bearer <api key>",
            "issued_by": "`garrison keys` at the gateway",
            "transport": "TLS at the gateway; plain HTTP only inside the host",
        },
        "gateway_host": _gateway_host(d),
        "limits": "requests above the design rate queue; see the scaling triggers in the MLOps hand-off",
    }


def _roi(d: Design, t: TCO) -> dict[str, Any]:
    return {
        "tco_data": {
            "years": t.years,
            "capex_usd": t.capex_usd.model_dump(),
            "capex_complete": t.capex_complete,
            "missing_prices": list(t.missing),
            "annual_opex_usd": round(t.annual_opex_usd, 2),
            "annual_power_usd": round(t.annual_power_usd, 2),
            "annual_maintenance_usd": round(t.annual_maintenance_usd, 2),
            "annual_staff_usd": t.annual_staff_usd,
            "annual_colocation_usd": t.annual_colocation_usd,
            "tokens_per_year": t.tokens_per_year,
            "expected_utilisation": round(t.expected_utilisation, 4),
            "self_hosted_usd_per_mtok": t.self_hosted_usd_per_mtok.model_dump(),
            "reference_cloud": t.reference,
            "breakeven_month": t.breakeven_month,
            "savings_pct": t.savings_pct,
        },
        "hardware_costs": [
            {
                "server": s.name,
                "count": s.count,
                "price_usd_each": s.price_usd.model_dump() if s.price_usd else None,
            }
            for s in d.servers
        ],
        "cloud_comparison": [
            {
                "provider": c.provider,
                "model": c.model,
                "usd_per_year": round(c.usd_per_year, 2),
                "breakeven_month": c.breakeven_month,
                "as_of": c.as_of,
                "stale": c.stale,
            }
            for c in t.cloud
        ],
        "sensitivity": [r.model_dump() for r in t.sensitivity],
        "assumptions": list(t.assumptions),
        "stale_prices": list(t.stale),
    }


def _sovereignty(d: Design) -> dict[str, Any]:
    sec = d.requirements.security
    return {
        "architecture_validation": {
            "data_location": "on the organisation's own servers: " + ", ".join(s.name for s in d.servers),
            "data_residency": sec.data_residency,
            "compliance": list(sec.compliance),
            "air_gapped": sec.air_gapped,
            "egress": "denied by host firewall except internal networks",
            "internal_networks": list(sec.internal_networks),
            "third_party_apis": "none",
            "models": [
                {"use_case": x.use_case, "model": x.model_id, "source": x.model_path or "catalogue"}
                for x in d.deployments
            ],
            "access_control": "per-user API keys at the gateway; TLS in transit",
        },
        "compliance_notes": d.requirements.compliance_notes,
        "open_escalations": escalations(d, ("security", "data")),
    }


def _guide(d: Design) -> dict[str, Any]:
    host = _gateway_host(d)
    first = d.deployments[0].model_name if d.deployments else "<model>"
    return {
        "onboarding_steps": [
            "Ask the platform team for a personal API key (issued with `garrison keys`).",
            f"Point an OpenAI-compatible client at https://{host}/v1 with that key.",
            "Pick the model for your use case from the table below.",
            f"Test: curl -H 'Authorization: Bearer $KEY' https://{host}/v1/models",
            "Code completion: configure the IDE plug-in's OpenAI-compatible endpoint and the code model.",
        ],
        "endpoints": _endpoints(d),
        "example_request": {"model": first, "messages": [{"role": "user", "content": "Hello"}]},
        "team_size": d.requirements.organisation.team_size,
    }


def escalations(d: Design, kinds: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """The design's escalations, each addressed to the agent the role description names for its kind."""
    out = []
    for e in d.escalations:
        if kinds is not None and e.kind not in kinds:
            continue
        to, action = ESCALATION_ROUTES.get(e.kind, ("@Program-Manager", "Present trade-off options"))
        out.append({"to": to, "action": action, **e.model_dump()})
    return out


def _security(d: Design) -> dict[str, Any]:
    sec = d.requirements.security
    return {
        "security_requirements": {
            "air_gapped": sec.air_gapped,
            "vlan_segmented": sec.vlan_segmented,
            "zero_trust_gateway": sec.zero_trust_gateway,
            "compliance": list(sec.compliance),
            "data_residency": sec.data_residency,
            "compliance_notes": d.requirements.compliance_notes,
        },
        "controls": {
            "transport": "TLS terminated at the gateway (certificate from the organisation's CA)",
            "authentication": "per-user API keys at the gateway; engines sit on an internal backend "
            "network reached only through it",
            "egress": "denied by host firewall (iptables and nftables rules in the bundle) except "
            + ", ".join(sec.internal_networks),
            "containers": "non-root users, read-only model mounts, no host network",
            "secrets": "kept out of files: keys live in the gateway's key map as digests, never in plain text",
            "supply_chain": "air-gap pack with SHA-256 manifest of models, images and wheels"
            + (" (required: air-gapped site)" if sec.air_gapped else " (optional)"),
            "audit": "gateway audit log per request (key id, model, status, latency; never bodies)",
        },
        "hardware_policy": [a for a in d.assumptions if "consumer" in a or "GeForce" in a]
        or ["no restriction on consumer GPUs was needed"],
        "models": [
            {"use_case": x.use_case, "model": x.model_id, "licence": x.licence or "unknown"}
            for x in d.deployments
        ],
        "artefacts_to_review": [
            "security/nftables.conf",
            "security/iptables.rules",
            "security/hardening-checklist.md",
            "gateway/nginx.conf",
            "k8s/base/networkpolicy.yaml",
        ],
        "open_escalations": escalations(d, ("security", "data")),
    }


def _evaluator(d: Design) -> dict[str, Any]:
    return {
        "models": [
            {
                "use_case": x.use_case,
                "kind": x.kind,
                "model": x.model_id,
                "served_name": x.model_name,
                "format": x.quant,
                "kv_cache": x.kv_dtype,
                "licence": x.licence or "unknown",
                "checkpoint": x.checkpoint.model_dump() if x.checkpoint else None,
                "context_tokens": x.max_model_len,
                "fim": x.fim,
                "weights_gib_per_gpu": round(x.estimate.weights_gib_per_gpu, 1),
                "hardware": f"{x.gpus_per_replica} x {x.device} per replica, {x.replicas} replica(s)",
                "latency_targets_ms": {"ttft_p95": x.ttft_p95_target_ms, "itl_p95": x.itl_p95_target_ms},
                "alternatives": [{"summary": a.summary, "why_lost": a.why_lost} for a in x.alternatives],
            }
            for x in d.deployments
        ],
        "licence_policy": _licence_policy(d),
        "escalations": escalations(d, ("model-too-large", "latency", "licence")),
    }


def _licence_policy(d: Design) -> dict[str, Any]:
    """The licences the hand-off allowed, and the deployments whose licence is outside them or unknown."""
    # the licences the use cases accept (requirements.use_cases[].licences, filled from the hand-off)
    allowed = sorted({lic for uc in d.requirements.use_cases for lic in uc.licences})
    if not allowed and d.requirements.handoff is not None:
        allowed = list(d.requirements.handoff.licences)
    check = []
    for x in d.deployments:
        lic = (x.licence or "").lower()
        if not allowed:
            status = "no licence policy stated"
        elif not lic:
            status = "licence unknown: confirm it is one of the allowed"
        else:
            status = (
                "allowed"
                if any(lic == a or lic.startswith(a) for a in allowed)
                else "NOT in the allowed list"
            )
        check.append(
            {"use_case": x.use_case, "model": x.model_id, "licence": x.licence or "unknown", "status": status}
        )
    return {"allowed": allowed, "deployments": check}


def _programme(d: Design, t: TCO) -> dict[str, Any]:
    from garrison.report.verdict import build_verdict

    v = build_verdict(d, t)
    h = d.requirements.handoff
    deadline = h.deadline if h else None
    timeline: dict[str, Any] = {
        "deadline": deadline,
        "deploy_target_days_after_hardware_arrival": DEPLOY_DAYS_AFTER_ARRIVAL,
        "hardware_lead_time": "not in Garrison's catalogue: ask the vendors for dated quotes",
    }
    due = p.deadline_date(deadline) if deadline else None
    if due is not None:
        from datetime import timedelta

        timeline["hardware_must_arrive_by"] = (due - timedelta(days=DEPLOY_DAYS_AFTER_ARRIVAL)).isoformat()
    notify = []
    if deadline:
        notify.append(
            {
                "to": "@Program-Manager",
                "action": "Notify immediately if vendor lead times push arrival past "
                + timeline.get("hardware_must_arrive_by", "the deadline"),
                "kind": "timeline",
                "problem": f"deadline {deadline!r}; lead times are not known to Garrison",
            }
        )
    return {
        "decision": v.decision,
        "what_to_buy": [b.model_dump() for b in v.buy],
        "cost": {
            "capex_usd": v.capex_usd.model_dump() if v.capex_usd else None,
            "annual_opex_usd": v.annual_opex_usd,
            "tco_years": v.years,
            "tco_usd": v.tco_usd.model_dump() if v.tco_usd else None,
            "budget": d.requirements.budget.model_dump(),
        },
        "cloud_comparison": {
            "cheapest": v.cheapest.model_dump() if v.cheapest else None,
            "reference": v.reference.model_dump() if v.reference else None,
            "strongest": v.strongest.model_dump() if v.strongest else None,
            "breakeven": v.breakeven,
        },
        "facility": {
            "rack_units": sum(s.rack_units * s.count for s in d.servers),
            "power_max_kw": round(sum(s.power_max_w * s.count for s in d.servers) / 1000, 2),
            "cooling_btu_h": round(sum(s.cooling_btu_h * s.count for s in d.servers)),
        },
        "timeline": timeline,
        "risks": list(v.risks),
        "escalations": escalations(d, ("budget", "capacity", "schedule", "site")) + notify,
        "all_escalations": escalations(d),
    }


__all__ = [
    "AGENTS",
    "ESCALATION_ROUTES",
    "TARGETS",
    "escalations",
    "handoff",
    "handoff_files",
    "handoff_yaml",
]
