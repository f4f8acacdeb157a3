"""Grafana dashboards as JSON (GPU, engines, gateway), built from the engines' real metric names."""

from __future__ import annotations

import json
from typing import Any


def _panel(pid: int, title: str, exprs: list[tuple[str, str]], unit: str, y: int, x: int) -> dict[str, Any]:
    return {
        "id": pid,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "prometheus"},
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(exprs)
        ],
    }


def _dashboard(uid: str, title: str, panels: list[tuple[str, list[tuple[str, str]], str]]) -> str:
    body = {
        "uid": uid,
        "title": title,
        "tags": ["garrison"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "panels": [_panel(i + 1, t, e, u, (i // 2) * 8, (i % 2) * 12) for i, (t, e, u) in enumerate(panels)],
    }
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


def dashboards(ctx: dict[str, Any]) -> dict[str, str]:
    """`monitoring/grafana/dashboards/*.json` for the design."""
    out: dict[str, str] = {}
    base = "monitoring/grafana/dashboards/"
    if ctx["gpu"]:
        out[base + "gpu.json"] = _dashboard(
            "garrison-gpu",
            "GPUs",
            [
                ("GPU utilisation", [("DCGM_FI_DEV_GPU_UTIL", "{{instance}} gpu {{gpu}}")], "percent"),
                (
                    "GPU memory used",
                    [
                        (
                            "100 * DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)",
                            "{{instance}} gpu {{gpu}}",
                        )
                    ],
                    "percent",
                ),
                ("Power draw", [("DCGM_FI_DEV_POWER_USAGE", "{{instance}} gpu {{gpu}}")], "watt"),
                ("Temperature", [("DCGM_FI_DEV_GPU_TEMP", "{{instance}} gpu {{gpu}}")], "celsius"),
            ],
        )
    for v in ctx["deployments"]:
        m = v.metrics
        job = f'job="{v.name}"'
        panels: list[tuple[str, list[tuple[str, str]], str]] = []
        if m.queue and m.running:
            panels.append(
                (
                    "Requests running / waiting",
                    [(f"sum({m.running}{{{job}}})", "running"), (f"sum({m.queue}{{{job}}})", "waiting")],
                    "short",
                )
            )
        if m.generation_tokens:
            panels.append(
                ("Output tokens/s", [(f"sum(rate({m.generation_tokens}{{{job}}}[1m]))", "tokens/s")], "short")
            )
        for title, bucket in (
            ("TTFT", m.ttft_bucket),
            ("Inter-token latency", m.itl_bucket),
            ("End-to-end latency", m.e2e_bucket),
        ):
            if bucket:
                panels.append(
                    (
                        f"{title} P50 / P95",
                        [
                            (f"histogram_quantile(0.5, sum by (le) (rate({bucket}{{{job}}}[5m])))", "p50"),
                            (f"histogram_quantile(0.95, sum by (le) (rate({bucket}{{{job}}}[5m])))", "p95"),
                        ],
                        "s",
                    )
                )
        if m.kv_usage:
            panels.append(("KV cache usage", [(f"max({m.kv_usage}{{{job}}})", "kv")], "percentunit"))
        panels.append(("Replicas up", [(f"sum(up{{{job}}})", "up")], "short"))
        out[base + f"engine-{v.name}.json"] = _dashboard(
            f"garrison-{v.name}"[:40], f"Engine: {v.name}", panels
        )
    out[base + "gateway.json"] = _dashboard(
        "garrison-gateway",
        "Gateway",
        [
            ("Requests/s", [("rate(nginx_http_requests_total[1m])", "requests/s")], "reqps"),
            (
                "Active connections",
                [("nginx_connections_active", "active"), ("nginx_connections_waiting", "waiting")],
                "short",
            ),
        ],
    )
    return out
