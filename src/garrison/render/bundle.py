"""`render_bundle(design) -> {path: text}`: pure, deterministic, from the package's Jinja2 templates."""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from garrison.design import Design
from garrison.design_bounds import check_design, check_scale
from garrison.names import check_names
from garrison.outputs import design_json
from garrison.render.context import build_context
from garrison.render.dashboards import dashboards
from garrison.render.helm import helm_chart

TEMPLATE_ROOT = "bundle/"
PER_SERVER = "compose/compose.yaml"  # rendered once per server of a multi-server design
LATE = (
    "k8s/base/kustomization.yaml",
    "k8s/kserve/kustomization.yaml",
    "README.md",
)  # rendered last: they list the other files


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("garrison", "templates"),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    # JSON string/number literals are valid YAML scalars: every interpolated value is quoted safely
    env.filters["q"] = lambda v: json.dumps(v, ensure_ascii=False)
    env.filters["shq"] = lambda v: "'" + str(v).replace("'", "'\"'\"'") + "'"
    return env


def render_bundle(design: Design, image_digests: Mapping[str, str] | None = None) -> dict[str, str]:
    """Render every bundle file for a design; the result is sorted by path and has no timestamps.
    `image_digests` (`image:tag -> sha256:...`) pins those images by digest (`garrison airgap pack`)."""
    check_design(design, "design")  # a design from outside, or one too large to render, stops here
    check_names(design, "design")
    check_scale(design)
    ctx = build_context(design, image_digests)
    env = _env()
    files: dict[str, str] = {}
    late: list[str] = []
    names = sorted(n for n in env.list_templates() if n.startswith(TEMPLATE_ROOT) and n.endswith(".j2"))
    for tpl in names:
        rel = tpl[len(TEMPLATE_ROOT) : -len(".j2")].replace("/dot-", "/.")  # dotfiles ship as dot-*
        if rel in LATE:
            late.append(tpl)
            continue
        template = env.get_template(tpl)
        if "__dep__" in rel:
            for view in ctx["deployments"]:
                _put(files, rel.replace("__dep__", view.name), template.render(ctx, dep=view))
        elif rel == PER_SERVER:
            # one compose file per physical server; a single-server design keeps compose/compose.yaml
            layout = ctx["layout"]
            if layout.multi:
                for host in layout.hosts:
                    _put(files, f"compose/{host.name}/compose.yaml", template.render(ctx, host=host))
            else:
                _put(files, rel, template.render(ctx, host=layout.hosts[0]))
        else:
            _put(files, rel, template.render(ctx))
    for path, text in dashboards(ctx).items():
        files[path] = text
    # the k8s gateway loads the same nginx.conf (kustomize cannot read files above its root)
    files["k8s/base/gateway/nginx.conf"] = files["gateway/nginx.conf"]
    if "k8s/kserve/gateway/upstreams.conf" in files:  # the KServe variant replaces the same ConfigMap
        files["k8s/kserve/gateway/nginx.conf"] = files["gateway/nginx.conf"]
    files["design.json"] = design_json(design)
    # the Helm chart is made from the rendered k8s/base objects: the same objects, sizing as values
    # (a fixed chart name: no file path carries free text from the design)
    files.update(helm_chart(files, "garrison", "Garrison LLM platform (the design's Kubernetes objects)"))
    for tpl in late:
        rel = tpl[len(TEMPLATE_ROOT) : -len(".j2")]
        extra: dict[str, Any] = {"files": sorted(files)}
        _put(files, rel, env.get_template(tpl).render(ctx, **extra))
    return dict(sorted(files.items()))


def _put(files: dict[str, str], path: str, text: str) -> None:
    """Keep a rendered file unless the template rendered nothing (a conditional artifact)."""
    if text.strip():
        files[path] = text.rstrip("\n") + "\n"
