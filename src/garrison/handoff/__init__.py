"""Hand-off YAML for the architect role's colleagues: `handoff: {source_agent, ...}`.

The shape follows the role description's "Handoff Protocols" section; the context keys follow its
"Provides To" table (MLOps: deployment configs; API integration: endpoints and auth; ROI: TCO data;
data sovereignty: architecture validation; implementation guide: onboarding).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import yaml

from garrison.cost.result import TCO
from garrison.design import Design
from garrison.errors import InputError

Target = Literal["mlops", "api-integration", "roi", "data-sovereignty", "implementation-guide"]
TARGETS: tuple[str, ...] = get_args(Target)
SOURCE_AGENT = "@Local-AI-Infrastructure-Architect"
AGENTS = {
    "mlops": ("@MLOps-Engineer", "Deploy and operate this infrastructure"),
    "api-integration": ("@API-Integration-Specialist", "Configure service connectivity to these endpoints"),
    "roi": ("@ROI-Calculator", "Update financial projections with this TCO"),
    "data-sovereignty": ("@Data-Sovereignty-Advisor", "Confirm this architecture is compliant"),
    "implementation-guide": ("@Implementation-Guide", "Write setup tutorials to onboard the team"),
}
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
        "api-integration": _api,
        "data-sovereignty": _sovereignty,
        "implementation-guide": _guide,
    }
    if to == "roi":
        if tco is None:
            raise InputError("tco", "the ROI hand-off needs the TCO", "compute it with `garrison tco` first")
        context = _roi(design, tco)
    else:
        context = builders[to](design)
    return {
        "handoff": {
            "source_agent": SOURCE_AGENT,
            "target_agent": agent,
            "design": design.name,
            "context": context,
            "request": request,
        }
    }


def handoff_yaml(design: Design, to: str, tco: TCO | None = None) -> str:
    """`handoff()` as YAML text, keys in a fixed order."""
    return yaml.safe_dump(handoff(design, to, tco), sort_keys=False, allow_unicode=True, width=100)


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
        "escalations": [e.model_dump() for e in d.escalations],
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
        "open_escalations": [e.model_dump() for e in d.escalations if e.kind in ("security", "data")],
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


__all__ = ["TARGETS", "handoff", "handoff_yaml"]
