"""Name resolution the way people type: "h100", "NVIDIA H100 80GB HBM3", "rtx-4090", "4090", "Qwen/Qwen3-32B".

Rules, in order (the first that yields exactly one row wins):
1. exact key: the query's normalised form equals the normalised id, name, an alias, or (models) the HF id
   or its part after the slash;
2. substring: the normalised query is contained in the keys of exactly one row ("4090" -> rtx-4090),
   without cutting a number ("b20" does not match "b200"). For devices (GPUs, CPUs) a contained match
   must also cover whole name tokens and may only leave form-factor, memory-size or core-count tokens
   after it: "m4" is not the "m4 max" and "3090" is not the "3090 ti" - a name never resolves to a
   different device; "apple m4" matches every M4 memory size and is then ambiguous;
3. memory-qualified: a query carrying a size ("h100 94gb") is resolved without the size, and the
   candidates are filtered by their marketed memory.
If a step yields several rows the name is ambiguous; if none, unknown. Both raise `InputError` listing
the closest choices (difflib). Normalising: lowercase; drop "(R)"/"(TM)", vendor and brand words that
people add or omit (nvidia, geforce, intel, ...), memory-type words (hbm3, gddr6x, ...); sizes become
"<n>gb"; spaces, dashes, underscores, slashes and dots are removed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from garrison.errors import InputError

RowT = TypeVar("RowT")

# Words people add or omit; dropped from both the query and the keys.
NOISE_WORDS = frozenset(
    {
        "nvidia",
        "amd",
        "intel",
        "apple",
        "geforce",
        "instinct",
        "tesla",
        "radeon",
        "platinum",
        "gold",
        "silver",
        "processor",
        "cpu",
        "gpu",
        "graphics",
        "card",
        "the",
    }
)
MEMORY_TYPES = frozenset(
    {"hbm", "hbm2", "hbm2e", "hbm3", "hbm3e", "gddr6", "gddr6x", "gddr7", "lpddr5", "lpddr5x"}
)
_SIZE = re.compile(r"^(\d+)(?:g|gb|gib)$")
_SPLIT = re.compile(r"[\s_\-/,.:]+")
_TRADEMARK = re.compile(r"\((?:r|tm)\)")
# what `lscpu` / /proc/cpuinfo add to a model name: "64-Core Processor", "CPU @ 3.00GHz"
_CPU_DECOR = re.compile(r"\b\d+-core processor\b|@\s*[\d.]+\s*ghz")


def _tokens(text: str) -> list[str]:
    cleaned = _CPU_DECOR.sub(" ", _TRADEMARK.sub(" ", text.lower())).replace("(", " ").replace(")", " ")
    return [t for t in _SPLIT.split(cleaned) if t and t not in NOISE_WORDS and t not in MEMORY_TYPES]


def normalise(text: str) -> str:
    """The comparison key of a name: lowercase, noise words dropped, separators removed, sizes as `<n>gb`."""
    return "".join(_SIZE.sub(r"\1gb", t) for t in _tokens(text))


def split_memory(text: str) -> tuple[str, float | None]:
    """Key of `text` without its memory size token, and that size in GB (None when absent)."""
    size: float | None = None
    kept: list[str] = []
    for token in _tokens(text):
        match = _SIZE.match(token)
        if match and size is None:
            size = float(match.group(1))
        else:
            kept.append(token)
    return "".join(kept), size


# Tokens a device name may carry after the part a user typed without naming another device: form
# factors, memory sizes (`<n>gb`, and a bare number), core counts and architecture names that only
# repeat what the rest of the name says. Anything else ("max", "ti", "super", "x3d", "pro") is a
# different product.
_SAME_DEVICE_SUFFIXES = frozenset(
    {"sxm", "sxm2", "sxm4", "sxm5", "pcie", "nvl", "oam", "core", "cores", "gb", "blackwell", "ada"}
)


def name_tokens(text: str) -> list[str]:
    """Normalised tokens of a name, with a number followed by a size unit merged into `<n>gb`."""
    out: list[str] = []
    for token in _tokens(text):
        if token in ("g", "gb", "gib") and out and out[-1].isdigit():
            out[-1] += "gb"
        else:
            out.append(_SIZE.sub(r"\1gb", token))
    return out


def _same_device_suffix(tokens: list[str]) -> bool:
    return all(t in _SAME_DEVICE_SUFFIXES or t.isdigit() or _SIZE.match(t) for t in tokens)


def _token_match(name: list[str], key: str) -> bool:
    """`key` equals a run of whole tokens of `name`, followed only by same-device tokens."""
    for i in range(len(name)):
        joined = ""
        for j in range(i, len(name)):
            joined += name[j]
            if len(joined) > len(key) or not key.startswith(joined):
                break
            if joined == key and _same_device_suffix(name[j + 1 :]):
                return True
    return False


class NameIndex:
    """Maps normalised names of one table's rows to row ids and resolves typed names.

    `devices`: the stricter contained-match rule for hardware (module docstring, rule 2).
    """

    def __init__(
        self, kind: str, field: str, names: Mapping[str, Iterable[str]], *, devices: bool = False
    ) -> None:
        self.kind = kind
        self.field = field
        self.devices = devices
        self.keys: dict[str, set[str]] = {}
        self.row_keys: dict[str, set[str]] = {}
        self.row_tokens: dict[str, list[list[str]]] = {}
        for row_id, row_names in names.items():
            all_names = (row_id, *row_names)
            # the id with its separators dropped but every word kept: "radeonprow7900" must find
            # radeon-pro-w7900 although "radeon" alone is a noise word
            keys = {normalise(n) for n in all_names} | {"".join(_SPLIT.split(row_id.lower()))}
            keys -= {""}
            self.row_keys[row_id] = keys
            self.row_tokens[row_id] = [name_tokens(n) for n in all_names]
            for key in keys:
                self.keys.setdefault(key, set()).add(row_id)

    def collisions(self) -> dict[str, set[str]]:
        """Keys shared by more than one row (a data error: tests require none)."""
        return {key: ids for key, ids in self.keys.items() if len(ids) > 1}

    def _substring(self, key: str) -> set[str]:
        if self.devices:
            return {
                row_id
                for row_id, names in self.row_tokens.items()
                if any(_token_match(tokens, key) for tokens in names)
            }
        return {row_id for row_id, keys in self.row_keys.items() if any(_contains(k, key) for k in keys)}

    def resolve(self, name: str, memory_of: Callable[[str], float | None] | None = None) -> str:
        """The id of the row `name` denotes; raises InputError when unknown or ambiguous."""
        key = normalise(name)
        if not key:
            raise InputError(self.field, f"empty {self.kind} name", f"give a {self.kind} id")
        exact = self.keys.get(key, set())
        if len(exact) == 1:
            return next(iter(exact))
        hits = exact or self._substring(key)
        if len(hits) == 1:
            return next(iter(hits))
        if not hits and memory_of is not None:
            base, size = split_memory(name)
            if base and size is not None:
                base_hits = self.keys.get(base, set()) | self._substring(base)
                hits = {i for i in base_hits if _same_memory(memory_of(i), size)}
                if len(hits) == 1:
                    return next(iter(hits))
        if len(hits) > 1:
            ordered = sorted(hits)
            shown = ", ".join(ordered[:8]) + (f" and {len(ordered) - 8} more" if len(ordered) > 8 else "")
            raise InputError(
                self.field,
                f"{self.kind} '{name}' is ambiguous: it matches {shown}",
                f"give the full id, e.g. '{ordered[0]}'",
            )
        raise InputError(self.field, f"unknown {self.kind} '{name}'", self._suggest(key))

    def _suggest(self, key: str) -> str:
        close_keys = difflib.get_close_matches(key, list(self.keys), n=8, cutoff=0.5)
        ids: list[str] = []
        for k in close_keys:
            for row_id in sorted(self.keys[k]):
                if row_id not in ids:
                    ids.append(row_id)
        if not ids:
            return f"see docs/catalogue.md for the {self.kind} ids, or define the device/model inline"
        return "closest: " + ", ".join(ids[:5])


def _same_memory(row_gb: float | None, asked: float) -> bool:
    # people write the marketed decimal size (80) or the GiB size (74.5): accept either, within 3 %
    if row_gb is None:
        return False
    return any(abs(asked - v) <= 0.03 * v for v in (row_gb, row_gb * 1e9 / 2**30))


def _contains(key: str, part: str) -> bool:
    """`part` occurs in `key` without cutting a number: "4090" is in "rtx4090", "b20" is not in "b200"."""
    start = key.find(part)
    while start >= 0:
        end = start + len(part)
        cuts_left = start > 0 and part[0].isdigit() and key[start - 1].isdigit()
        cuts_right = end < len(key) and part[-1].isdigit() and key[end].isdigit()
        if not (cuts_left or cuts_right):
            return True
        start = key.find(part, start + 1)
    return False
