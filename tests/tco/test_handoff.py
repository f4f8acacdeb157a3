"""Hand-off YAML for each colleague: the role description's shape, real content, yamllint-clean."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from garrison.atomic import write_text_atomic as write_atomic
from garrison.cost import compute_tco
from garrison.errors import InputError
from garrison.handoff import TARGETS, handoff, handoff_yaml

EXPECTED_CONTEXT = {
    "mlops": {"hardware_spec", "deployment_configs", "network_architecture", "monitoring_setup", "runbooks"},
    "api-integration": {"endpoints", "authentication"},
    "roi": {"tco_data", "hardware_costs", "cloud_comparison", "sensitivity"},
    "data-sovereignty": {"architecture_validation"},
    "implementation-guide": {"onboarding_steps", "endpoints"},
    "security": {"security_requirements", "controls", "models", "open_escalations"},
    "program-manager": {"decision", "what_to_buy", "cost", "cloud_comparison", "timeline", "escalations"},
    "model-evaluator": {"models", "licence_policy", "escalations"},
}


@pytest.mark.parametrize("to", TARGETS)
def test_shape_for_every_colleague(to, design, gpus, prices, tmp_path):
    text = handoff_yaml(design, to, compute_tco(design, prices, gpus))
    doc = yaml.safe_load(text)
    h = doc["handoff"]
    assert h["source_agent"] == "@Local-AI-Infrastructure-Architect"
    assert h["target_agent"].startswith("@") and h["request"]
    assert EXPECTED_CONTEXT[to] <= set(h["context"])
    f = tmp_path / "h.yaml"
    f.write_text("---\n" + text)
    if shutil.which("yamllint"):
        r = subprocess.run(
            ["yamllint", "-d", "{extends: relaxed, rules: {line-length: {max: 200}}}", str(f)],
            capture_output=True,
            text=True,
        )
        assert r.returncode == 0, r.stdout


def test_content_carries_the_design(design, gpus, prices):
    ml = handoff(design, "mlops")["handoff"]["context"]
    assert ml["deployment_configs"][0]["tensor_parallel"] == 2
    assert ml["hardware_spec"][0]["gpus"] == "2 x h100-sxm"
    api = handoff(design, "api-integration")["handoff"]["context"]
    assert (
        api["endpoints"][0]["base_url"] == "https://gateway/v1"
        and api["endpoints"][0]["model"] == "qwen3-32b"
    )
    t = compute_tco(design, prices, gpus)
    roi = handoff(design, "roi", t)["handoff"]["context"]["tco_data"]
    assert roi["breakeven_month"] == t.breakeven_month and roi["capex_usd"]["low"] == 54_000


def test_bad_target_and_roi_without_tco(design):
    with pytest.raises(InputError, match="not a colleague"):
        handoff(design, "finance")
    with pytest.raises(InputError, match="needs the TCO"):
        handoff(design, "roi")


def test_write_refuses_to_overwrite(tmp_path):
    f = tmp_path / "out.yaml"
    write_atomic(f, "a: 1\n", force=False)
    with pytest.raises(InputError, match="--force"):
        write_atomic(f, "a: 2\n", force=False)
    write_atomic(f, "a: 2\n", force=True)
    assert f.read_text() == "a: 2\n"
