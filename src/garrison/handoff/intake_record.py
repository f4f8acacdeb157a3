"""The state of one hand-off being read: the slots its keys map to, the drafts of use cases and models,
and the record of what happened to every value (parsed, guessed, or kept as a note)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from garrison.requirements import HandoffField

Slots = Mapping[str, list[tuple[str, Any]]]
UNNAMED = "Unnamed organisation"


def norm_key(key: object) -> str:
    """ "Team Size" -> team_size: lower case, every run of non-alphanumerics one underscore."""
    return re.sub(r"[^a-z0-9]+", "_", str(key).lower()).strip("_")


MAX_TEXT = 500  # characters of one value the record keeps


# Unicode categories that are not printable text on one line (controls, format characters such as
# zero-width spaces, line/paragraph separators, surrogates, private use, unassigned): garrison.names
# refuses them in every single-line string, so the intake drops them from what it keeps.
_NOT_TEXT = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def as_text(value: Any, limit: int = MAX_TEXT) -> str:
    """A value as one line of printable text, the way the record keeps it (at most `limit` characters)."""
    if isinstance(value, str):
        raw = value
    else:
        raw = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10_000).strip()
        raw = raw.removesuffix("...").strip()
    text = " ".join(
        "".join(
            " " if ch.isspace() else ch
            for ch in raw
            if unicodedata.category(ch) not in _NOT_TEXT or ch.isspace()
        ).split()
    )
    return text if len(text) <= limit else text[:limit] + f"... ({len(text):,} characters)"


@dataclass
class UseCaseDraft:
    """A use case being assembled from the hand-off."""

    name: str
    kind: str
    fim: bool
    origin: str  # where the use case came from, for messages
    users: int | None = None
    concurrent: int | None = None
    rpm: float | None = None
    tokens_per_day: float | None = None
    models: list[dict[str, Any]] = field(default_factory=list)
    context: int | None = None
    latency: dict[str, float] = field(default_factory=dict)
    input_tokens: int | None = None
    output_tokens: int | None = None
    ha: bool = False


@dataclass
class ModelDraft:
    """A model named (or implied) by the hand-off."""

    ref: dict[str, Any]  # {"id": ...} or {"path": ...}, plus "quant" when pinned
    label: str  # what the hand-off called it
    kinds: tuple[str, ...] = ("chat",)
    fim: bool = False
    context_max: int | None = None
    context: int | None = None  # context length the hand-off asks for this model


class Intake:
    """One hand-off being read; `fields` and `notes` are what the record will hold."""

    def __init__(self, catalogue: Any | None = None) -> None:
        self._cat = catalogue
        self.fields: list[HandoffField] = []
        self.notes: list[str] = []

    @property
    def cat(self) -> Any:
        if self._cat is None:
            from garrison.catalogue import load_catalogue

            self._cat = load_catalogue()
        return self._cat

    # -------------------------------------------------------------- the record
    def parsed(self, key: str, value: Any, result: str) -> None:
        self.fields.append(HandoffField(key=key, value=as_text(value), status="parsed", result=result))

    def guessed(self, key: str, value: Any, result: str) -> None:
        self.fields.append(HandoffField(key=key, value=as_text(value), status="guessed", result=result))

    def ignored(self, key: str, value: Any, why: str) -> None:
        self.fields.append(
            HandoffField(key=key, value=as_text(value), status="ignored", result=f"{why}; kept as a note")
        )
        self.notes.append(f"{key}: {as_text(value)}")


def first_entry(slots: Mapping[str, list[tuple[str, Any]]], slot: str, it: Intake) -> tuple[str, Any] | None:
    """The first entry of a slot; later entries for the same slot are recorded as not applied."""
    entries = slots.get(slot, [])
    for path, value in entries[1:]:
        it.ignored(path, value, f"a second value for the same thing as {entries[0][0]}")
    return entries[0] if entries else None


# ------------------------------------------------------------------ organisation and team
