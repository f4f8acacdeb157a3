"""Checks that a rendered bundle cannot reach out at run time: offline switches set, telemetry and
update checks off, images pinned, models given as local paths. Rules are data
(data/airgap_offline_rules.yaml); this module only reads compose / Kubernetes YAML and applies them."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from garrison.errors import InputError
from garrison.input_limits import yaml_documents

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_MODEL_FLAGS = {"--model", "-m", "--model-path", "--model-id"}
_HUB_FLAGS = {"-hf", "-hfr", "--hf-repo", "--hf-file", "-hff"}


@dataclass(frozen=True)
class Finding:
    """One way a rendered file would reach the network (error) or is weaker than it should be (warning)."""

    file: str
    service: str
    check: str  # env-missing | env-value | image-unpinned | image-tag-only | hub-model
    severity: Literal["error", "warning"]
    problem: str

    def one_line(self) -> str:
        """`severity file[service]: problem` on one line."""
        return f"{self.severity} {self.file}[{self.service}]: {self.problem}"


@dataclass(frozen=True)
class _Rule:
    id: str
    image: re.Pattern[str]
    env: dict[str, str]
    local_model: bool
    source: str


@dataclass(frozen=True)
class _Container:
    file: str
    name: str
    image: str
    env: dict[str, str]
    args: tuple[str, ...]


@lru_cache(maxsize=1)
def _rules() -> tuple[_Rule, ...]:
    text = resources.files("garrison").joinpath("data/airgap_offline_rules.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return tuple(
        _Rule(
            str(r["id"]),
            re.compile(str(r["image"]), re.IGNORECASE),
            {str(k): str(v) for k, v in r["env"].items()},
            bool(r.get("local_model", False)),
            str(r["source"]),
        )
        for r in data["rules"]
    )


def _same(expected: str, actual: str) -> bool:
    e, a = expected.strip().lower(), actual.strip().strip("\"'").lower()
    if e in _TRUE:
        return a in _TRUE
    if e in _FALSE:
        return a in _FALSE
    return e == a


def _env_from_compose(value: object) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): "" if v is None else str(v) for k, v in value.items()}
    out: dict[str, str] = {}
    if isinstance(value, list):
        for item in value:
            key, _, val = str(item).partition("=")
            out[key] = val
    return out


def _env_file(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, _, v = line.partition("=")
            out[k.strip().removeprefix("export ").strip()] = v.strip()
    return out


def _args(*values: object) -> tuple[str, ...]:
    out: list[str] = []
    for v in values:
        if isinstance(v, str):
            out += v.split()
        elif isinstance(v, list):
            out += [str(x) for x in v]
    return tuple(out)


def _config_maps(docs: list[Any]) -> dict[str, dict[str, str]]:
    maps: dict[str, dict[str, str]] = {}
    for d in docs:
        if isinstance(d, dict) and d.get("kind") == "ConfigMap":
            maps[str(d.get("metadata", {}).get("name", ""))] = {
                str(k): str(v) for k, v in (d.get("data") or {}).items()
            }
    return maps


def _walk(node: object) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _walk(v)
    elif isinstance(node, list):
        for v in node:
            yield from _walk(v)


def _containers(
    path: str, docs: list[Any], files: Mapping[str, str], maps: dict[str, dict[str, str]]
) -> list[_Container]:
    out: list[_Container] = []
    for doc in docs:
        if isinstance(doc, dict) and isinstance(doc.get("services"), dict):  # docker compose
            for name, svc in doc["services"].items():
                if not isinstance(svc, dict) or not isinstance(svc.get("image"), str):
                    continue
                env: dict[str, str] = {}
                env_files = svc.get("env_file") or []
                for ef in [env_files] if isinstance(env_files, (str, dict)) else env_files:
                    ef_path = ef.get("path") if isinstance(ef, dict) else ef
                    key = posixpath.normpath(posixpath.join(posixpath.dirname(path), str(ef_path)))
                    env.update(_env_file(files.get(key, "")))
                env.update(_env_from_compose(svc.get("environment")))
                out.append(
                    _Container(
                        path, str(name), svc["image"], env, _args(svc.get("entrypoint"), svc.get("command"))
                    )
                )
            continue
        for node in _walk(doc):  # Kubernetes pod specs (Deployment, StatefulSet, Job, Pod ...)
            for c in node.get("containers", []) if isinstance(node.get("containers"), list) else []:
                if not isinstance(c, dict) or not isinstance(c.get("image"), str):
                    continue
                env = {}
                for ref in c.get("envFrom") or []:
                    cm = (ref or {}).get("configMapRef", {}).get("name") if isinstance(ref, dict) else None
                    env.update(maps.get(str(cm), {}))
                for e in c.get("env") or []:
                    if isinstance(e, dict) and "name" in e:
                        env[str(e["name"])] = str(e.get("value", "<from secret or field>"))
                out.append(
                    _Container(
                        path, str(c.get("name", "?")), c["image"], env, _args(c.get("command"), c.get("args"))
                    )
                )
    return out


def _image_findings(c: _Container) -> list[Finding]:
    last = c.image.rsplit("/", 1)[-1]
    if "@sha256:" in c.image:
        return []
    if ":" not in last or last.endswith(":latest") or "${" in c.image:
        return [
            Finding(
                c.file,
                c.name,
                "image-unpinned",
                "error",
                f"image {c.image} has no fixed tag or digest; it may be pulled anew at start",
            )
        ]
    return [
        Finding(
            c.file,
            c.name,
            "image-tag-only",
            "warning",
            f"image {c.image} is pinned by tag only; the pack's manifest records its digest",
        )
    ]


def _model_findings(c: _Container) -> list[Finding]:
    out: list[Finding] = []
    args = list(c.args)
    for i, a in enumerate(args):
        flag, eq, inline = a.partition("=")
        if flag in _HUB_FLAGS:
            out.append(
                Finding(c.file, c.name, "hub-model", "error", f"{flag} downloads the model from the Hub")
            )
        value = inline if eq else (args[i + 1] if i + 1 < len(args) else "")
        after_python = i > 0 and posixpath.basename(args[i - 1]).startswith("python")
        is_model_arg = (flag in _MODEL_FLAGS and not after_python) or (
            a == "serve" and not value.startswith("-")
        )
        if is_model_arg and value and not value.startswith(("/", "$")):
            out.append(
                Finding(
                    c.file,
                    c.name,
                    "hub-model",
                    "error",
                    f"model {value!r} is not a local path; the engine would resolve it on the Hub",
                )
            )
    return out


def lint_files(files: Mapping[str, str]) -> list[Finding]:
    """Findings for a rendered bundle given as {relative path: text}."""
    findings: list[Finding] = []
    for path in sorted(files):
        if not path.endswith((".yaml", ".yml")):
            continue
        try:
            docs = [d for d in yaml_documents(files[path], path) if d is not None]
        except InputError:
            continue  # templated, not YAML, or beyond the parser's limits; the validators judge syntax
        for c in _containers(path, docs, files, _config_maps(docs)):
            findings += _image_findings(c)
            for rule in _rules():
                if not rule.image.search(c.image):
                    continue
                for key, want in sorted(rule.env.items()):
                    if key not in c.env:
                        findings.append(
                            Finding(
                                path,
                                c.name,
                                "env-missing",
                                "error",
                                f"{key}={want} is not set ({rule.id}; {rule.source})",
                            )
                        )
                    elif not _same(want, c.env[key]):
                        findings.append(
                            Finding(
                                path,
                                c.name,
                                "env-value",
                                "error",
                                f"{key} is {c.env[key]!r}, must be {want!r} ({rule.id})",
                            )
                        )
                if rule.local_model:
                    findings += _model_findings(c)
                break
    return findings


def lint_dir(root: Path) -> list[Finding]:
    """Findings for a bundle written to disk; a path that is not a bundle folder is an InputError."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(str(root), "no such folder", "give the folder `garrison render` wrote")
    files = {
        p.relative_to(root).as_posix(): p.read_text(errors="replace")
        for p in sorted(root.rglob("*"))
        if p.is_file() and (p.suffix in (".yaml", ".yml", ".env") or p.name == ".env")
    }
    if not files:
        raise InputError(
            str(root), "holds no compose, Kubernetes or .env files", "give the folder `garrison render` wrote"
        )
    return lint_files(files)
