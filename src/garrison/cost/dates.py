"""Catalogue dates (`2026`, `2026-05`, `2026-Q3`, `2026-05-04`) and the stale-price check."""

from __future__ import annotations

import re
from datetime import date

_DATE = re.compile(r"^(\d{4})(?:-(?:Q([1-4])|(\d{2}))(?:-(\d{2}))?)?")


def parse_as_of(text: str) -> date | None:
    """The first day of the period a catalogue `as_of` names (cautious for staleness); None if undated."""
    m = _DATE.match(text.strip()) if text else None
    if not m:
        return None
    year = int(m.group(1))
    if m.group(2):
        return date(year, 3 * (int(m.group(2)) - 1) + 1, 1)
    month = int(m.group(3)) if m.group(3) else 1
    day = int(m.group(4)) if m.group(4) else 1
    try:
        return date(year, month, day)
    except ValueError:
        return None


def months_between(earlier: date, later: date) -> float:
    """Whole and fractional months from `earlier` to `later` (30.44-day months)."""
    return (later - earlier).days / 30.44


def stale_note(what: str, as_of: str, reference: date | None, after_months: int) -> str | None:
    """A one-line warning when `as_of` is more than `after_months` before `reference`, or undated."""
    when = parse_as_of(as_of)
    if when is None:
        return f"{what}: price has no usable date (as_of={as_of!r}); check it before relying on it"
    if reference is None:
        return None
    age = months_between(when, reference)
    if age > after_months:
        return f"{what}: price dated {as_of} is {age:.0f} months old (> {after_months}); re-check it"
    return None
