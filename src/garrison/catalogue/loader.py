"""Reading and validating the catalogue's YAML files shipped in `garrison/data/` (I/O edge)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from garrison.errors import InputError

RowT = TypeVar("RowT", bound=BaseModel)

# libyaml's C parser when PyYAML was built with it (every PyPI wheel is): the catalogue is ~6,000
# YAML nodes, which the pure-Python parser takes most of a second to read on every command.
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

DATA_PACKAGE = "garrison"
DATA_DIR = "data"
CONFIG_DIR = "model_configs"


class CatalogueDataError(InputError):
    """A catalogue data file is malformed; the message names the file, the row and the field."""


def read_data_text(*parts: str) -> str:
    """Text of a file under garrison/data/, read through importlib.resources (works from a wheel)."""
    node = resources.files(DATA_PACKAGE).joinpath(DATA_DIR)
    for part in parts:
        node = node.joinpath(part)
    try:
        return node.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise CatalogueDataError(
            "/".join(parts), "catalogue data file is missing", "reinstall garrison"
        ) from exc


def parse_rows(text: str, filename: str, table: str, row_type: type[RowT]) -> dict[str, RowT]:
    """Validate the list under `table:` in one YAML document into rows keyed by id (ids must be unique)."""
    try:
        doc = yaml.load(text, Loader=_YAML_LOADER)  # a safe loader, C or Python
    except yaml.YAMLError as exc:
        raise CatalogueDataError(filename, f"invalid YAML: {exc}".replace("\n", " "), "fix the file") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get(table), list):
        raise CatalogueDataError(filename, f"expected a top-level list `{table}:`", "fix the file")
    rows: dict[str, RowT] = {}
    for index, raw in enumerate(doc[table]):
        label = _row_label(raw, index)
        if not isinstance(raw, dict):
            raise CatalogueDataError(f"{filename} {label}", "a row must be a mapping", "fix the row")
        try:
            row = row_type.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(row)"
            raise CatalogueDataError(
                f"{filename} {label} field {where}",
                f"{first['msg']} (got {_short(first.get('input'))})",
                f"fix the row; the schema is garrison.catalogue.schema.{row_type.__name__}",
            ) from exc
        row_id = str(getattr(row, "id"))  # noqa: B009 - every catalogue row type has an id
        if row_id in rows:
            raise CatalogueDataError(f"{filename} {label}", f"duplicate id '{row_id}'", "ids must be unique")
        rows[row_id] = row
    return rows


def load_table(filename: str, table: str, row_type: type[RowT]) -> dict[str, RowT]:
    """Read and validate one packaged data file."""
    return parse_rows(read_data_text(filename), filename, table, row_type)


def load_model_config(config_file: str) -> dict[str, Any]:
    """The Hugging Face config.json copy `data/model_configs/<config_file>` as a dict."""
    text = read_data_text(CONFIG_DIR, config_file)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogueDataError(
            f"{CONFIG_DIR}/{config_file}", f"invalid JSON: {exc}", "fix the file"
        ) from exc
    if not isinstance(data, dict):
        raise CatalogueDataError(
            f"{CONFIG_DIR}/{config_file}", "config must be a JSON object", "fix the file"
        )
    return data


def _row_label(raw: object, index: int) -> str:
    row_id = raw.get("id") if isinstance(raw, dict) else None
    return f"row {index + 1}" + (f" (id {row_id})" if row_id else "")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
