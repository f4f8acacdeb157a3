"""render_bundle: pure, deterministic, complete, and faithful to the design's numbers."""

from __future__ import annotations

import re

import pytest
import yaml

from bundle.designs import cpu_llamacpp_design, gpu_vllm_design, multinode_design
from garrison.design import Design
from garrison.errors import InputError
from garrison.render import render_bundle
from garrison.render.context import gateway_limits

REQUIRED = [
    "README.md",
    "design.json",
    "hardware/README.md",
    "compose/.env.example",
    "k8s/base/kustomization.yaml",
    "k8s/base/networkpolicy.yaml",
    "k8s/base/ingress.yaml",
    "k8s/base/prometheusrule.yaml",
    "k8s/overlays/production/kustomization.yaml",
    "gateway/nginx.conf",
    "gateway/upstreams.conf",
    "monitoring/prometheus.yml",
    "monitoring/rules/garrison-alerts.yml",
    "monitoring/tests/garrison-alerts.test.yml",
    "monitoring/grafana/provisioning/datasources/prometheus.yml",
    "security/nftables.conf",
    "security/iptables.rules",
    "security/hardening-checklist.md",
    "security/accepted-checks.md",
    "runbooks/deploy.md",
    "runbooks/operate.md",
    "runbooks/upgrade.md",
    "runbooks/backup-dr.md",
    "runbooks/incident.md",
    "runbooks/capacity.md",
    "runbooks/onboarding.md",
    "scripts/make-tls-cert.sh",
]


def test_every_artifact_is_rendered(design: Design) -> None:
    files = render_bundle(design)
    missing = [f for f in REQUIRED if f not in files]
    assert not missing, missing
    assert list(files) == sorted(files)
    # one compose file for a single server, else one per server (never both)
    per_server = [p for p in files if re.fullmatch(r"compose/[a-z0-9-]+/compose\.yaml", p)]
    assert ("compose/compose.yaml" in files) != bool(per_server), sorted(files)


def test_rendering_is_deterministic_and_has_no_timestamps(design: Design) -> None:
    a, b = render_bundle(design), render_bundle(design.model_copy(deep=True))
    assert a == b
    stamp = re.compile(r"20\d\d-\d\d-\d\dT\d\d:\d\d|\b\d{10}\.\d+\b")
    assert not [p for p, t in a.items() if stamp.search(t)]


def test_images_are_pinned(design: Design) -> None:
    files = render_bundle(design)
    images = re.findall(r'image: "([^"]+)"', "\n".join(t for p, t in files.items() if p.endswith(".yaml")))
    assert images
    for image in images:
        assert ":" in image.rsplit("/", 1)[-1] and not image.endswith(":latest"), image


def _compose(d: Design) -> dict:
    """Every compose service of the design, over its per-server files when it has several servers."""
    files = render_bundle(d)
    services: dict = {}
    for path, text in files.items():
        if path.startswith("compose/") and path.endswith("compose.yaml"):
            services.update(yaml.safe_load(text)["services"])
    return {"services": services}


def test_vllm_command_line_carries_the_design_settings() -> None:
    d = gpu_vllm_design()
    svc = _compose(d)["services"]
    assert {"chat-0", "chat-1"} <= set(svc)
    cmd = svc["chat-0"]["command"]
    dep = d.deployments[0]
    pairs = dict(zip(cmd[1::2], cmd[2::2], strict=False))
    assert cmd[0] == "/models/qwen3-8b"  # local path, never a hub id
    assert pairs["--tensor-parallel-size"] == str(dep.tp)
    assert pairs["--max-model-len"] == str(dep.max_model_len)
    assert pairs["--max-num-seqs"] == str(dep.max_num_seqs)
    assert pairs["--max-num-batched-tokens"] == str(dep.max_num_batched_tokens)
    assert pairs["--gpu-memory-utilization"] == "0.9"
    env = svc["chat-0"]["environment"]
    assert env["HF_HUB_OFFLINE"] == "1" and env["TRANSFORMERS_OFFLINE"] == "1"
    assert env["VLLM_NO_USAGE_STATS"] == "1"
    # replicas get disjoint GPUs
    ids = [
        svc[f"chat-{i}"]["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"] for i in (0, 1)
    ]
    assert ids == [["0"], ["1"]]
    assert svc["chat-0"]["volumes"] == ["${MODELS_DIR:-/srv/models}:/models:ro"]
    assert svc["chat-0"]["read_only"] is True and svc["chat-0"]["user"] == "1000:1000"


def test_llamacpp_context_is_per_slot_times_slots() -> None:
    d = cpu_llamacpp_design()
    cmd = _compose(d)["services"]["assistant-0"]["command"]
    dep = d.deployments[0]
    pairs = dict(zip(cmd[::2], cmd[1::2], strict=False))
    assert pairs["-m"] == "/models/llama-3.2-3b-Q4_K_M.gguf"
    assert pairs["-c"] == str(dep.max_model_len * dep.max_num_seqs)
    assert pairs["-np"] == str(dep.max_num_seqs)
    assert pairs["-ngl"] == "0"
    assert "--offline" in cmd and "--metrics" in cmd
    assert "dcgm-exporter" not in _compose(d)["services"]  # no GPUs, no DCGM


