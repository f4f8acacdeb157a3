"""The engine registry: one `EngineProfile` per serving engine (see engines/profile.py).

from garrison import engines
p = engines.get(dep.engine)      # raises InputError for an unknown engine
p.launch.args(dep, Cluster())    # the command line the bundle renders
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from garrison.engines import llamacpp, sglang, tabby, tgi, trtllm, vllm
from garrison.engines.container import MODEL_MOUNT, OFFLINE_ENV, model_dir_name, model_path_in_container
from garrison.engines.profile import (
    NO_METRICS,
    Cluster,
    EngineMetrics,
    EngineProfile,
    Launch,
    MemoryModel,
    Scheduler,
)
from garrison.errors import InputError

if TYPE_CHECKING:
    from garrison.design import Deployment

PROFILES: dict[str, EngineProfile] = {
    p.name: p
    for p in (vllm.PROFILE, sglang.PROFILE, llamacpp.PROFILE, tabby.PROFILE, tgi.PROFILE, trtllm.PROFILE)
}
_BY_ALIAS: dict[str, EngineProfile] = {key: p for p in PROFILES.values() for key in (p.name, *p.aliases)}


def _key(name: str) -> str:
    return name.strip().lower()


def find(name: str) -> EngineProfile | None:
    """The profile for an engine name or alias (case-insensitive), or None."""
    return _BY_ALIAS.get(_key(name))


def get(name: str, field: str = "engine") -> EngineProfile:
    """The profile for an engine name or alias; InputError naming `field` when there is none."""
    p = find(name)
    if p is None:
        raise InputError(field, f"unknown engine {name!r}", f"use one of {', '.join(PROFILES)}")
    return p


def cpu_default() -> EngineProfile:
    """The engine a CPU host runs (GGUF through llama.cpp)."""
    return llamacpp.PROFILE


def gpu_default(mla: bool = False) -> EngineProfile:
    """The engine for a 16-bit or FP8/AWQ/GPTQ checkpoint on GPUs: SGLang for MLA (DeepSeek-style)
    attention, whose kernels it has tuned furthest; vLLM for everything else."""
    return sglang.PROFILE if mla else vllm.PROFILE


def gguf_default() -> EngineProfile:
    """The engine that serves a GGUF checkpoint."""
    return llamacpp.PROFILE


def launch_of(name: str, field: str = "engine") -> Launch:
    """How the bundle runs this engine; InputError when the bundle has no templates for it."""
    p = get(name, field)
    if p.launch is None:
        renderable = ", ".join(n for n, q in PROFILES.items() if q.launch is not None)
        raise InputError(field, f"no bundle templates for engine {name!r}", f"use one of {renderable}")
    return p.launch


def image_variant(engine: str, image: str, device_kind: str, vendor: str | None = None) -> str:
    """The build of `image` the engine needs on this device (e.g. llama.cpp's CPU vs CUDA tags)."""
    p = find(engine)
    if p is None or p.launch is None:
        return image
    return p.launch.image_variant(image, device_kind, vendor)


def command_args(dep: Deployment, cluster: Cluster | None = None) -> list[str]:
    """The engine's argument list (after its entrypoint) for a sized deployment."""
    return launch_of(dep.engine).args(dep, cluster or Cluster())


__all__ = [
    "MODEL_MOUNT",
    "NO_METRICS",
    "OFFLINE_ENV",
    "PROFILES",
    "Cluster",
    "EngineMetrics",
    "EngineProfile",
    "Launch",
    "MemoryModel",
    "Scheduler",
    "command_args",
    "cpu_default",
    "find",
    "get",
    "gguf_default",
    "gpu_default",
    "image_variant",
    "launch_of",
    "model_dir_name",
    "model_path_in_container",
]
