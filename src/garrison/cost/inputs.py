"""The I/O edge of the cost package: read a Design file and the catalogue's prices."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from garrison.catalogue.schema import GPU, CloudPrice
from garrison.cost.parameters import CostParameters
from garrison.cost.result import TCO
from garrison.cost.tco import compute_tco
from garrison.design import Design
from garrison.errors import InputError


def read_design(path: str | Path) -> Design:
    """A Design from its JSON file (as `garrison plan --json` writes it); bad files are InputError."""
    p = Path(path)
    try:
        data: Any = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(str(p), "no such file", "pass the design.json that `garrison plan` wrote") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(str(p), f"not a readable JSON design ({e})", "pass a design.json file") from None
    if isinstance(data, dict) and "design" in data and "schema_version" not in data:
        data = data["design"]  # tolerate {"design": {...}} envelopes (MCP, plan --json wrappers)
    try:
        return Design.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise InputError(f"{p}:{loc}", err["msg"], "regenerate it with `garrison plan`") from None


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
    years: int = 3,
    today: date | None = None,
    params: CostParameters | None = None,
    against: str | None = None,
) -> TCO:
    """`compute_tco` with the shipped catalogue's prices."""
    prices, gpus = catalogue_prices()
    return compute_tco(design, prices, gpus, params=params, years=years, today=today, against=against)
