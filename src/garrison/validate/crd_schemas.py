"""Custom resources checked against their CRDs' own OpenAPI schemas, strictly.

The schemas are stored in the package (data/kserve_llminferenceservice_v1alpha2.json: the CRD's
`openAPIV3Schema` verbatim, with its release, commit and date), so the check runs offline. An API
server prunes fields a structural schema does not name; `kubectl apply` (server-side field
validation "Strict", the default since Kubernetes 1.27) rejects them. This module does the latter:
every object schema that lists `properties` and neither `additionalProperties` nor
`x-kubernetes-preserve-unknown-fields` gets `additionalProperties: false` before validating.

Beyond the schema, the API server also applies
- the ObjectMeta rules (names, labels, annotations): checked by k8s_values.metadata_errors;
- the CRD's CEL rules (`x-kubernetes-validations`): not evaluated here (no CEL interpreter offline),
  except the one on `spec` that Garrison's output could break, `!(has(self.replicas) &&
  has(self.scaling))`, which `_cel_errors` states in Python.
Embedded pod specs are also checked as v1 PodTemplates with the API server's value formats
(k8s_values.pod_template_errors), since a CRD's copy of PodSpec types a quantity as int-or-string.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the `validate` extra: imported where used, so the base install imports this module
    import jsonschema


@dataclass(frozen=True)
class StoredCRD:
    """One CRD version's schema as stored in the package, with where it came from."""

    api_version: str  # group/version, e.g. serving.kserve.io/v1alpha2
    kind: str
    release: str
    commit: str
    source: str
    as_of: str
    schema: dict[str, Any]


STORED = {("serving.kserve.io/v1alpha2", "LLMInferenceService"): "kserve_llminferenceservice_v1alpha2.json"}


@cache
def stored(api_version: str, kind: str) -> StoredCRD | None:
    """The stored schema for an apiVersion and kind, or None when Garrison stores none."""
    name = STORED.get((api_version, kind))
    if name is None:
        return None
    raw = json.loads(resources.files("garrison").joinpath("data", name).read_text(encoding="utf-8"))
    return StoredCRD(
        api_version=f"{raw['group']}/{raw['version']}",
        kind=raw["kind"],
        release=raw["release"],
        commit=raw["commit"],
        source=raw["source"],
        as_of=raw["as_of"],
        schema=raw["openAPIV3Schema"],
    )


def strict(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of a structural schema in which unknown fields are errors, as `kubectl apply` sees them."""
    out = copy.deepcopy(schema)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(out)
    return out


@cache
def _validator(api_version: str, kind: str) -> jsonschema.protocols.Validator | None:
    import jsonschema

    crd = stored(api_version, kind)
    if crd is None:
        return None
    # OpenAPI v3.0 schemas are JSON Schema draft 4 in the keywords CRDs may use
    return jsonschema.validators.Draft4Validator(strict(crd.schema))


def _cel_errors(doc: dict[str, Any]) -> list[str]:
    spec = doc.get("spec")
    out = []
    for where, part in (("spec", spec), ("spec.prefill", (spec or {}).get("prefill"))):
        if isinstance(part, dict) and "replicas" in part and "scaling" in part:
            out.append(f"{where}: replicas and scaling are mutually exclusive (CRD rule)")
    return out


def _pod_specs(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    spec = doc.get("spec") or {}
    out = []
    for where, part in (
        ("spec.template", spec.get("template")),
        ("spec.worker", spec.get("worker")),
        ("spec.prefill.template", (spec.get("prefill") or {}).get("template")),
        ("spec.prefill.worker", (spec.get("prefill") or {}).get("worker")),
        (
            "spec.router.scheduler.template",
            ((spec.get("router") or {}).get("scheduler") or {}).get("template"),
        ),
    ):
        if isinstance(part, dict):
            out.append((where, part))
    return out


def crd_errors(doc: dict[str, Any]) -> list[str] | None:
    """Problems `kubectl apply` would report for one custom resource, `path: message` each; [] when
    it is valid; None when Garrison stores no schema for its apiVersion and kind."""
    from garrison.validate import k8s_values

    v = _validator(str(doc.get("apiVersion", "")), str(doc.get("kind", "")))
    if v is None:
        return None
    out = [
        f"{'.'.join(str(p) for p in e.absolute_path) or '(object)'}: {e.message}"
        for e in sorted(v.iter_errors(doc), key=lambda e: [str(p) for p in e.absolute_path])
    ]
    out += [f"metadata: {e}" for e in k8s_values.metadata_errors(doc)]
    out += _cel_errors(doc)
    name = str((doc.get("metadata") or {}).get("name", "pod"))
    for where, pod in _pod_specs(doc):
        errs = k8s_values.pod_template_errors({"spec": pod}, name)
        out += [f"{where} (as v1 PodSpec): {e}" for e in errs]
    return out
