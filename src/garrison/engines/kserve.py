"""Which deployments the bundle also renders as a KServe `LLMInferenceService` (the llm-d "intelligent
inference scheduling" well-lit path), why, and the engine arguments that object carries.

KServe's LLMInferenceService (serving.kserve.io/v1alpha2, kserve/kserve v0.20.0) runs vLLM from a
well-known template and puts llm-d's endpoint picker (EPP) in front of the replicas through a Gateway
API InferencePool. With `router.scheduler: {}` the picker scores every replica by prefix-cache hits,
queue length and KV-cache use (pkg/controller/v1alpha2/llmisvc/scheduler.go, the default
EndpointPickerConfig), so a request whose prompt shares a prefix with earlier ones (a system prompt,
a chat history, a code file) lands on the replica that already holds that KV.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from garrison.engines.profile import Cluster, KServeTemplate, Launch

if TYPE_CHECKING:
    from garrison.design import Deployment

RELEASE = "v0.20.0"  # the KServe release whose CRD and well-known templates the output follows
API_VERSION = "serving.kserve.io/v1alpha2"  # storage version since v0.17.0; v1alpha1 is still served


@dataclass(frozen=True)
class KServeFit:
    """Whether a deployment gets an LLMInferenceService beside its plain workload, and why (one line)."""

    use: bool
    reason: str


def fit(dep: Deployment) -> KServeFit:
    """The rule: vLLM with two or more single-node replicas. One replica leaves the scheduler nothing
    to choose; a replica across nodes (tensor x pipeline parallel over a LeaderWorkerSet) needs
    KServe's pipeline-parallel worker config, which v0.20.0 references (config_merge.go) but does
    not ship, so the plain LeaderWorkerSet stays the way to run it."""
    from garrison import engines

    launch = engines.get(dep.engine).launch
    if launch is None or launch.kserve is None:
        return KServeFit(False, f"{dep.engine}: KServe's LLMInferenceService template runs vLLM only")
    if dep.nodes_per_replica > 1:
        return KServeFit(
            False,
            f"each replica spans {dep.nodes_per_replica} nodes (tp={dep.tp}, pp={dep.pp}): KServe {RELEASE} "
            "ships no pipeline-parallel worker config, so the plain LeaderWorkerSet runs it",
        )
    if dep.replicas < 2:
        return KServeFit(False, "one replica: a prefix-aware scheduler has no replica to choose between")
    return KServeFit(
        True,
        f"{dep.replicas} vLLM replicas: llm-d's scheduler sends requests that share a prompt prefix to the "
        "replica holding its KV cache (prefix-cache, queue and KV-use scoring) instead of least-connections",
    )


def _launch(dep: Deployment) -> tuple[Launch, KServeTemplate]:
    from garrison import engines

    launch = engines.get(dep.engine).launch
    if launch is None or launch.kserve is None:
        raise ValueError(f"{dep.engine} has no KServe template")
    return launch, launch.kserve


def template_of(dep: Deployment) -> KServeTemplate:
    """The engine's KServe template facts; ValueError for an engine KServe does not run."""
    return _launch(dep)[1]


def args(dep: Deployment) -> list[str]:
    """The sized engine flags for the LLMInferenceService's container `args`: the same command line the
    plain Deployment renders (one source), less the model path and the flags the template sets."""
    launch, tpl = _launch(dep)
    words = launch.args(dep, Cluster())
    out: list[str] = []
    i = 1 if words and not words[0].startswith("-") else 0  # the model path: the template passes /mnt/models
    while i < len(words):
        if words[i] in tpl.template_flags:
            i += 2
            continue
        out.append(words[i])
        i += 1
    return out
