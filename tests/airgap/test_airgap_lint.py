"""offline_lint: rendered compose / Kubernetes files that would reach the network are flagged."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from garrison.airgap import lint_dir, lint_files

DIGEST = "sha256:" + "a" * 64

GOOD_COMPOSE = {
    "services": {
        "vllm-chat": {
            "image": f"vllm/vllm-openai:v0.11.0@{DIGEST}",
            "environment": {
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
                "VLLM_NO_USAGE_STATS": "1",
                "DO_NOT_TRACK": "1",
            },
            "command": ["--model", "/models/tiny-llama", "--served-model-name", "tiny"],
        },
        "webui": {
            "image": f"ghcr.io/open-webui/open-webui:v0.6.30@{DIGEST}",
            "env_file": ["webui.env"],
        },
        "llama": {
            "image": f"ghcr.io/ggml-org/llama.cpp:server-b6000@{DIGEST}",
            "command": "-m /models/tiny-q4.gguf --host 0.0.0.0",
        },
    }
}
WEBUI_ENV = "\n".join(
    [
        "OFFLINE_MODE=true",
        "HF_HUB_OFFLINE=1",
        "SCARF_NO_ANALYTICS=true",
        "DO_NOT_TRACK=true",
        "ANONYMIZED_TELEMETRY=false",
    ]
)


def _files(compose: dict[str, object]) -> dict[str, str]:
    return {"compose/docker-compose.yaml": yaml.safe_dump(compose), "compose/webui.env": WEBUI_ENV}


def test_offline_compose_has_no_findings() -> None:
    assert lint_files(_files(GOOD_COMPOSE)) == []


@pytest.mark.parametrize(
    ("service", "change", "check"),
    [
        (
            "vllm-chat",
            {"environment": {"TRANSFORMERS_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}},
            "env-missing",
        ),
        (
            "vllm-chat",
            {
                "environment": {
                    "HF_HUB_OFFLINE": "0",
                    "TRANSFORMERS_OFFLINE": "1",
                    "VLLM_NO_USAGE_STATS": "1",
                    "DO_NOT_TRACK": "1",
                }
            },
            "env-value",
        ),
        ("vllm-chat", {"image": "vllm/vllm-openai:latest"}, "image-unpinned"),
        ("vllm-chat", {"image": "vllm/vllm-openai"}, "image-unpinned"),
        ("vllm-chat", {"command": ["--model", "Qwen/Qwen3-8B"]}, "hub-model"),
        ("llama", {"command": "-hf ggml-org/gemma-3-1b-it-GGUF"}, "hub-model"),
        ("webui", {"env_file": []}, "env-missing"),
        (
            "vllm-chat",
            {"command": ["python3", "-m", "vllm.entrypoints.openai.api_server", "--model", "org/m"]},
            "hub-model",
        ),
    ],
)
def test_each_way_out_is_flagged(service: str, change: dict[str, object], check: str) -> None:
    compose = yaml.safe_load(yaml.safe_dump(GOOD_COMPOSE))
    compose["services"][service].update(change)
    findings = lint_files(_files(compose))
    assert findings, "expected a finding"
    assert {f.check for f in findings} == {check}
    assert all(f.service == service and f.severity == "error" for f in findings)


def test_tag_without_digest_is_a_warning() -> None:
    compose = yaml.safe_load(yaml.safe_dump(GOOD_COMPOSE))
    compose["services"]["llama"]["image"] = "ghcr.io/ggml-org/llama.cpp:server-b6000"
    (f,) = lint_files(_files(compose))
    assert f.severity == "warning" and f.check == "image-tag-only"


def test_kubernetes_env_and_configmap(tmp_path: Path) -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "offline"},
        "data": {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "DO_NOT_TRACK": "1"},
    }
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "vllm"},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "vllm",
                            "image": f"vllm/vllm-openai:v0.11.0@{DIGEST}",
                            "envFrom": [{"configMapRef": {"name": "offline"}}],
                            "args": ["--model", "/models/m"],
                        }
                    ]
                }
            }
        },
    }
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "vllm.yaml").write_text(yaml.safe_dump_all([cm, dep]))
    findings = lint_dir(tmp_path)
    assert [(f.check, f.problem.split("=")[0]) for f in findings] == [("env-missing", "VLLM_NO_USAGE_STATS")]
    assert findings[0].file == "k8s/vllm.yaml"


def test_python_module_flag_is_not_a_model() -> None:
    compose = yaml.safe_load(yaml.safe_dump(GOOD_COMPOSE))
    compose["services"]["vllm-chat"]["command"] = [
        "python3",
        "-m",
        "sglang.launch_server",
        "--model-path",
        "/models/m",
    ]
    assert lint_files(_files(compose)) == []


def test_rendered_bundle_of_the_airgapped_example_has_no_errors() -> None:
    """The real renderer's output for the shipped air-gapped example (once the renderer is merged)."""
    render = pytest.importorskip("garrison.render")
    from garrison.cli.plan_cmd import run_plan

    from .conftest import REPO

    design = run_plan(REPO / "examples" / "airgapped-regulated.yaml")
    findings = lint_files(render.render_bundle(design))
    assert [f.one_line() for f in findings if f.severity == "error"] == []
