"""The template context: every number a template prints, derived from the Design once (pure)."""

from __future__ import annotations

import ipaddress
import json
import math
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from garrison import engines
from garrison.alert_thresholds import LatencyThresholds
from garrison.design import Deployment, Design
from garrison.engines import Cluster, EngineMetrics
from garrison.engines import kserve as kserve_path
from garrison.engines.kserve import KServeFit
from garrison.names import slug
from garrison.render.alerts import Alert, design_alerts, latency_thresholds, queue_threshold
from garrison.render.images import engine_image, pinned, support_image
from garrison.render.placement import PlacedReplica, place


@dataclass(frozen=True)
class Replica:
    """One engine replica as a compose service."""

    service: str
    gpu_ids: tuple[str, ...]  # within its server (the leader's, for a multi-node replica)
    host: str = ""  # the server it runs on (render/placement.py)
    host_port: int = 0  # the port it is published on at that server's address (multi-server compose)


@dataclass(frozen=True)
class DeploymentView:
    """What the templates need about one deployment."""

    d: Deployment  # served_name is in d.model_name
    served_name: str  # the `model` clients send; unique across the design
    model_json: str  # this model as GET /v1/models/<name> returns it
    model_file: str  # folder or .gguf under /models
    fetch_cmd: str | None  # downloads the checkpoint into MODELS_DIR (connected machine), when known
    name: str  # DNS-safe use-case name: k8s object names, compose services, Prometheus job
    image: str
    entrypoint: tuple[str, ...]
    args: tuple[str, ...]
    env: dict[str, str]
    port: int
    upstream_keepalive: bool  # gateway may pool idle connections to this engine
    health_path: str
    metrics_path: str | None
    metrics: EngineMetrics
    replicas: tuple[Replica, ...]
    read_only_root: bool
    queue_threshold: float  # queued requests per replica the alerts and KEDA fire at
    latency: LatencyThresholds  # P95 alert thresholds from the targets and the simulated load curve
    data_dir: str | None  # writable scratch besides /tmp (TABBY_ROOT)
    ray_cluster: bool  # multi-node replicas start a Ray cluster the leader's engine drives
    api_key_env: str | None  # the engine reads its key (the gateway's second lock) from this variable
    api_key_flag: str | None  # ... or takes it with this flag
    metrics_image: str  # the metrics sidecar (k8s): the gateway's nginx image
    route: str  # gateway path prefix, e.g. /chat/v1/
    min_replicas: int
    max_replicas: int
    cpu_request: str
    memory_request: str
    memory_limit: str
    model_storage: str  # the models PVC's size, a Kubernetes quantity
    shm_size: str
    multi_node: bool
    ha: bool  # the use case asked for high availability: replicas on separate servers
    leader_args: tuple[str, ...]
    worker_args: tuple[str, ...]
    kserve: KServeFit  # whether k8s/kserve/ also runs it as an LLMInferenceService (llm-d), and why
    kserve_args: tuple[str, ...]  # the sized flags that object's container carries (when kserve.use)
    kserve_port: int  # the port KServe's template serves on (0 when not kserve.use)


def _memory_gib(dep: Deployment) -> int:
    # host RAM per replica: model weights are staged through page cache (x1.2) plus 8 GiB for the
    # engine's Python/CUDA runtime; for CPU engines weights and KV live in RAM entirely.
    est = dep.estimate
    if dep.device_kind == "cpu":
        return max(4, math.ceil(est.memory.weights_gib + est.memory.kv_cache_gib + 2))
    return max(16, math.ceil(est.weights_gib_per_gpu * dep.gpus_per_replica * 1.2 + 8))


def _model_storage_gib(dep: Deployment) -> int:
    # the checkpoint's download size when known, else the weights the estimate sized (per GPU x GPUs
    # of a replica); x1.5 for tokenizer, configs and a second revision during upgrades, + 10 GiB
    if dep.checkpoint is not None and dep.checkpoint.size_gib:
        weights = dep.checkpoint.size_gib
    else:
        gpus = dep.gpus_per_replica if dep.device_kind == "gpu" else 1
        weights = dep.estimate.memory.weights_gib * gpus
    return math.ceil(weights * 1.5) + 10


