"""A Helm chart beside the kustomize base: the same objects, with the design's sizing as values.

The chart is made from the rendered `k8s/base` manifests, so there is one source for every object:
`helm template` with the chart's default values gives exactly the base's objects (a test compares
them), plus the gateway ConfigMap that kustomize's configMapGenerator makes (`files/`, with a checksum
annotation so a changed nginx.conf rolls the gateway, as kustomize's name hash does). values.yaml holds
what the design sized per workload: replicas, each container's image and resources, and each model
volume's size; values.schema.json makes Helm refuse a value of the wrong shape or format (a replica
count below zero, a quantity the API server would reject). Everything else (engine flags, probes,
security context, network policy) is the design's and stays fixed in the templates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import yaml

from garrison import __version__

# quantities as the API server parses them (k8s.io/apimachinery resource.Quantity)
_QUANTITY = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?[0-9]+))?$"
_IMAGE = r"^[a-z0-9]+([._/:@-][A-Za-z0-9_.-]+)*(@sha256:[0-9a-f]{64})?$"
WORKLOAD_KINDS = ("Deployment", "LeaderWorkerSet")
CONF_FILES = ("nginx.conf", "upstreams.conf")  # what kustomize's configMapGenerator puts in gateway-conf


class _Placeholders:
    """Marks a value to be replaced by a Helm expression after the manifest is dumped as YAML."""

    def __init__(self) -> None:
        self.scalars: dict[str, str] = {}
        self.blocks: dict[str, str] = {}

    def scalar(self, expr: str) -> str:
        key = f"GARRISONHELM{len(self.scalars) + len(self.blocks):04d}S"
        self.scalars[key] = "{{ " + expr + " }}"
        return key

    def block(self, expr: str) -> str:
        key = f"GARRISONHELM{len(self.scalars) + len(self.blocks):04d}B"
        self.blocks[key] = expr
        return key

    def apply(self, text: str) -> str:
        # a literal `{{` in a manifest (Prometheus alert templates) must reach the cluster as written
        text = text.replace("{{", '{{ "{{" }}')
        out: list[str] = []
        for line in text.splitlines():
            m = re.match(r"^(\s*)(\S.*?): (GARRISONHELM\d{4}B)$", line)
            if m:
                indent = len(m.group(1))
                out.append(f"{m.group(1)}{m.group(2)}:")
                out.append(
                    f"{' ' * (indent + 2)}{{{{- toYaml {self.blocks[m.group(3)]} | nindent {indent + 2} }}}}"
                )
                continue
            for key, expr in self.scalars.items():
                line = line.replace(key, expr)
            out.append(line)
        return "\n".join(out) + "\n"


def _values_ref(*path: str) -> str:
    """`(index .Values "a" "b" ...)`: works for keys with dashes, which `.Values.a-b` does not."""
    return "(index .Values " + " ".join(json.dumps(p) for p in path) + ")"


def _pod_templates(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    if doc["kind"] == "LeaderWorkerSet":
        lwt = doc["spec"]["leaderWorkerTemplate"]
        return [(role, lwt[f"{role}Template"]) for role in ("leader", "worker") if f"{role}Template" in lwt]
    return [("", doc["spec"]["template"])]


def _templated(doc: dict[str, Any], ph: _Placeholders, values: dict[str, Any]) -> dict[str, Any]:
    """Swap the sized fields of one object for value references, recording the defaults in `values`."""
    kind, name = doc.get("kind"), doc.get("metadata", {}).get("name", "")
    if kind in WORKLOAD_KINDS:
        w: dict[str, Any] = {"replicas": doc["spec"]["replicas"], "containers": {}}
        values["workloads"][name] = w
        doc["spec"]["replicas"] = ph.scalar(_values_ref("workloads", name, "replicas"))
        for role, tpl in _pod_templates(doc):
            for group in ("initContainers", "containers"):
                for c in tpl["spec"].get(group, []):
                    key = f"{role}-{c['name']}" if role else c["name"]
                    w["containers"][key] = {"image": c["image"], "resources": c.get("resources", {})}
                    ref = ("workloads", name, "containers", key)
                    c["image"] = ph.scalar(_values_ref(*ref, "image") + " | quote")
                    if "resources" in c:
                        c["resources"] = ph.block(_values_ref(*ref, "resources"))
    elif kind == "PersistentVolumeClaim":
        values["storage"][name] = doc["spec"]["resources"]["requests"]["storage"]
        doc["spec"]["resources"]["requests"]["storage"] = ph.scalar(_values_ref("storage", name) + " | quote")
    return doc


def _schema(values: dict[str, Any]) -> dict[str, Any]:
    quantity = {"type": ["string", "integer", "number"], "pattern": _QUANTITY}
    resources = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            k: {"type": "object", "additionalProperties": quantity} for k in ("requests", "limits")
        },
    }
    container = {
        "type": "object",
        "additionalProperties": False,
        "required": ["image", "resources"],
        "properties": {"image": {"type": "string", "pattern": _IMAGE}, "resources": resources},
    }

    def workload(w: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": False,
            "required": ["replicas", "containers"],
            "properties": {
                "replicas": {"type": "integer", "minimum": 0},
                "containers": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": sorted(w["containers"]),
                    "properties": {k: container for k in sorted(w["containers"])},
                },
            },
        }

    return {
        "$schema": "https://json-schema.org/draft-07/schema#",
        "title": "Garrison chart values (the design's sizing)",
        "type": "object",
        "additionalProperties": False,
        "required": ["workloads", "storage"],
        "properties": {
            "workloads": {
                "type": "object",
                "additionalProperties": False,
                "required": sorted(values["workloads"]),
                "properties": {k: workload(v) for k, v in sorted(values["workloads"].items())},
            },
            "storage": {
                "type": "object",
                "additionalProperties": False,
                "required": sorted(values["storage"]),
                "properties": {
                    k: {"type": "string", "pattern": _QUANTITY} for k in sorted(values["storage"])
                },
            },
        },
    }


def _dump(doc: Any) -> str:
    return yaml.safe_dump(doc, sort_keys=False, width=10**6, default_flow_style=False)


def helm_chart(files: Mapping[str, str], chart_name: str, description: str) -> dict[str, str]:
    """`helm/<chart_name>/...` made from the rendered `k8s/base` files in `files`."""
    root = f"helm/{chart_name}"
    values: dict[str, Any] = {"workloads": {}, "storage": {}}
    out: dict[str, str] = {}
    base = sorted(p for p in files if p.startswith("k8s/base/") and p.count("/") == 2 and p.endswith(".yaml"))
    namespace = ""
    for path in base:
        if path.endswith("/kustomization.yaml"):
            continue
        text = files[path]
        header = "".join(ln + "\n" for ln in text.splitlines() if ln.startswith("#"))
        parts: list[str] = []
        ph = _Placeholders()
        for doc in (d for d in yaml.safe_load_all(text) if d):
            namespace = namespace or str(doc.get("metadata", {}).get("namespace", ""))
            if doc.get("kind") == "Deployment" and doc["metadata"]["name"] == "gateway":
                # kustomize names the generated ConfigMap by a hash of its data; here a checksum rolls it
                ann = doc["spec"]["template"]["metadata"].setdefault("annotations", {})
                ann["checksum/gateway-conf"] = ph.scalar(
                    'include (print $.Template.BasePath "/gateway-conf-configmap.yaml") . | sha256sum'
                )
            parts.append(_dump(_templated(doc, ph, values)))
        out[f"{root}/templates/{path.rsplit('/', 1)[1]}"] = ph.apply(header + "---\n".join(parts))
    if all(f"k8s/base/gateway/{n}" in files for n in CONF_FILES):
        for n in CONF_FILES:
            out[f"{root}/files/{n}"] = files[f"k8s/base/gateway/{n}"]
        data = "\n".join(f'  {n}: {{{{ .Files.Get "files/{n}" | quote }}}}' for n in CONF_FILES)
        out[f"{root}/templates/gateway-conf-configmap.yaml"] = (
            "# what kustomize's configMapGenerator makes of k8s/base/gateway/ (same files)\n"
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: gateway-conf\n"
            f"  namespace: {json.dumps(namespace)}\n  labels:\n    app.kubernetes.io/part-of: garrison\n"
            f"data:\n{data}\n"
        )
    out[f"{root}/Chart.yaml"] = _dump(
        {
            "apiVersion": "v2",
            "name": chart_name,
            "description": description,
            "type": "application",
            "version": __version__,
            "appVersion": __version__,
            "kubeVersion": ">=1.29.0-0",
        }
    )
    out[f"{root}/values.yaml"] = (
        "# The design's sizing (design.json): change it there and re-render; a value changed here alone\n"
        "# no longer matches what was sized. values.schema.json checks each value's shape and format.\n"
        + _dump(values)
    )
    out[f"{root}/values.schema.json"] = json.dumps(_schema(values), indent=2) + "\n"
    out[f"{root}/templates/NOTES.txt"] = (
        f"{chart_name}: the objects of k8s/base, sized by the design, in namespace {namespace}.\n"
        "Needs the same cluster add-ons as the kustomize base: KEDA, the Prometheus operator CRDs,\n"
        "LeaderWorkerSet for multi-node replicas, and the API-key Secret (runbooks/deploy.md).\n"
    )
    out[f"{root}/.helmignore"] = "*.orig\n*.rej\n*~\n"
    return out
