"""Read the free-form values other agents write ("first token under 2 s", "50 users", "70B at FP8",
"$250k capex", "GDPR, HIPAA") into numbers and names. Pure: text in, value or None out.

Every function returns None when it finds nothing it can stand behind; the caller then keeps the text
as a note instead of guessing a number.
"""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass
from datetime import date

_NUM = r"(\d+(?:[.,]\d+)*(?:\.\d+)?)"


# Anything a hand-off means is far below this (users, tokens, dollars, milliseconds); larger, infinite
# or NaN values are not read as numbers at all, so they can never reach the requirements.
MAX_NUMBER = 1e12


def _bounded(x: float | None) -> float | None:
    """`x` when it is a finite number within +-MAX_NUMBER, else None."""
    if x is None or not math.isfinite(x) or abs(x) > MAX_NUMBER:
        return None
    return x


def _real(value: float) -> float | None:
    """A YAML int or float as a bounded float (a 400-digit int does not fit a float at all)."""
    try:
        return _bounded(float(value))
    except OverflowError:
        return None


def _float(text: str) -> float:
    """'1,200' -> 1200, '1.5' -> 1.5, '2,5' (decimal comma with one or two digits) -> 2.5; text that is
    not one number ('0.0.0', a version) is NaN, which every caller's bound turns into "no number"."""
    if re.fullmatch(r"\d+,\d{1,2}", text):
        return float(text.replace(",", "."))
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return math.nan


def number(value: object) -> float | None:
    """A plain number: 40, '40', '~40', 'about 1,200'; None for text without one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return _real(value)
    if isinstance(value, str):
        m = re.search(_NUM, value)
        return _bounded(_float(m.group(1))) if m else None
    return None


# ------------------------------------------------------------------ durations
_DURATION = re.compile(
    _NUM + r"\s*(ms|msec|millis(?:econds?)?|milliseconds?|s|sec|secs|seconds?|min|mins|minutes?)\b",
    re.IGNORECASE,
)


def duration_ms(value: object) -> float | None:
    """'2 s' -> 2000, '500ms' -> 500, 'under 1.5 seconds' -> 1500; a bare number is milliseconds only
    when it is written as one (YAML 800 -> 800 ms), never when it sits in words without a unit."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _real(value)
    if not isinstance(value, str):
        return None
    m = _DURATION.search(value)
    if not m:
        return None
    n, unit = _float(m.group(1)), m.group(2).lower()
    if unit.startswith("m") and not unit.startswith("min"):
        return _bounded(n)
    if unit.startswith("min"):
        return _bounded(n * 60_000)
    return _bounded(n * 1000)


# ------------------------------------------------------------------ counts and token lengths
_COUNT = re.compile(_NUM + r"\s*([kKmM])?(?![\w.])")


def count(value: object) -> int | None:
    """A head-count or request count: 50, '50 users', '1.2k developers', 'around 200' -> int (k = 1000)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        b = _real(value)
        return None if b is None else int(b)
    if not isinstance(value, str):
        return None
    m = _COUNT.search(value)
    if not m:
        return None
    n = _bounded(_float(m.group(1)) * {"k": 1000, "m": 1_000_000}.get((m.group(2) or "").lower(), 1))
    return None if n is None else round(n)


_TOKENS = re.compile(_NUM + r"\s*([kKmM])?\s*(?:tokens?|tok)?\b")


def tokens(value: object) -> int | None:
    """A context or request length in tokens: 32768, '32k' -> 32768, '128K tokens', '1M' -> 1048576.

    k and M are binary here (32k = 32768) because context windows are quoted that way (Qwen's 32k =
    32,768 in its config); for head-counts use `count`.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        b = _real(value)
        return None if b is None else int(b)
    if not isinstance(value, str):
        return None
    m = _TOKENS.search(value)
    if not m:
        return None
    n = _bounded(_float(m.group(1)) * {"k": 1024, "m": 1024**2}.get((m.group(2) or "").lower(), 1))
    return None if n is None else round(n)


_RATE = re.compile(
    _NUM + r"\s*(?:tokens?|tok|t)\s*(?:/|per)\s*(?:s|sec|second)\b",
    re.IGNORECASE,
)


def tokens_per_s(value: object) -> float | None:
    """'20 tokens/s per user' -> 20, '30 tok/s' -> 30; a bare number is taken as tokens/s."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _real(value)
    if not isinstance(value, str):
        return None
    m = _RATE.search(value)
    return _bounded(_float(m.group(1))) if m else None


def percent(value: object) -> float | None:
    """'99.5%' -> 99.5, '99.9 % uptime' -> 99.9, 0.995 -> 99.5."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        v = _real(value)
        return None if v is None else v * 100 if v <= 1 else v
    if not isinstance(value, str):
        return None
    m = re.search(r"(\d+(?:\.\d+)?)\s*%", value)
    return _bounded(_float(m.group(1))) if m else None