def served_names(design: Design) -> list[str]:
    """The `model` name of each deployment as clients send it: the deployment's model_name, or, when
    an earlier deployment already serves that name, model_name-use_case (routing by model needs
    every name once)."""
    out: list[str] = []
    for dep in design.deployments:
        name = dep.model_name
        if name in out:
            name = f"{name}-{slug(dep.use_case)}"
        out.append(name)
    return out


def _fetch_cmd(dep: Deployment, model_file: str) -> str | None:
    """`hf download` of the deployment's checkpoint (huggingface_hub CLI), pinned to its revision,
    into the folder or file name the engine is started with."""
    ck = dep.checkpoint
    if ck is None:
        return None
    if ck.file:
        return (
            f"hf download {shlex.quote(ck.repo)} {shlex.quote(ck.file)} --revision {shlex.quote(ck.revision)} "
            '--local-dir "${MODELS_DIR:-/srv/models}"'
        )
    return (
        f"hf download {shlex.quote(ck.repo)} --revision {shlex.quote(ck.revision)} "
        f'--local-dir "${{MODELS_DIR:-/srv/models}}/{model_file}"'
    )


def _model_object(name: str) -> dict[str, Any]:
    # the OpenAI "model" object (GET /v1/models); created is fixed so the bundle stays deterministic
    return {"id": name, "object": "model", "created": 0, "owned_by": "garrison"}


