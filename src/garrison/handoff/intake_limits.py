"""Hand-off constraints: budget, security posture and compliance, power price, owned hardware, licences,
deadline and site limits (power, rack space, cooling)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from garrison.errors import GarrisonError
from garrison.handoff import parse as p
from garrison.handoff.intake_record import Intake, as_text, first_entry, norm_key

MAX_COMPLIANCE = 32  # Security.compliance holds at most 32 regimes; the rest go to the notes
MAX_RESIDENCY = 200  # Security.data_residency's limit; the whole text goes to the notes


def read_budget(it: Intake, slots: Mapping[str, list[tuple[str, Any]]]) -> dict[str, float]:
    out: dict[str, float] = {}
    last_currency = [""]

    def take(key: str, value: Any, force_opex: bool) -> None:
        m = p.money(value)
        if m is None or m.amount <= 0:
            it.ignored(key, value, "no amount in it: budget NOT APPLIED")
            return
        field = "opex_usd_per_year" if (m.per_year or force_opex) else "capex_usd"
        if field in out:
            it.ignored(key, value, f"budget.{field} already given")
            return
        out[field] = m.amount
        currency = m.currency or last_currency[0] or "USD"
        last_currency[0] = currency
        if currency != "USD":
            it.guessed(
                key,
                value,
                f"budget.{field} = {m.amount:,.0f} (a {currency} amount taken as USD: "
                "no exchange rate offline)",
            )
        else:
            it.parsed(key, value, f"budget.{field} = {m.amount:,.0f} USD")

    for slot, opex in (("budget", False), ("opex", True)):
        for key, value in slots.get(slot, []):
            if isinstance(value, dict):
                for k, v in value.items():
                    nk = norm_key(k)
                    if nk in ("capex", "hardware", "capital", "upfront", "total", "amount", "envelope"):
                        take(f"{key}.{k}", v, False)
                    elif nk in ("opex", "annual", "yearly", "running", "operating", "per_year"):
                        take(f"{key}.{k}", v, True)
                    else:
                        it.ignored(f"{key}.{k}", v, "not a budget figure Garrison uses")
            elif isinstance(value, str):
                for clause in p.clauses(value):
                    take(key, clause, opex)
            else:
                take(key, value, opex)
    return out


_AIRGAP = re.compile(r"air[- ]?gap|offline|no internet|disconnected|isolated network|no egress", re.I)
_VLAN = re.compile(r"vlan|segment", re.I)
_ZT = re.compile(r"zero[- ]?trust|mtls|mutual tls", re.I)


def read_security(it: Intake, slots: Mapping[str, list[tuple[str, Any]]]) -> dict[str, Any]:
    sec: dict[str, Any] = {}
    for key, value in slots.get("security", []):
        if isinstance(value, bool):
            flag = norm_key(key.rsplit(".", 1)[-1])
            if "air" in flag or "gap" in flag:
                sec["air_gapped"] = value
                it.parsed(key, value, f"security.air_gapped = {value}")
            else:
                it.ignored(key, value, "a yes/no without a control named")
            continue
        items = [f"{k}: {v}" for k, v in value.items()] if isinstance(value, dict) else p.split_list(value)
        for item in items:
            hit = []
            if _AIRGAP.search(item) and not re.search(r"\bnot\b|\bno\b air", item, re.I):
                sec["air_gapped"] = True
                hit.append("security.air_gapped = true")
            if _VLAN.search(item):
                sec["vlan_segmented"] = True
                hit.append("security.vlan_segmented = true")
            if _ZT.search(item):
                sec["zero_trust_gateway"] = True
                hit.append("security.zero_trust_gateway = true")
            if hit:
                it.parsed(key, item, "; ".join(hit))
            else:
                it.ignored(
                    key,
                    item,
                    "no control Garrison renders named in it (TLS, API keys and denied egress are always on)",
                )
    known: list[str] = []
    for key, value in slots.get("compliance", []):
        regimes, verbatim = p.compliance(value)
        for r in regimes:
            if r not in known:
                known.append(r)
        for v in (as_text(x, limit=200) for x in verbatim):
            if v and v not in known:
                known.append(v)
        if regimes:
            it.parsed(key, value, "security.compliance += " + ", ".join(regimes))
        if verbatim:
            it.guessed(
                key,
                value,
                "security.compliance += "
                + ", ".join(repr(v) for v in verbatim)
                + " (no known regime named: kept as written)",
            )
    if known:
        if len(known) > MAX_COMPLIANCE:
            for extra in known[MAX_COMPLIANCE:]:
                it.notes.append(f"compliance (more than {MAX_COMPLIANCE} listed): {extra}")
            known = known[:MAX_COMPLIANCE]
        sec["compliance"] = known
    entry = first_entry(slots, "residency", it)
    if entry is not None:
        key, value = entry
        text = as_text(value)
        if len(text) > MAX_RESIDENCY:
            it.notes.append(f"{key}: {text}")
            text = as_text(text, limit=MAX_RESIDENCY - 40)
        if text:
            sec["data_residency"] = text
            it.parsed(key, value, f"security.data_residency = {text!r}")
    for key, value in slots.get("networks", []):
        import ipaddress

        ok, bad = [], []
        for n in p.split_list(value):
            try:
                ipaddress.ip_network(n, strict=False)
                ok.append(n)
            except ValueError:
                bad.append(n)
        if ok:
            sec["internal_networks"] = ok
            it.parsed(key, value, "security.internal_networks = " + ", ".join(ok))
        if bad:
            it.ignored(key, ", ".join(bad), "not networks in CIDR form")
    return sec


def read_power(it: Intake, slots: dict[str, list[tuple[str, Any]]]) -> dict[str, float]:
    prices = []
    for key, value in slots.get("power", []):
        if (
            isinstance(value, str)
            and re.search(r"\bk?w\b", value, re.I)
            and not re.search(r"kwh", value, re.I)
        ):
            slots.setdefault("site_power", []).insert(0, (key, value))  # "10 kW available": a site limit
        else:
            prices.append((key, value))
    if not prices:
        return {}
    for key, value in prices[1:]:
        it.ignored(key, value, f"a second value for the same thing as {prices[0][0]}")
    key, value = prices[0]
    n = p.number(value)
    if n is None or not 0 < n <= 5:
        it.ignored(key, value, "no price per kWh in it (0-5)")
        return {}
    if isinstance(value, str) and re.search(r"€|eur|£|gbp", value, re.I):
        it.guessed(key, value, f"power.usd_per_kwh = {n:g} (taken as USD)")
    else:
        it.parsed(key, value, f"power.usd_per_kwh = {n:g}")
    return {"usd_per_kwh": n}


def read_hardware(it: Intake, slots: Mapping[str, list[tuple[str, Any]]]) -> dict[str, Any]:
    owned: list[dict[str, Any]] = []
    hw: dict[str, Any] = {}
    for key, value in slots.get("hardware", []):
        items = [f"{v} x {k}" for k, v in value.items()] if isinstance(value, dict) else p.split_list(value)
        for item in items:
            if re.search(r"cpu[- ]only|no gpus?", item, re.I):
                hw["cpu_only"] = True
                it.parsed(key, item, "hardware.cpu_only = true")
                continue
            m = re.match(r"\s*(\d+)\s*(?:x|×|\*)?\s*(.+)$", item) or re.match(
                r"\s*(.+?)\s*(?:x|×|\*)\s*(\d+)\s*$", item
            )
            count, name = (1, item.strip())
            if m:
                a, b = m.group(1), m.group(2)
                count, name = (int(a), b) if a.isdigit() else (int(b), a)
            try:
                gpu = it.cat.gpu(name.strip())
            except GarrisonError:
                it.ignored(key, item, "no GPU in the catalogue by that name")
                continue
            owned.append({"name": gpu.id, "count": count})
            it.parsed(key, item, f"hardware.owned_gpus += {count} x {gpu.id}")
    if owned:
        hw["owned_gpus"] = owned
    return hw


def read_licences(it: Intake, slots: Mapping[str, list[tuple[str, Any]]]) -> list[str]:
    ids: list[str] = []
    for key, value in slots.get("licences", []):
        found, rest = p.licences(value)
        ids += [i for i in found if i not in ids]
        if found:
            it.parsed(key, value, "allowed licences " + ", ".join(found))
        if rest:
            it.ignored(key, ", ".join(rest), "no licence Garrison knows named in it")
    return ids


def read_deadline(it: Intake, slots: Mapping[str, list[tuple[str, Any]]]) -> str | None:
    entry = first_entry(slots, "deadline", it)
    if entry is None:
        return None
    key, value = entry
    text = as_text(value)
    due = p.deadline_date(text)
    if due is None:
        it.ignored(key, value, "no date in it: hardware lead times are not checked against it")
    else:
        it.parsed(
            key, value, f"site.deadline = {due.isoformat()} (hardware lead times are checked against it)"
        )
    return text


def read_site(it: Intake, slots: Mapping[str, list[tuple[str, Any]]], deadline: str | None) -> dict[str, Any]:
    """Deadline, power and rack space the site offers (requirements.site)."""
    site: dict[str, Any] = {}
    due = p.deadline_date(deadline) if deadline else None
    if due is not None:
        site["deadline"] = due.isoformat()
    readers: tuple[tuple[str, str, str, Callable[[Any], float | None]], ...] = (
        ("site_power", "power_kw", "kW", _kw),
        ("rack_space", "rack_units", "U", _units),
        ("cooling", "cooling_btu_h", "BTU/h", p.number),
    )
    for slot, field_name, unit, read in readers:
        entry = first_entry(slots, slot, it)
        if entry is None:
            continue
        key, value = entry
        n = read(value)
        if n is None or n <= 0:
            it.ignored(key, value, f"no {unit} figure in it")
            continue
        site[field_name] = round(n) if field_name == "rack_units" else n
        it.parsed(key, value, f"site.{field_name} = {site[field_name]:g}")
    return site


def _kw(value: Any) -> float | None:
    """'10 kW' -> 10, '12,000 W' -> 12, 8 -> 8 (a bare number is kW)."""
    if isinstance(value, str):
        m = re.search(r"(\d[\d,.]*)\s*(kw|w)\b", value, re.I)
        if m:
            n = float(m.group(1).replace(",", ""))
            return n if m.group(2).lower() == "kw" else n / 1000
    return p.number(value)


def _units(value: Any) -> float | None:
    """'8U', '8 rack units', 12 -> rack units."""
    if isinstance(value, str):
        value = re.sub(r"(?i)(\d)\s*u\b", r"\1", value)
    n = p.count(value)
    return None if n is None else float(n)
