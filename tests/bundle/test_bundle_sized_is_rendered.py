"""What is sized is what is rendered: for every example and planner case, plan, render, parse the engine
command lines of every compose service and Kubernetes workload, and compare each setting with the
estimate the planner sized the deployment with.

The flag names below are this test's own reading of each engine's documentation, independent of
garrison.engines, so a renderer that prints the wrong flag or the wrong number fails here:
  vLLM:     docs.vllm.ai "Engine Arguments" (vllm/engine/arg_utils.py)
  SGLang:   docs.sglang.ai "Server Arguments" (python/sglang/srt/server_args.py)
  llama.cpp: tools/server/README.md and `llama-server --help` (build b11434)
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bundle.examples import ENGINE_CASES, EXAMPLES, PLANNER_CASES, planned
from garrison.design import Deployment, Estimate
from garrison.render import render_bundle
from garrison.render.context import slug

CASES = [*EXAMPLES, *PLANNER_CASES, *ENGINE_CASES]

# flags that take no value
BOOLEAN = {
    "--enable-metrics",
    "--metrics",
    "--no-webui",
    "--offline",
    "--no-kv-unified",
    "--enable-auto-tool-choice",
    "--trust-remote-code",
    "--jinja",
}
ALIASES = {
    "--tp": "--tensor-parallel-size",
    "-tp": "--tensor-parallel-size",
    "-pp": "--pipeline-parallel-size",
    "-q": "--quantization",
    "--ctx-size": "-c",
    "--parallel": "-np",
    "--batch-size": "-b",
    "--cache-type-k": "-ctk",
    "--cache-type-v": "-ctv",
    "--model": "-m",
}


@dataclass(frozen=True)
class Argv:
    """One parsed command line: positional words and flag -> value (True for switches)."""

    where: str
    positional: tuple[str, ...]
    flags: dict[str, str | bool]

    def get(self, flag: str) -> str | bool | None:
        return self.flags.get(flag)

    def int(self, flag: str) -> int:
        v = self.flags.get(flag)
        assert isinstance(v, str), f"{self.where}: {flag} missing (has {sorted(self.flags)})"
        return int(v)

    def float(self, flag: str) -> float:
        v = self.flags.get(flag)
        assert isinstance(v, str), f"{self.where}: {flag} missing (has {sorted(self.flags)})"
        return float(v)


def parse_argv(words: list[str], where: str) -> Argv:
    """Parse a command line the way argparse would, for the flags the engines take."""
    pos: list[str] = []
    flags: dict[str, str | bool] = {}
    i = 0
    while i < len(words):
        w = str(words[i])
        if w.startswith("-") and len(w) > 1:
            name, eq, val = w.partition("=")
            name = ALIASES.get(name, name)
            assert name not in flags, f"{where}: {name} given twice"
            if eq:
                flags[name] = val
            elif name in BOOLEAN:
                flags[name] = True
            else:
                assert i + 1 < len(words), f"{where}: {name} has no value"
                flags[name] = str(words[i + 1])
                i += 1
        else:
            pos.append(w)
        i += 1
    return Argv(where, tuple(pos), flags)


def _workloads(files: dict[str, str], name: str) -> list[Argv]:
    """Every command line rendered for deployment `name`: compose services and k8s pod templates."""
    out: list[Argv] = []
    for path, text in files.items():
        if path.startswith("compose/") and path.endswith("compose.yaml"):
            services: dict[str, Any] = yaml.safe_load(text).get("services", {})
            for svc, body in services.items():
                if svc.rsplit("-", 1)[0] == name and "command" in body:
                    words = _engine_words([*(body.get("entrypoint") or []), *body["command"]])
                    assert words is not None
                    out.append(parse_argv(words, f"{path}:{svc}"))
        elif path.startswith("k8s/kserve/") and path.endswith("-llminferenceservice.yaml"):
            doc = yaml.safe_load(text)
            if doc["metadata"]["name"] == name:
                out.append(parse_argv(_kserve_words(doc), f"{path}:LLMInferenceService"))
        elif path.startswith("k8s/base/") and path.endswith(".yaml"):
            for doc in yaml.safe_load_all(text):
                if not doc or doc.get("metadata", {}).get("name") != name:
                    continue
                for role, tpl in _pod_templates(doc):
                    for c in tpl["spec"]["containers"]:
                        if c["name"] == "engine":
                            words = _engine_words([*c.get("command", []), *c.get("args", [])])
                            if words is not None:
                                out.append(parse_argv(words, f"{path}:{doc['kind']}:{role}"))
    return out


def _engine_words(command: list[str]) -> list[str] | None:
    """The engine's arguments from a container command: after `bash -c "... && exec ENGINE ..."`
    (vLLM's Ray leader) and without the program; None for a pod that runs no engine (a Ray worker)."""
    words = [str(w) for w in command]
    if words[:2] == ["bash", "-c"]:
        script = words[2]
        if "exec " not in script or "ray start --address" in script:
            return None
        words = shlex.split(script.rsplit("exec ", 1)[1])
    for program in (["python3", "-m", "sglang.launch_server"], ["vllm", "serve"]):
        if words[: len(program)] == program:
            return words[len(program) :]
    return words[1:]


def _kserve_words(doc: dict[str, Any]) -> list[str]:
    """The command line KServe v0.20.0's well-known template (kserve-config-llm-template) starts: `vllm
    serve /mnt/models --served-model-name <spec.model.name> publishers/<ns>/models/<name> --port 8000
    --tensor-parallel-size <spec.parallelism.tensor> ... "$@"`, with the container's args as "$@". A flag
    the args repeat would be given twice (and fail the parser)."""
    spec = doc["spec"]
    (main,) = [c for c in spec["template"]["containers"] if c["name"] == "main"]
    return [
        "/mnt/models",
        "--served-model-name",
        spec["model"]["name"],
        "--port",
        "8000",
        "--tensor-parallel-size",
        str(spec["parallelism"]["tensor"]),
        *[str(w) for w in main.get("args", [])],
    ]


def _pod_templates(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    kind = doc.get("kind")
    if kind in ("Deployment", "StatefulSet"):
        return [("pod", doc["spec"]["template"])]
    if kind == "LeaderWorkerSet":
        lwt = doc["spec"]["leaderWorkerTemplate"]
        return [
            (k.removesuffix("Template"), lwt[k]) for k in ("leaderTemplate", "workerTemplate") if k in lwt
        ]
    return []


def _check_vllm(a: Argv, est: Estimate, dep: Deployment) -> None:
    if a.where.startswith("k8s/kserve/"):  # KServe mounts the models PVC there (spec.model.uri pvc://)
        assert a.positional == ("/mnt/models",), a.where
    else:
        assert a.positional[-1].startswith("/models/"), a.where
    assert a.int("--max-model-len") == est.max_model_len, a.where
    assert a.int("--max-num-seqs") == est.max_num_seqs, a.where
    assert a.int("--max-num-batched-tokens") == est.max_num_batched_tokens, a.where
    assert a.int("--tensor-parallel-size") == est.tp, a.where
    assert a.int("--pipeline-parallel-size") == est.pp, a.where
    frac = a.float("--gpu-memory-utilization")
    assert frac * est.memory.total_gib == pytest.approx(est.memory.usable_gib, rel=1e-3), a.where
    kv = a.get("--kv-cache-dtype")
    assert kv == ("fp8" if est.kv_dtype.lower().startswith("fp8") else "auto"), a.where
    _check_weights(a, est, {"bf16": "bfloat16", "fp16": "float16"})


def _check_sglang(a: Argv, est: Estimate, dep: Deployment) -> None:
    assert str(a.get("--model-path")).startswith("/models/"), a.where
    assert a.int("--context-length") == est.max_model_len, a.where
    assert a.int("--max-running-requests") == est.max_num_seqs, a.where
    assert a.int("--chunked-prefill-size") == est.max_num_batched_tokens, a.where
    assert a.int("--tp-size") == est.tp, a.where
    assert a.int("--pp-size") == est.pp, a.where
    frac = a.float("--mem-fraction-static")
    assert frac * est.memory.total_gib == pytest.approx(est.memory.usable_gib, rel=1e-3), a.where
    kv = a.get("--kv-cache-dtype")
    assert kv == ("fp8_e4m3" if est.kv_dtype.lower() in ("fp8", "fp8_e4m3") else "auto"), a.where
    _check_weights(a, est, {})


def _check_weights(a: Argv, est: Estimate, dtype_flag: dict[str, str]) -> None:
    """16-bit weights: --dtype; FP8: quantised at load (--quantization fp8); checkpoints quantised on
    disk (AWQ, GPTQ, MXFP4, NVFP4, INT4/8) carry their own config: no --quantization, which would
    stop the engines from choosing their Marlin kernels."""
    q = est.quant.lower()
    if q in dtype_flag:
        assert a.get("--dtype") == dtype_flag[q], a.where
        assert a.get("--quantization") is None, a.where
    elif q == "fp8":
        assert a.get("--quantization") == "fp8", a.where
    else:
        assert a.get("--quantization") is None, f"{a.where}: {est.quant} comes from the checkpoint"


def _check_llamacpp(a: Argv, est: Estimate, dep: Deployment) -> None:
    ctx = a.int("-c")
    slots = a.int("-np")
    assert slots == est.max_num_seqs, a.where
    # one context of -c tokens shared by -np slots: each request gets max_model_len tokens
    assert ctx == est.max_model_len * est.max_num_seqs == est.kv_cache_tokens, a.where
    assert a.get("--no-kv-unified") is True, f"{a.where}: a unified cache lets one slot take all of -c"
    assert a.int("-b") == est.max_num_batched_tokens, a.where
    cache = {"fp16": "f16", "f16": "f16", "bf16": "bf16", "q8_0": "q8_0", "q4_0": "q4_0"}[
        est.kv_dtype.lower()
    ]
    assert a.get("-ctk") == a.get("-ctv") == cache, a.where
    assert est.pp == 1, a.where
    assert a.int("-ngl") == (999 if est.device_kind == "gpu" else 0), a.where
    model = str(a.get("-m"))
    assert model.startswith("/models/") and model.endswith(".gguf"), a.where
    if not dep.model_path and dep.checkpoint is None:
        assert model.lower().endswith(f"-{est.quant.lower()}.gguf"), f"{a.where}: {model} is not {est.quant}"


CHECKS = {"vllm": _check_vllm, "sglang": _check_sglang, "llama.cpp": _check_llamacpp}


@pytest.mark.parametrize("path", CASES, ids=[f"{p.parent.name}/{p.stem}" for p in CASES])
def test_rendered_engine_flags_equal_the_sizing(path: Path) -> None:
    design = planned(path)
    files = render_bundle(design)
    assert design.deployments, f"{path.name} planned no deployment"
    for dep in design.deployments:
        est = dep.estimate
        # the deployment records exactly what its estimate was sized with
        for f in (
            "engine",
            "quant",
            "kv_dtype",
            "tp",
            "pp",
            "max_model_len",
            "max_num_seqs",
            "max_num_batched_tokens",
        ):
            assert getattr(dep, f) == getattr(est, f), f"{dep.use_case}: deployment {f} != estimate {f}"
        assert dep.engine in CHECKS, f"{dep.use_case}: no sized-vs-rendered check for {dep.engine}"
        lines = _workloads(files, slug(dep.name or dep.use_case))
        compose = [a for a in lines if a.where.startswith("compose/")]
        k8s = [a for a in lines if a.where.startswith("k8s/base/")]
        kserve = [a for a in lines if a.where.startswith("k8s/kserve/")]
        # KServe's LLMInferenceService beside the plain workload: vLLM, 2+ replicas, each on one node
        llm_d = dep.engine == "vllm" and dep.replicas >= 2 and dep.nodes_per_replica == 1
        assert len(kserve) == int(llm_d), (
            f"{dep.use_case}: {len(kserve)} LLMInferenceService(s), want {int(llm_d)}"
        )
        # compose runs replicas that fit one server; a replica across nodes is deployed with k8s only
        want = dep.replicas if dep.nodes_per_replica == 1 else 0
        assert len(compose) == want, f"{dep.use_case}: {len(compose)} compose services for {want}"
        assert k8s, f"{dep.use_case}: no Kubernetes workload"
        if dep.nodes_per_replica > 1:
            assert any(a.where.endswith(":leader") for a in k8s), f"{dep.use_case}: no leader command"
        for a in lines:
            CHECKS[dep.engine](a, est, dep)


def test_parser_reads_switches_values_and_aliases() -> None:
    """The parser must be able to fail: a switch never swallows the next flag, aliases fold."""
    a = parse_argv(["/m", "--metrics", "-c", "8", "--tp=2", "--no-kv-unified", "-np", "4"], "t")
    assert a.positional == ("/m",)
    assert a.flags == {
        "--metrics": True,
        "-c": "8",
        "--tensor-parallel-size": "2",
        "--no-kv-unified": True,
        "-np": "4",
    }
    with pytest.raises(AssertionError):
        parse_argv(["-c", "8", "--ctx-size", "9"], "t")