# ------------------------------------------------------------------ money
@dataclass(frozen=True)
class Money:
    """An amount, its currency as written, and whether it is a yearly (running) figure."""

    amount: float
    currency: str  # USD, EUR, GBP, CHF ..., "" when the text names none
    per_year: bool


_CURRENCY_WORDS = {
    "$": "USD",
    "usd": "USD",
    "dollars": "USD",
    "us$": "USD",
    "€": "EUR",
    "eur": "EUR",
    "euros": "EUR",
    "euro": "EUR",
    "£": "GBP",
    "gbp": "GBP",
    "pounds": "GBP",
    "chf": "CHF",
}
_MONEY = re.compile(
    r"(us\$|\$|€|£|usd|eur|gbp|chf)?\s*" + _NUM + r"\s*(k|m|mn|million|thousand|bn)?\b\s*"
    r"(usd|eur|gbp|chf|dollars|euros?|pounds)?",
    re.IGNORECASE,
)
_PER_MONTH = re.compile(r"(/\s*mo(nth)?\b|per\s+month|monthly|a\s+month)", re.IGNORECASE)
_PER_YEAR = re.compile(
    r"(/\s*y(ea)?r\b|per\s+(year|annum)|annual|yearly|a\s+year|p\.?a\.?|opex|running)", re.IGNORECASE
)


def money(value: object) -> Money | None:
    """'$250k' -> 250,000 USD; '€1.2M capex'; '20k USD per month' -> 240,000 USD/year; 90000 -> USD."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        v = _real(value)
        return None if v is None else Money(v, "", False)
    if not isinstance(value, str):
        return None
    for m in _MONEY.finditer(value):
        if not (m.group(1) or m.group(3) or m.group(4)) and not re.search(r"\d{4,}", m.group(2)):
            continue  # a bare small number in a sentence ("2 servers") is not money
        n = _float(m.group(2))
        scale = (m.group(3) or "").lower()
        n *= {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "bn": 1e9}.get(scale, 1)
        if _bounded(n) is None:
            return None
        cur_word = (m.group(1) or m.group(4) or "").lower()
        currency = _CURRENCY_WORDS.get(cur_word, "")
        after, before = value[m.end() : m.end() + 40], value[: m.start()][-25:]
        if _PER_MONTH.search(after) or _PER_MONTH.search(before):
            return Money(n * 12, currency, True)
        return Money(n, currency, bool(_PER_YEAR.search(after) or _PER_YEAR.search(before)))
    return None


# ------------------------------------------------------------------ models, sizes and precision
@dataclass(frozen=True)
class ModelSize:
    """'230B total, 10B active, FP8' -> total 230, active 10, precision fp8."""

    total_b: float | None
    active_b: float | None
    precision: str | None  # a quant format id (fp8, bf16, awq, ...) or None
    precision_guessed: bool  # True when a generic phrase ("8-bit") was mapped to a format


_PARAMS = re.compile(r"(\d+(?:\.\d+)?)\s*([bBmMtT])(?:\s*(?:params|parameters))?\b")
# Exact format names people write, as catalogue quant ids; checked longest first.
_FORMATS = {
    "bf16": "bf16",
    "bfloat16": "bf16",
    "fp16": "fp16",
    "float16": "fp16",
    "f16": "fp16",
    "fp8": "fp8",
    "float8": "fp8",
    "int8": "int8",
    "w8a8": "int8",
    "awq": "awq",
    "gptq": "gptq",
    "int4": "int4",
    "w4a16": "int4",
    "mxfp4": "mxfp4",
    "nvfp4": "nvfp4",
    "q8_0": "q8_0",
    "q6_k": "q6_k",
    "q5_k_m": "q5_k_m",
    "q4_k_m": "q4_k_m",
    "q4_0": "q4_0",
}
# Generic phrases: a guess, printed as one.
_GENERIC = (
    (re.compile(r"\b(16[- ]?bit|half[- ]precision|full[- ]precision|unquanti[sz]ed)\b", re.I), "bf16"),
    (re.compile(r"\b8[- ]?bit\b", re.I), "fp8"),
    (re.compile(r"\b4[- ]?bit\b", re.I), "awq"),
)


def precision(text: str) -> tuple[str | None, bool]:
    """The weight format named in `text` and whether it was guessed from a generic phrase."""
    words = re.findall(r"[a-z0-9_]+", text.lower())
    for w in words:
        if w in _FORMATS:
            return _FORMATS[w], False
    for pattern, fmt in _GENERIC:
        if pattern.search(text):
            return fmt, True
    return None, False


def model_size(value: object) -> ModelSize | None:
    """Parameter counts and precision from '70B at FP8', '8B', '230B total, 10B active, FP8', '4-bit'."""
    if not isinstance(value, str):
        return None
    sizes = []
    for m in _PARAMS.finditer(value):
        n = float(m.group(1)) * {"b": 1.0, "m": 1e-3, "t": 1e3}[m.group(2).lower()]
        if _bounded(n) is None or n <= 0:
            continue
        after = value[m.end() : m.end() + 12].lower()
        sizes.append((n, "active" in after or "activ" in value[max(0, m.start() - 10) : m.start()].lower()))
    fmt, guessed = precision(value)
    if not sizes and fmt is None:
        return None
    total = next((n for n, active in sizes if not active), None)
    active = next((n for n, act in sizes if act), None)
    return ModelSize(total, active, fmt, guessed)


_FILLER = re.compile(
    r"\b(a|an|the|one|model|models|llm|at|in|with|of|parameters?|params|total|active|precision|bits?|sized?|"
    r"around|about|roughly|dense|moe|weights|quanti[sz]ed|half|full|float|\d+[- ]?bit)\b",
    re.IGNORECASE,
)


def is_size_phrase(text: str) -> bool:
    """True for '70B at FP8' or 'a 32B model'; False when a name is left ('Qwen9-700B')."""
    rest = _PARAMS.sub(" ", text)
    rest = re.sub(r"\b(" + "|".join(_FORMATS) + r")\b", " ", rest, flags=re.IGNORECASE)
    rest = _FILLER.sub(" ", rest)
    return model_size(text) is not None and not re.search(r"[a-z]{2,}", rest, re.IGNORECASE)


# ------------------------------------------------------------------ names and lists
def clauses(text: str) -> list[str]:
    """'€400k hardware; 60k per year running' -> two clauses; thousands commas ('250,000') survive."""
    parts = re.split(r"\s*(?:;|,(?=\s*\D)|\band\b|\bplus\b)\s*", text)
    return [c.strip() for c in parts if c.strip()]


def split_list(value: object) -> list[str]:
    """'GDPR, HIPAA and SOC 2' -> ['GDPR', 'HIPAA', 'SOC 2']; lists pass through as strings."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    if isinstance(value, dict):
        return [f"{k}: {v}" for k, v in value.items()]
    text = str(value)
    parts = re.split(r"\s*(?:,|;|\band\b|\bor\b|\+|/(?=\s))\s*", text)
    return [p.strip(" .") for p in parts if p and p.strip(" .")]


