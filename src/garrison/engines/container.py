"""What every engine container shares: the offline environment and where the model is mounted."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from garrison.design import Deployment
    from garrison.engines.profile import EngineProfile

# Environment that keeps every engine from reaching the internet: the Hugging Face hub and
# transformers read local files only, and the usage-statistics beacons are switched off
# (huggingface_hub docs "Environment variables": HF_HUB_OFFLINE, HF_HUB_DISABLE_TELEMETRY).
OFFLINE_ENV: dict[str, str] = {
    "DO_NOT_TRACK": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
}

MODEL_MOUNT = "/models"


def model_dir_name(dep: Deployment, profile: EngineProfile) -> str:
    """The model's folder (or .gguf file) name under /models: the operator copies it there."""
    if dep.model_path:
        return dep.model_path.rstrip("/").rsplit("/", 1)[-1]
    if dep.checkpoint is not None and dep.checkpoint.file:
        return dep.checkpoint.file.rsplit("/", 1)[-1]
    name = dep.model_id.rsplit("/", 1)[-1]
    if profile.single_file_model and not name.endswith(".gguf"):
        name = f"{name}-{dep.quant}.gguf"
    return name


def model_path_in_container(dep: Deployment, profile: EngineProfile) -> str:
    """Local model path inside the container: models are never downloaded at start."""
    return f"{MODEL_MOUNT}/{model_dir_name(dep, profile)}"
