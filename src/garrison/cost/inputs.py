"""The I/O edge of the cost package: read a Design file and the catalogue's prices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from garrison.catalogue.schema import GPU, CloudPrice
from garrison.cost.parameters import CostParameters
from garrison.cost.result import TCO
from garrison.cost.tco import compute_tco
from garrison.design import Design
from garrison.errors import InputError


def read_design(path: str | Path) -> Design:
    """A Design from its design.json (the bundle's strict loader); bad files are one InputError."""
    from garrison.render.design_file import load_design

    p = Path(path)
    if not p.is_file():
        raise InputError(str(p), "no such file", "pass the design.json that `garrison plan --out` wrote")
    return load_design(p)


def catalogue_prices() -> tuple[Sequence[CloudPrice], Mapping[str, GPU]]:
    """The catalogue's dated cloud price list and GPU rows (keyed by id)."""
    try:
        from garrison.catalogue import load_catalogue  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        raise InputError(
            "catalogue",
            "the catalogue loader is not installed in this build",
            "install a Garrison build with garrison.catalogue.load_catalogue",
        ) from None
    cat = load_catalogue()
    gpus_obj: Any = cat.gpus
    gpus: dict[str, GPU] = dict(gpus_obj) if isinstance(gpus_obj, Mapping) else {g.id: g for g in gpus_obj}
    prices: Any = cat.cloud_prices
    return tuple(prices.values() if isinstance(prices, Mapping) else prices), gpus


def tco_for_design(
    design: Design,
    years: float | None = None,
    today: date | None = None,
    params: CostParameters | None = None,
    against: str | None = None,
) -> TCO:
    """`compute_tco` with the shipped catalogue's prices (over the design's horizon unless `years`)."""
    prices, gpus = catalogue_prices()
    return compute_tco(design, prices, gpus, params=params, years=years, today=today, against=against)