# Regimes named in compliance hand-offs; the value is the spelling Garrison records.
COMPLIANCE_NAMES = {
    "gdpr": "GDPR",
    "uk gdpr": "UK GDPR",
    "dsgvo": "GDPR",
    "hipaa": "HIPAA",
    "soc 2": "SOC 2",
    "soc2": "SOC 2",
    "iso 27001": "ISO 27001",
    "iso27001": "ISO 27001",
    "iso/iec 27001": "ISO 27001",
    "iso 42001": "ISO 42001",
    "pci dss": "PCI DSS",
    "pci-dss": "PCI DSS",
    "pci": "PCI DSS",
    "fedramp": "FedRAMP",
    "eu ai act": "EU AI Act",
    "ai act": "EU AI Act",
    "nis2": "NIS2",
    "nis 2": "NIS2",
    "dora": "DORA",
    "bsi c5": "BSI C5",
    "c5": "BSI C5",
    "itar": "ITAR",
    "cjis": "CJIS",
    "fisma": "FISMA",
    "ccpa": "CCPA",
    "glba": "GLBA",
    "sox": "SOX",
    "hitrust": "HITRUST",
    "tisax": "TISAX",
    "nist 800-53": "NIST 800-53",
    "nist 800-171": "NIST 800-171",
    "cmmc": "CMMC",
}


def compliance(value: object) -> tuple[list[str], list[str]]:
    """(regimes recognised, phrases kept verbatim). Nothing is dropped: text without a known regime
    comes back in the second list so the caller records it as a compliance requirement as written."""
    known: list[str] = []
    unknown: list[str] = []
    for item in split_list(value):
        low = " " + re.sub(r"[_]+", " ", item.lower()) + " "
        found = [
            name
            for key, name in sorted(COMPLIANCE_NAMES.items(), key=lambda kv: -len(kv[0]))
            if re.search(r"(?<![a-z0-9])" + re.escape(key) + r"(?![a-z0-9])", low)
        ]
        if found:
            known += [f for f in dict.fromkeys(found) if f not in known]
        else:
            unknown.append(item)
    return known, unknown


