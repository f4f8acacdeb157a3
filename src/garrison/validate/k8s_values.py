"""Kubernetes objects checked against the published OpenAPI schemas *and* the value formats the API
server enforces but the JSON schemas leave out.

The JSON schemas that kubernetes-validate and kubeconform ship (generated from the OpenAPI document)
describe a resource quantity as "a string or a number" and a label as "a string": `storage: 13"Gi"`
passes them and is rejected at `kubectl apply`. This module adds the server's own rules to the same
schemas before validating, so every field typed Quantity, IntOrString port, label or name is checked
wherever it appears:

- quantities: `resource.ParseQuantity` grammar (k8s.io/apimachinery/pkg/api/resource/quantity.go):
  <signedNumber><suffix>, suffix one of Ki Mi Gi Ti Pi Ei | m "" k M G T P E | e<signedNumber>;
- label keys and annotation keys: `IsQualifiedName` (optional DNS-1123 subdomain prefix + "/", then a
  name of at most 63 characters: alphanumeric at both ends, `-_.` inside); label values and selector
  values: `IsValidLabelValue` (empty or such a name);
- object names: DNS-1123 subdomain (253); container, volume and Service names: DNS-1123 label (63);
  port names: `IsValidPortName` (IANA_SVC_NAME: at most 15 of [a-z0-9-], a letter, no "--", no
  hyphen at either end); environment variable names: `IsEnvVarName`;
- port numbers: `IsValidPortNum`, 1-65535; IntOrString ports: such a number or a port name;
  rollout and disruption-budget counts: a non-negative integer or a percentage.
(k8s.io/apimachinery/pkg/util/validation/validation.go and pkg/apis/core/validation, read 2026-12.)
"""

from __future__ import annotations

import copy
import re
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the `validate` extra: imported where used, so the base install imports this module
    import jsonschema

K8S_VERSION = "1.31.0"

QUANTITY = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$"
_NAME63 = r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)"
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
DNS1123_SUBDOMAIN = r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
QUALIFIED_NAME = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?" + _NAME63 + r"$"
LABEL_VALUE = r"^(" + _NAME63 + r")?$"
# IANA_SVC_NAME: at most 15 characters, at least one letter, no leading/trailing/double hyphen
PORT_NAME = r"^(?=.{1,15}$)(?=.*[a-z])(?!-)(?!.*--)[a-z0-9-]*[a-z0-9]$"
ENV_VAR_NAME = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"
PERCENT = r"^[0-9]+%$"

_D = "io.k8s.api."
_PORT_NUMBER: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": 65535}
_PORT: dict[str, Any] = {"oneOf": [_PORT_NUMBER, {"type": "string", "pattern": PORT_NAME}]}
_COUNT_OR_PERCENT: dict[str, Any] = {
    "oneOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": PERCENT}]
}
_LABELS: dict[str, Any] = {
    "type": ["object", "null"],
    "propertyNames": {"pattern": QUALIFIED_NAME, "maxLength": 316},
    "additionalProperties": {"type": "string", "pattern": LABEL_VALUE},
}

# (definition, property) -> the schema the API server effectively applies
PATCHES: dict[tuple[str, str], dict[str, Any]] = {
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "labels"): _LABELS,
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "annotations"): {
        "type": ["object", "null"],
        "propertyNames": {"pattern": QUALIFIED_NAME, "maxLength": 316},
    },
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "name"): {
        "type": "string",
        "pattern": DNS1123_SUBDOMAIN,
    },
    ("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "namespace"): {
        "type": "string",
        "pattern": DNS1123_LABEL,
    },
    ("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector", "matchLabels"): _LABELS,
    (_D + "core.v1.ServiceSpec", "selector"): _LABELS,
    (_D + "core.v1.PodSpec", "nodeSelector"): _LABELS,
    (_D + "core.v1.Container", "name"): {"type": "string", "pattern": DNS1123_LABEL},
    (_D + "core.v1.Volume", "name"): {"type": "string", "pattern": DNS1123_LABEL},
    (_D + "core.v1.VolumeMount", "name"): {"type": "string", "pattern": DNS1123_LABEL},
    (_D + "core.v1.EnvVar", "name"): {"type": "string", "pattern": ENV_VAR_NAME},
    (_D + "core.v1.ContainerPort", "name"): {"type": "string", "pattern": PORT_NAME},
    (_D + "core.v1.ContainerPort", "containerPort"): _PORT_NUMBER,
    (_D + "core.v1.ContainerPort", "hostPort"): _PORT_NUMBER,
    (_D + "core.v1.ServicePort", "name"): {"type": "string", "pattern": DNS1123_LABEL},
    (_D + "core.v1.ServicePort", "port"): _PORT_NUMBER,
    (_D + "core.v1.ServicePort", "nodePort"): _PORT_NUMBER,
    (_D + "core.v1.ServicePort", "targetPort"): _PORT,
    (_D + "core.v1.HTTPGetAction", "port"): _PORT,
    (_D + "core.v1.TCPSocketAction", "port"): _PORT,
    (_D + "core.v1.GRPCAction", "port"): _PORT_NUMBER,
    (_D + "networking.v1.NetworkPolicyPort", "port"): _PORT,
    (_D + "networking.v1.NetworkPolicyPort", "endPort"): _PORT_NUMBER,
    (_D + "networking.v1.ServiceBackendPort", "number"): _PORT_NUMBER,
    (_D + "networking.v1.ServiceBackendPort", "name"): {"type": "string", "pattern": PORT_NAME},
    (_D + "apps.v1.RollingUpdateDeployment", "maxSurge"): _COUNT_OR_PERCENT,
    (_D + "apps.v1.RollingUpdateDeployment", "maxUnavailable"): _COUNT_OR_PERCENT,
    (_D + "policy.v1.PodDisruptionBudgetSpec", "minAvailable"): _COUNT_OR_PERCENT,
    (_D + "policy.v1.PodDisruptionBudgetSpec", "maxUnavailable"): _COUNT_OR_PERCENT,
}
# kinds whose names are DNS-1123 labels, not subdomains (pkg/apis/core/validation: ValidateServiceName,
# ValidateNamespaceName)
LABEL_NAMED_KINDS = ("Service", "Namespace")


