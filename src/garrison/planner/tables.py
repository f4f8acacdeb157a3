"""Planning tables shipped as data (usage profiles, server parts), loaded lazily and validated."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict


class UsageProfile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    peak_active_fraction: float
    requests_per_active_user_per_min: float
    input_tokens: int
    output_tokens: int
    batch_window_hours: float = 8.0
    source: str
    as_of: str


class PriceLH(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    low: float
    high: float


class Chassis(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    gpus: int
    rack_units: int
    base_w: float
    price_usd: PriceLH
    for_: str = ""

    def __init__(self, **data: Any) -> None:
        if "for" in data:
            data["for_"] = data.pop("for")
        super().__init__(**data)


class Nic(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    price_usd: PriceLH
    w: float


class RackEdition(BaseModel):
    """The variant of a workstation card to order for a rack server, and where that was read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    order: str
    source: str


class ServerParts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    as_of: str
    source: str
    chassis: dict[str, Chassis]
    memory_usd_per_gib: PriceLH
    nvme_usd_per_tb: PriceLH
    nvme_sizes_tb: tuple[float, ...]
    nic: dict[str, Nic]
    psu_margin: float
    typical_gpu_utilisation: float
    typical_rest_utilisation: float
    host_cpu: str
    host_cpu_small: str
    # rack servers mirror their NVMe (RAID1): this many drives of the listed size are bought
    nvme_mirror: int = 2
    rack_editions: dict[str, RackEdition] = {}


def _read(name: str) -> Any:
    return yaml.safe_load(resources.files("garrison.data").joinpath(name).read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def usage_profiles() -> dict[str, UsageProfile]:
    """Per use-case kind: how head-count becomes requests per minute (data/usage_profiles.yaml)."""
    return {k: UsageProfile(**v) for k, v in _read("usage_profiles.yaml")["profiles"].items()}


@functools.lru_cache(maxsize=1)
def server_parts() -> ServerParts:
    """Chassis, memory, storage, NIC and PSU planning table (data/server_parts.yaml)."""
    return ServerParts(**_read("server_parts.yaml"))