# Licence names as people write them -> the licence ids the catalogue uses (data/models.yaml
# `licence_id`); a generic "Llama licence" means every Llama community licence version.
LICENCE_NAMES: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"apache", re.I), ("apache-2.0",)),
    (re.compile(r"\bmodified[- ]mit\b", re.I), ("modified-mit",)),
    (re.compile(r"\bmit\b", re.I), ("mit",)),
    (re.compile(r"llama\s*3\.3", re.I), ("llama3.3",)),
    (re.compile(r"llama\s*3\.1", re.I), ("llama3.1",)),
    (re.compile(r"llama", re.I), ("llama3.1", "llama3.3")),
    (re.compile(r"gemma", re.I), ("gemma",)),
    (re.compile(r"openrail", re.I), ("bigcode-openrail-m",)),
    (re.compile(r"\bbsd\b", re.I), ("bsd-3-clause",)),
    (re.compile(r"\bcc[- ]by[- ]4", re.I), ("cc-by-4.0",)),
    (re.compile(r"\bmistral research\b|\bmnpl\b", re.I), ("mnpl",)),
    (re.compile(r"deepseek", re.I), ("deepseek",)),
    (re.compile(r"qwen", re.I), ("qwen",)),
)


def licences(value: object) -> tuple[list[str], list[str]]:
    """(licence ids recognised, phrases not recognised)."""
    ids: list[str] = []
    rest: list[str] = []
    for item in split_list(value):
        hit = next((lids for pattern, lids in LICENCE_NAMES if pattern.search(item)), None)
        if hit is None:
            rest.append(item)
        else:
            ids += [lid for lid in hit if lid not in ids]
    return ids, rest


_SLUG = re.compile(r"[^a-z0-9]+")  # what a slug drops


def slug(text: str, fallback: str, limit: int = 40) -> str:
    """A use-case name by Garrison's one name policy (`garrison.names.slug`: ASCII-folded, lowercase,
    dashes), or `fallback` when the text holds no letter or digit."""
    from garrison.names import slug as policy_slug

    return policy_slug(text, limit) if _SLUG.sub("", text.lower()) else fallback


def kind_of(text: str) -> tuple[str, bool] | None:
    """('code', fim) / ('batch', False) / ('chat', False) from a use-case phrase; None when no cue."""
    t = text.lower()
    if re.search(r"\b(complet|autocomplet|fim|fill[- ]in|infill|copilot|ide\b|tabby)", t):
        return "code", True
    if re.search(r"\b(code|coding|programming|developer assist|software)", t):
        return "code", bool(re.search(r"complet|fim|infill", t))
    if re.search(r"\b(batch|nightly|offline|bulk|summari[sz]|extraction|classif|pipeline|etl|index)", t):
        return "batch", False
    if re.search(r"\b(chat|assistant|q&a|qa\b|question|support|help ?desk|rag|search|agent|api)", t):
        return "chat", False
    return None


# ------------------------------------------------------------------ dates
_MONTHS = {
    name: number
    for number, name in enumerate(calendar.month_name)
    if name  # month_name[0] is ""
}


def deadline_date(text: str) -> date | None:
    """'2027-03-31', '2027-03', 'Q2 2027', 'end of March 2027', 'by June 2027' -> the last day it allows."""
    t = text.lower()
    m = re.search(r"(\d{4})-(\d{2})-(\d{2})", t)
    if m:
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None
    m = re.search(r"\bq([1-4])\s*(\d{4})", t) or re.search(r"(\d{4})\s*q([1-4])\b", t)
    if m:
        q, y = (
            (int(m.group(1)), int(m.group(2))) if t[m.start()] == "q" else (int(m.group(2)), int(m.group(1)))
        )
        month = q * 3
        return date(y, month, calendar.monthrange(y, month)[1])
    m = re.search(r"(\d{4})-(\d{2})\b", t)
    month_year = None
    if m and 1 <= int(m.group(2)) <= 12:
        month_year = (int(m.group(1)), int(m.group(2)))
    for name, num in _MONTHS.items():
        mm = re.search(rf"\b{name[:3].lower()}[a-z]*\.?\s+(\d{{4}})", t)
        if mm:
            month_year = (int(mm.group(1)), num)
            break
    if month_year:
        y, mo = month_year
        return date(y, mo, calendar.monthrange(y, mo)[1])
    return None