def test_multinode_uses_leaderworkerset_and_sglang_settings() -> None:
    files = render_bundle(multinode_design())
    assert "k8s/base/frontier-leaderworkerset.yaml" in files
    assert "k8s/base/frontier-deployment.yaml" not in files
    lws = yaml.safe_load(files["k8s/base/frontier-leaderworkerset.yaml"])
    assert lws["spec"]["leaderWorkerTemplate"]["size"] == 2
    leader = lws["spec"]["leaderWorkerTemplate"]["leaderTemplate"]["spec"]["containers"][0]
    assert (
        "--pipeline-parallel-size 2" in leader["command"][-1]
        and "--tensor-parallel-size 8" in leader["command"][-1]
    )
    assert leader["resources"]["limits"]["nvidia.com/gpu"] == "8"  # 16 GPUs over 2 nodes
    compose = _compose(multinode_design())
    assert not any(s.startswith("frontier") for s in compose["services"])  # k8s only
    code = compose["services"]["code-0"]["command"]
    assert code[code.index("--tp-size") + 1] == "1" and "--enable-metrics" in code


def test_alert_rules_use_the_design_triggers() -> None:
    d = multinode_design()
    rules = yaml.safe_load(render_bundle(d)["monitoring/rules/garrison-alerts.yml"])
    exprs = {r["alert"]: r for g in rules["groups"] for r in g["rules"]}
    assert exprs["GPUUtilizationHigh"]["expr"].endswith("> 80")  # frontier's trigger (stricter)
    assert exprs["FrontierLatencyP95High"]["expr"].endswith("> 8")
    assert "vllm:e2e_request_latency_seconds_bucket" in exprs["FrontierLatencyP95High"]["expr"]
    assert "sglang:num_queue_reqs" in exprs["CodeQueueDepthHigh"]["expr"]
    assert exprs["CodeQueueDepthHigh"]["for"] == "10m"
    tests = yaml.safe_load(render_bundle(d)["monitoring/tests/garrison-alerts.test.yml"])
    tested = {t["alert_rule_test"][0]["alertname"] for t in tests["tests"]}
    assert tested == set(exprs)  # one unit test per alert


def test_gateway_limits_follow_the_design() -> None:
    d = gpu_vllm_design()
    lim = gateway_limits(d)
    assert lim.rate_per_min == 60  # half of 120 req/min
    conf = render_bundle(d)["gateway/nginx.conf"]
    assert "rate=60r/m" in conf and f"burst={lim.burst} nodelay" in conf
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in conf
    assert "proxy_buffering off;" in conf and 'proxy_set_header Authorization "";' in conf
    assert "include api_keys.map;" in conf
    # never log bodies: the audit log format has no $request_body (routing by model reads it)
    log_format = conf[conf.index("log_format garrison_audit") : conf.index("access_log")]
    assert "$request_body" not in log_format and "$request_body" in conf
    ups = render_bundle(d)["gateway/upstreams.conf"]
    # a replica that times out, refuses or drops a request once is skipped for 30 s (passive health)
    assert "least_conn;" in ups and ups.count("max_fails=1 fail_timeout=30s") == 2
    # the two local hops: the first byte of a stream, and a whole answer, each bounded
    assert f"proxy_read_timeout {lim.ttfb_s}s;" in conf and f"proxy_read_timeout {lim.response_s}s;" in conf
    assert lim.ttfb_s <= lim.response_s < lim.outer_s < lim.read_timeout_s


def test_gateway_pools_engine_connections_only_where_the_engine_keeps_them() -> None:
    """llama-server drops the connection after each streamed response, so its upstreams get no
    keepalive pool (a pooled, closing connection answers 502); vLLM keeps its connections open."""
    for d, pooled in ((gpu_vllm_design(), True), (cpu_llamacpp_design(), False)):
        files = render_bundle(d)
        for ups in (files["gateway/upstreams.conf"], files["k8s/base/gateway/upstreams.conf"]):
            assert ("keepalive 32;" in ups) is pooled, ups
        conf = files["gateway/nginx.conf"]
        # failover retries a POST that failed before any answer, which needs the body buffered
        assert "proxy_next_upstream error timeout non_idempotent http_502 http_503 http_504;" in conf
        assert "proxy_request_buffering off" not in conf


def test_env_example_has_no_secret_values(design: Design) -> None:
    text = render_bundle(design)["compose/.env.example"]
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            if any(s in key for s in ("KEY", "PASSWORD", "SECRET")) and not key.endswith("_FILE"):
                assert value == "", line


def test_unsupported_engine_is_an_input_error() -> None:
    d = gpu_vllm_design()
    bad = d.model_copy(update={"deployments": (d.deployments[0].model_copy(update={"engine": "trtllm"}),)})
    with pytest.raises(InputError, match=r"deployments\[0\]\.engine"):
        render_bundle(bad)


def test_render_is_the_same_after_a_json_round_trip(design: Design) -> None:
    """`garrison render design.json` must reproduce what `plan` rendered from the in-memory design."""
    from garrison.outputs import design_json
    from garrison.render.design_file import parse_design

    assert render_bundle(parse_design(design_json(design))) == render_bundle(design)


def test_replicas_spread_over_servers_by_the_ha_rule() -> None:
    """Two replicas: preferred on different servers; required when the use case asked for HA."""
    d = gpu_vllm_design()
    spread = yaml.safe_load(render_bundle(d)["k8s/base/chat-deployment.yaml"])["spec"]["template"]["spec"]
    (c,) = spread["topologySpreadConstraints"]
    assert c["topologyKey"] == "kubernetes.io/hostname" and c["whenUnsatisfiable"] == "ScheduleAnyway"
    uc = d.requirements.use_cases[0].model_copy(update={"high_availability": True})
    ha = d.model_copy(update={"requirements": d.requirements.model_copy(update={"use_cases": (uc,)})})
    spec = yaml.safe_load(render_bundle(ha)["k8s/base/chat-deployment.yaml"])["spec"]["template"]["spec"]
    assert spec["topologySpreadConstraints"][0]["whenUnsatisfiable"] == "DoNotSchedule"
    assert spec["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "chat"
    }