def _schema_dir(version: str) -> str:
    from kubernetes_validate.utils import all_versions, major_minor

    mm = major_minor(version)
    usable = [v for v in all_versions() if major_minor(v) <= mm]
    return f"kubernetes-json-schema/v{usable[-1]}-local-strict"


@cache
def _definitions(version: str) -> dict[str, Any]:
    """The strict schema definitions with the API server's value formats added."""
    from kubernetes_validate.utils import schema_contents

    defs: dict[str, Any] = copy.deepcopy(
        schema_contents(f"{_schema_dir(version)}/_definitions.json", version)
    )
    table = defs["$defs"]
    quantity = table["io.k8s.apimachinery.pkg.api.resource.Quantity"]
    quantity.clear()
    quantity.update({"oneOf": [{"type": "string", "pattern": QUANTITY}, {"type": "number"}]})
    for (name, prop), schema in PATCHES.items():
        props = table[name]["properties"]
        desc = props[prop].get("description", "")
        props[prop] = {**copy.deepcopy(schema), "description": desc}
    return defs


@cache
def _validator(kind: str, api_version: str, version: str) -> jsonschema.protocols.Validator:
    import jsonschema
    from kubernetes_validate.utils import schema_contents
    from referencing import Registry, Resource

    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = schema_contents(f"{_schema_dir(version)}/{kind.lower()}-{group}.json", version)
    registry: Registry[Any] = Resource.from_contents(schema) @ Registry()
    registry = Resource.from_contents(_definitions(version)) @ registry
    cls = jsonschema.validators.Draft202012Validator
    return cls(schema, registry=registry)


def _where(err: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in err.absolute_path) or "(object)"


_FORMAT_NAMES = {
    QUANTITY: "a Kubernetes quantity (e.g. 23Gi, 500m, 2)",
    PORT_NAME: "a port number 1-65535 or a port name (IANA_SVC_NAME)",
    PERCENT: "a non-negative integer or a percentage like 25%",
}


def _message(err: jsonschema.ValidationError) -> str:
    """The validator's words, or the format's name where a oneOf hides which format was meant."""
    if err.validator == "oneOf" and isinstance(err.schema, dict):
        for branch in err.schema.get("oneOf", []):
            name = _FORMAT_NAMES.get(branch.get("pattern", ""))
            if name:
                return f"{err.instance!r} is not {name}"
    return str(err.message)


def value_errors(doc: dict[str, Any], version: str = K8S_VERSION) -> list[str]:
    """Problems the API server would reject in one object, `path: message` each; [] when it is valid.

    Raises FileNotFoundError for a kind the schemas do not describe (a CRD)."""
    v = _validator(str(doc.get("kind", "")), str(doc.get("apiVersion", "")), version)
    out = [
        f"{_where(e)}: {_message(e)}" for e in sorted(v.iter_errors(doc), key=lambda e: list(e.absolute_path))
    ]
    if doc.get("kind") in LABEL_NAMED_KINDS:
        name = str(doc.get("metadata", {}).get("name", ""))
        if not re.match(DNS1123_LABEL, name):
            out.append(f"metadata.name: {name!r} is not a DNS-1123 label ({doc['kind']} names are)")
    return out


def metadata_errors(doc: dict[str, Any], version: str = K8S_VERSION) -> list[str]:
    """Name, namespace, label and annotation problems of any object, a custom resource included."""
    meta = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": doc.get("metadata", {})}
    return value_errors(meta, version)


def pod_template_errors(template: dict[str, Any], name: str, version: str = K8S_VERSION) -> list[str]:
    """A pod template inside a custom resource (LeaderWorkerSet, KServe), checked as a v1 PodTemplate."""
    doc = {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": name}, "template": template}
    return value_errors(doc, version)