def _view(
    dep: Deployment,
    index: int,
    headroom_pct: float,
    placed: tuple[PlacedReplica, ...],
    ha: bool = False,
    digests: Mapping[str, str] | None = None,
) -> DeploymentView:
    launch = engines.launch_of(dep.engine, f"deployments[{index}].engine")
    profile = engines.get(dep.engine)
    name = slug(dep.name or dep.use_case)
    replicas = [
        Replica(service=p.service, gpu_ids=p.gpu_ids, host=p.host, host_port=p.host_port)
        for p in placed
        if p.node == 0
    ]
    # autoscaling ceiling: the design's replicas plus the growth headroom (needs that many spare
    # accelerators in the cluster; the capacity runbook says so)
    max_r = max(dep.replicas, math.ceil(dep.replicas * (1 + headroom_pct / 100)))
    mem = _memory_gib(dep)
    nodes = dep.nodes_per_replica
    kserve_fit = kserve_path.fit(dep)
    view = DeploymentView(
        d=dep,
        served_name=dep.model_name,
        model_json=json.dumps(_model_object(dep.model_name), separators=(",", ":")),
        model_file=engines.model_dir_name(dep, profile),
        fetch_cmd=_fetch_cmd(dep, engines.model_dir_name(dep, profile)),
        name=name,
        image=pinned(engine_image(dep), digests),
        entrypoint=launch.entrypoint,
        args=tuple(launch.args(dep, Cluster())),
        env=dict(sorted({**engines.OFFLINE_ENV, **launch.env}.items())),
        port=launch.port,
        upstream_keepalive=launch.upstream_keepalive,
        health_path=launch.health_path,
        metrics_path=launch.metrics_path,
        metrics=launch.metrics,
        replicas=tuple(replicas),
        read_only_root=launch.read_only_root,
        queue_threshold=queue_threshold(dep),
        latency=latency_thresholds(dep),
        data_dir=launch.data_dir,
        ray_cluster=launch.multi_node == "ray",
        api_key_env=launch.api_key_env,
        api_key_flag=launch.api_key_flag,
        metrics_image=pinned(support_image("gateway"), digests),
        route=f"/{name}/v1/",
        min_replicas=dep.replicas,
        max_replicas=max_r,
        cpu_request=str(max(2, min(32, dep.max_num_seqs // 8 + 2))) if dep.device_kind == "gpu" else "8",
        memory_request=f"{mem}Gi",
        memory_limit=f"{mem + 8}Gi",
        model_storage=f"{_model_storage_gib(dep)}Gi",
        # NCCL and the engines' worker processes share tensors through /dev/shm
        shm_size=f"{max(2, 2 * dep.tp * dep.pp)}Gi",
        multi_node=nodes > 1,
        ha=ha,
        leader_args=tuple(launch.args(dep, Cluster(nodes, "0", "$(LWS_LEADER_ADDRESS):5000"))),
        worker_args=tuple(
            launch.args(dep, Cluster(nodes, "$(LWS_WORKER_INDEX)", "$(LWS_LEADER_ADDRESS):5000"))
        ),
        kserve=kserve_fit,
        kserve_args=tuple(kserve_path.args(dep)) if kserve_fit.use else (),
        kserve_port=kserve_path.template_of(dep).port if kserve_fit.use else 0,
    )
    return view


@dataclass(frozen=True)
class GatewayLimits:
    """Gateway numbers and where they come from."""

    rate_per_min: int
    burst: int
    body_mb: int
    ttfb_s: int  # longest wait for a streamed response's first byte (then: the next replica)
    response_s: int  # longest wait for a whole (non-streamed) response, and between stream chunks
    retry_after_s: int  # when a rate-limited key may send again

    @property
    def outer_s(self) -> int:
        """The longest the gateway waits for its local hops: every retry of either, plus slack."""
        return max(3 * self.ttfb_s, 2 * self.response_s) + 10

    @property
    def read_timeout_s(self) -> int:
        """What an ingress in front of the gateway waits: a little longer than the gateway does."""
        return self.outer_s + 10


def gateway_limits(design: Design) -> GatewayLimits:
    """Per-key rate, burst, body size, time-to-first-byte and response timeouts from the design."""
    total_rpm = sum(d.requests_per_minute for d in design.deployments)
    total_conc = sum(d.concurrent_requests for d in design.deployments)
    # one key may use at most half of the platform's designed request rate (so a runaway client
    # cannot starve the others), never below 60 requests per minute: a shared front end such as
    # Open WebUI sends all its users' requests with one key
    rate = max(60, math.ceil(total_rpm / 2))
    burst = max(5, math.ceil(total_conc / 2))
    # request bodies: the longest prompt is max_model_len tokens x ~4 bytes of text per token,
    # x2 for JSON escaping and message framing, rounded up to whole MiB, at least 1 MiB
    longest = max(d.max_model_len for d in design.deployments)
    body_mb = max(1, math.ceil(longest * 4 * 2 / 2**20))
    ttfb = max(_ttfb_s(d) for d in design.deployments)
    response = max(_response_s(d, ttfb) for d in design.deployments)
    # limit_req refills one request every 60/rate seconds: that is when a rejected key may retry
    retry_after = max(1, math.ceil(60 / rate))
    return GatewayLimits(
        rate_per_min=rate,
        burst=burst,
        body_mb=body_mb,
        ttfb_s=ttfb,
        response_s=response,
        retry_after_s=retry_after,
    )


TTFB_MIN_S, TTFB_MAX_S = 10, 300
RESPONSE_MAX_S = 1800


def _ttfb_s(d: Deployment) -> int:
    """Longest wait for the first byte of a streamed response from a healthy replica.

    The first token follows the prefill of the prompt: at worst a full-context prompt,
    max_model_len / prefill_tokens_per_s (the estimate's rate at the design's prompt length),
    behind a busy batch (x3), or twice the use case's P95 TTFT target if that is longer; plus 5 s
    of slack, clamped to [10 s, 300 s]. A replica silent for longer is taken as hung: nginx gives
    the request to the next one and skips the hung one for 30 s (passive health).
    """
    prefill_rate = d.estimate.prefill_tokens_per_s
    prefill_full_s = d.max_model_len / prefill_rate if prefill_rate > 0 else float(TTFB_MAX_S)
    target_s = (d.ttft_p95_target_ms or 0) / 1000
    wait = max(3 * prefill_full_s, 2 * target_s) + 5
    return int(min(TTFB_MAX_S, max(TTFB_MIN_S, math.ceil(wait))))


def _response_s(d: Deployment, ttfb_s: int) -> int:
    """Longest wait for a whole non-streamed response: the first token, then a long answer.

    A long answer is 8 x the use case's mean output (output lengths are skewed; 4x covers the tail
    and 2x is slack on the inter-token latency) at the estimate's inter-token latency, clamped to
    [time to first byte, 1800 s]. A longer non-streamed generation is cut with 504: stream it.
    """
    itl_s = d.estimate.itl_ms / 1000
    wait = ttfb_s + 8 * max(d.output_tokens, 1) * itl_s
    return int(min(RESPONSE_MAX_S, max(ttfb_s, math.ceil(wait))))


def _networks(design: Design) -> tuple[list[str], list[str]]:
    v4: list[str] = []
    v6: list[str] = []
    for cidr in design.requirements.security.internal_networks:
        net = ipaddress.ip_network(cidr, strict=False)
        (v4 if net.version == 4 else v6).append(str(net))
    return sorted(set(v4)), sorted(set(v6))


def build_context(design: Design, image_digests: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Everything the templates read, computed once from the design; images named in `image_digests`
    (`image:tag -> sha256:...`, what an air-gap pack's archives prove) are pinned by digest."""
    views: list[DeploymentView] = []
    headroom = design.requirements.growth.headroom_pct
    names = [slug(d.name or d.use_case) for d in design.deployments]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        from garrison.errors import InputError

        raise InputError(
            "deployments",
            f"two deployments share the use case name {dup[0]!r}",
            "give each use case its own name",
        )
    layout = place(design, names)
    for i, (dep, served) in enumerate(zip(design.deployments, served_names(design), strict=True)):
        if served != dep.model_name:
            dep = dep.model_copy(update={"model_name": served})
        ha = any(u.high_availability for u in design.requirements.use_cases if u.name == dep.use_case)
        views.append(_view(dep, i, headroom, layout.replicas[names[i]], ha, image_digests))
    v4, v6 = _networks(design)
    alerts: list[Alert] = design_alerts(design)
    groups: dict[str, list[Alert]] = {}
    for a in alerts:
        groups.setdefault(a.group, []).append(a)
    gpu_count = sum(h.gpu_ids_used for h in layout.hosts)
    return {
        "design": design,
        "req": design.requirements,
        "name": slug(design.name),
        "namespace": f"garrison-{slug(design.name)}"[:63].rstrip("-"),
        "deployments": views,
        "default": views[0],
        "models_json": json.dumps(
            {"object": "list", "data": [_model_object(v.served_name) for v in views]}, separators=(",", ":")
        ),
        "gpu": any(v.d.device_kind == "gpu" for v in views),
        "gpu_count": gpu_count,
        "layout": layout,
        "multi_server": layout.multi,
        # the ports compose publishes for engine replicas on the servers' addresses (multi-server)
        "engine_host_ports": sorted({r.host_port for v in views if not v.multi_node for r in v.replicas})
        if layout.multi
        else [],
        "views_by_name": {v.name: v for v in views},
        "limits": gateway_limits(design),
        "nets_v4": v4,
        "nets_v6": v6,
        "alerts": alerts,
        "alert_groups": sorted(groups.items()),
        "images": {
            k: pinned(support_image(k), image_digests)
            for k in (
                "gateway",
                "gateway-exporter",
                "prometheus",
                "grafana",
                "dcgm-exporter",
                "node-exporter",
                "open-webui",
            )
        },
        "totals": {
            "servers": sum(s.count for s in design.servers),
            "rack_units": sum(s.rack_units * s.count for s in design.servers),
            "max_w": sum(s.power_max_w * s.count for s in design.servers),
        },
        # the Helm release name kube-prometheus-stack selects ServiceMonitors and PrometheusRules by
        # (its chart's default serviceMonitorSelector / ruleSelector: release: <release name>)
        "prometheus_release": "kube-prometheus-stack",
        "domain": f"llm.{slug(design.requirements.organisation.name)}.internal",
        "kserve": {
            "deployments": [v for v in views if v.kserve.use],
            "release": kserve_path.RELEASE,
            "api_version": kserve_path.API_VERSION,
            # KServe's default ingress Gateway (kserve/kserve-ingress-gateway) is reached through a Service
            # its Gateway API implementation names: Istio "<gateway>-istio" in the Gateway's namespace,
            # Envoy Gateway "envoy-<ns>-<gateway>-<hash>" in envoy-gateway-system. k8s/kserve/ points an
            # ExternalName Service at the Istio name; the README says where to change it.
            "gateway_host": "kserve-ingress-gateway-istio.kserve.svc.cluster.local",
            "gateway_namespaces": ["envoy-gateway-system", "kserve"],
        },
    }
