"""Pinned container images: the design's own tag, else the catalogue's platforms row, else the
bundle's fallback list (src/garrison/data/bundle_images.yaml, with source and as_of)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from garrison import engines
from garrison.design import Deployment


@lru_cache(maxsize=1)
def fallback_images() -> dict[str, str]:
    """`name -> image:tag` from the shipped fallback list."""
    text = resources.files("garrison").joinpath("data/bundle_images.yaml").read_text(encoding="utf-8")
    rows: dict[str, dict[str, Any]] = yaml.safe_load(text)["images"]
    return {name: f"{row['image']}:{row['tag']}" for name, row in rows.items()}


def _catalogue_image(engine: str) -> str | None:
    """image:tag from the catalogue's platforms rows, when the catalogue is installed."""
    try:
        from garrison.catalogue import load_catalogue  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return None
    try:
        cat = load_catalogue()
        platforms = getattr(cat, "platforms", None) or ()
        rows = platforms.values() if isinstance(platforms, dict) else platforms
        for row in rows:
            if engine in (row.id, *row.aliases) and row.image and row.image_tag:
                return f"{row.image}:{row.image_tag}"
    except Exception:  # a catalogue that fails to load must not stop rendering: fall back
        return None
    return None


def has_tag(image: str) -> bool:
    """True when `image` names a tag or digest (not an implicit `latest`)."""
    last = image.rsplit("/", 1)[-1]
    return "@" in image or (":" in last and not last.endswith(":latest"))


def engine_image(dep: Deployment) -> str:
    """The pinned engine image for a deployment, in the build its device needs."""
    launch = engines.launch_of(dep.engine)
    if dep.engine_image and has_tag(dep.engine_image):
        return launch.image_variant(dep.engine_image, dep.device_kind, None)
    found = _catalogue_image(dep.engine)
    if found:
        return launch.image_variant(found, dep.device_kind, None)
    key = launch.gpu_image_key if dep.device_kind == "gpu" and launch.gpu_image_key else launch.image_key
    return fallback_images()[key]


def support_image(name: str) -> str:
    """A pinned image for a support service (gateway, prometheus, grafana, ...)."""
    return fallback_images()[name]


def pinned(image: str, digests: Mapping[str, str] | None) -> str:
    """`image@sha256:...` when `digests` knows the image's digest, else `image` unchanged."""
    digest = (digests or {}).get(image, "")
    return f"{image}@{digest}" if digest and "@" not in image else image
