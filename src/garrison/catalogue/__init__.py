"""The catalogue: GPUs, CPUs, models, platforms, quant formats and cloud prices as validated package data.

from garrison.catalogue import load_catalogue
cat = load_catalogue()            # read once, lazily, from garrison/data/
cat.gpu("h100")                   # -> GPU row (names resolve the way people type them)
cat.model_config("qwen3-32b")     # -> the model's HF config.json as a dict
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError

from garrison.catalogue import loader as _loader
from garrison.catalogue.loader import CatalogueDataError, load_model_config, load_table
from garrison.catalogue.resolve import NameIndex, normalise
from garrison.catalogue.schema import (
    CPU,
    GPU,
    CheckpointEntry,
    CloudPrice,
    Interconnect,
    LeadTime,
    ModelEntry,
    Platform,
    PriceRange,
    QualityIndex,
    QualityIndices,
    QualityScore,
    QualityUse,
    QuantFormat,
    Row,
)

__all__ = [
    "CPU",
    "GPU",
    "Catalogue",
    "CatalogueDataError",
    "CheckpointEntry",
    "CloudPrice",
    "Interconnect",
    "LeadTime",
    "ModelEntry",
    "Platform",
    "PriceRange",
    "QualityIndex",
    "QualityIndices",
    "QualityScore",
    "QualityUse",
    "QuantFormat",
    "Row",
    "as_of_key",
    "load_catalogue",
    "normalise",
]


_FactT = TypeVar("_FactT", QualityScore, CheckpointEntry, LeadTime)


def _names(rows: dict[str, Row]) -> dict[str, list[str]]:
    return {row_id: [row.name, *row.aliases] for row_id, row in rows.items()}


def _model_names(rows: dict[str, ModelEntry]) -> dict[str, list[str]]:
    return {
        row_id: [row.name, *row.aliases, row.hf_id, row.hf_id.split("/")[-1]] for row_id, row in rows.items()
    }


class Catalogue:
    """All catalogue tables (dicts keyed by id) with name resolution."""

    def __init__(
        self,
        gpus: dict[str, GPU],
        cpus: dict[str, CPU],
        models: dict[str, ModelEntry],
        platforms: dict[str, Platform],
        quant_formats: dict[str, QuantFormat],
        cloud_prices: dict[str, CloudPrice],
        quality: QualityIndices | None = None,
        checkpoints: tuple[CheckpointEntry, ...] = (),
        lead_times: tuple[LeadTime, ...] = (),
    ) -> None:
        self.gpus = gpus
        self.cpus = cpus
        self.models = models
        self.platforms = platforms
        self.quant_formats = quant_formats
        self.cloud_prices = cloud_prices
        self.quality_indices: tuple[QualityIndex, ...] = quality.indices if quality else ()
        # index id -> model id -> score
        self.quality: dict[str, dict[str, QualityScore]] = {
            qi.index: {q.model: q for q in qi.scores} for qi in self.quality_indices
        }
        self.checkpoints: dict[str, tuple[CheckpointEntry, ...]] = {}
        for ck in checkpoints:
            self.checkpoints[ck.model] = (*self.checkpoints.get(ck.model, ()), ck)
        self.lead_times: dict[str, LeadTime] = {lt.item: lt for lt in lead_times}
        self.indexes = {
            "gpu": NameIndex("GPU", "gpu", _names(dict(gpus)), devices=True),
            "cpu": NameIndex("CPU", "cpu", _names(dict(cpus)), devices=True),
            "model": NameIndex("model", "model", _model_names(models)),
            "platform": NameIndex("platform", "engine", _names(dict(platforms))),
            "quant": NameIndex("quant format", "quant", _names(dict(quant_formats))),
        }

    @property
    def as_of(self) -> str:
        """Newest `as_of` of all rows (compared with `as_of_key`)."""
        tables: list[Mapping[str, Row]] = [
            self.gpus,
            self.cpus,
            self.models,
            self.platforms,
            self.quant_formats,
            self.cloud_prices,
        ]
        return max((row.as_of for table in tables for row in table.values()), key=as_of_key)

    def gpu(self, name: str) -> GPU:
        """The GPU `name` denotes ("h100", "NVIDIA H100 80GB HBM3", "rtx-4090", "a100-80g")."""
        row_id = self.indexes["gpu"].resolve(name, memory_of=lambda i: self.gpus[i].memory_gb)
        return self.gpus[row_id]

    def cpu(self, name: str) -> CPU:
        """The CPU `name` denotes ("epyc 9654", "Intel(R) Xeon(R) Platinum 8480+")."""
        return self.cpus[self.indexes["cpu"].resolve(name)]

    def model(self, name: str) -> ModelEntry:
        """The model `name` denotes: catalogue id, alias or Hugging Face id."""
        return self.models[self.indexes["model"].resolve(name)]

    def platform(self, name: str) -> Platform:
        """The serving platform `name` denotes ("vllm", "llama.cpp", "llama-server", "tgi")."""
        return self.platforms[self.indexes["platform"].resolve(name)]

    def quant(self, name: str) -> QuantFormat:
        """The quant format `name` denotes ("fp8", "awq", "Q4_K_M")."""
        return self.quant_formats[self.indexes["quant"].resolve(name)]

    def model_config(self, entry_or_id: ModelEntry | str) -> dict[str, Any]:
        """The model's Hugging Face config.json (a packaged copy) as a fresh dict."""
        entry = entry_or_id if isinstance(entry_or_id, ModelEntry) else self.model(entry_or_id)
        return load_model_config(entry.config_file)

    def quality_index_for(self, use: QualityUse) -> QualityIndex | None:
        """The quality index that ranks models for `use` (a use-case kind, or "code-fim"), if any."""
        return next((qi for qi in self.quality_indices if use in qi.applies_to), None)


