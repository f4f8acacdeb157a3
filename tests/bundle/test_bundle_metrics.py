"""The llama.cpp series the alerts, dashboards and KEDA use exist on a real llama-server's /metrics."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable

import pytest

from bundle.designs import cpu_llamacpp_design
from garrison import engines
from garrison.render import render_bundle
from garrison.testing.servers import LlamaServer

pytestmark = pytest.mark.slow


def test_llamacpp_metric_names_are_real(llama_server: Callable[..., LlamaServer]) -> None:
    srv = llama_server()
    with urllib.request.urlopen(srv.base_url + "/metrics", timeout=10) as r:
        exported = {ln.split()[2] for ln in r.read().decode().splitlines() if ln.startswith("# TYPE")}
    m = engines.launch_of("llama.cpp").metrics
    used = {n for n in (m.queue, m.running, m.generation_tokens) if n}
    assert used <= exported, used - exported
    files = render_bundle(cpu_llamacpp_design())
    rendered = files["monitoring/rules/garrison-alerts.yml"] + files["k8s/base/assistant-scaledobject.yaml"]
    names = {n for n in exported if n in rendered}
    assert m.queue in names