def as_of_key(as_of: str) -> tuple[int, int, int]:
    """Sortable (year, month, day) of an `as_of`; a quarter counts as its last month, a missing day as 0."""
    year, _, rest = as_of.partition("-")
    if rest.startswith("Q"):
        return int(year), 3 * int(rest[1:]), 0
    month, _, day = rest.partition("-")
    return int(year), int(month or 0), int(day or 0)


def _facts(filename: str, table: str, row_type: type[_FactT]) -> tuple[_FactT, ...]:
    """Rows of a sourced fact table (not keyed by id), validated, as a tuple."""
    doc = yaml.safe_load(_loader.read_data_text(filename))
    raw = doc.get(table) if isinstance(doc, dict) else None
    if not isinstance(raw, list):
        raise CatalogueDataError(filename, f"expected a top-level list `{table}:`", "fix the file")
    out: list[_FactT] = []
    for i, row in enumerate(raw):
        try:
            out.append(row_type.model_validate(row))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(row)"
            raise CatalogueDataError(
                f"{filename} row {i + 1} field {where}", first["msg"], f"fix the row ({row_type.__name__})"
            ) from exc
    return tuple(out)


def _check_refs(
    models: dict[str, ModelEntry],
    quants: dict[str, QuantFormat],
    gpus: dict[str, GPU],
    quality: QualityIndices,
    checkpoints: tuple[CheckpointEntry, ...],
    lead_times: tuple[LeadTime, ...],
) -> None:
    seen_uses: dict[str, str] = {}
    for qi in quality.indices:
        for use in qi.applies_to:
            if use in seen_uses:
                raise CatalogueDataError(
                    "model_quality.yaml",
                    f"{qi.index} and {seen_uses[use]} both apply to {use}",
                    "give each kind of use one index (scores of two indices are not comparable)",
                )
            seen_uses[use] = qi.index
        for q in qi.scores:
            if q.model not in models:
                raise CatalogueDataError(
                    f"model_quality.yaml index {qi.index}",
                    f"unknown model id {q.model!r}",
                    "use a models.yaml id",
                )
    for ck in checkpoints:
        if ck.model not in models:
            raise CatalogueDataError(
                "checkpoints.yaml", f"unknown model id {ck.model!r}", "use a models.yaml id"
            )
        if ck.format not in quants:
            raise CatalogueDataError(
                "checkpoints.yaml", f"unknown format {ck.format!r}", "use a quant_formats id"
            )
    for lt in lead_times:
        if lt.item not in gpus and lt.item not in ("gpu-server", "cpu-server"):
            raise CatalogueDataError("lead_times.yaml", f"unknown item {lt.item!r}", "use a gpus.yaml id")
        if lt.weeks_low > lt.weeks_high:
            raise CatalogueDataError("lead_times.yaml", f"{lt.item}: weeks_low > weeks_high", "swap them")


@functools.lru_cache(maxsize=1)
def load_catalogue() -> Catalogue:
    """Read and validate every packaged table once (cached); raises CatalogueDataError on bad data."""
    models = load_table("models.yaml", "models", ModelEntry)
    quants = load_table("quant_formats.yaml", "quant_formats", QuantFormat)
    gpus = load_table("gpus.yaml", "gpus", GPU)
    doc = yaml.safe_load(_loader.read_data_text("model_quality.yaml"))
    try:
        quality = QualityIndices.model_validate(doc)
    except ValidationError as exc:
        raise CatalogueDataError("model_quality.yaml", str(exc.errors()[0]["msg"]), "fix the file") from exc
    checkpoints = _facts("checkpoints.yaml", "checkpoints", CheckpointEntry)
    lead_times = _facts("lead_times.yaml", "lead_times", LeadTime)
    _check_refs(models, quants, gpus, quality, checkpoints, lead_times)
    return Catalogue(
        gpus=gpus,
        cpus=load_table("cpus.yaml", "cpus", CPU),
        models=models,
        platforms=load_table("platforms.yaml", "platforms", Platform),
        quant_formats=quants,
        cloud_prices=load_table("cloud_prices.yaml", "cloud_prices", CloudPrice),
        quality=quality,
        checkpoints=checkpoints,
        lead_times=lead_times,
    )
