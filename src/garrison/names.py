"""One policy for the names and text that reach rendered files, and one escaping rule per format.

Text from requirements, hand-offs (`source_agent` comes from another agent) and design.json files
must never become configuration. Three kinds of string exist, each checked where it comes in:

- **Slugs** (`slug()`): the organisation name and use-case names become DNS-1123 labels for every
  config identity (compose project, k8s namespace and objects, Prometheus jobs, nginx upstreams).
- **Tokens** (`TOKEN`): identifiers that configs carry verbatim: model ids and served names,
  engines, images, devices, quantisation formats, checkpoint repos. Letters, digits and `._:/@+-`,
  starting with a letter or digit: no whitespace, quote, `$`, `;`, `#`, brace or backslash, so
  none of nginx, YAML, PromQL, nftables/iptables, shell or compose interpolation sees anything
  but a plain word. Model ids and paths (`PATH`) may also hold spaces and `~` (no `:`), and are
  always quoted where they appear.
- **Free text** (organisation name as written, compliance notes, reasons, assumptions): one line of
  printable characters where a single line is expected; it is shown in the README and report only.

Defence in depth, for the rare place a config must quote a string: `yaml_str` (a JSON string is a
valid YAML double-quoted scalar), `sh_quote` (POSIX single quotes), `promql_label`, `nginx_str`
and `comment` (one line of safe characters for `#` comments in nginx, YAML, nft and iptables).
The bundle's Jinja environment registers these as filters (`q`, `shq`, `promql`, `ngx`, `comment`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator

from pydantic import BaseModel

from garrison.errors import InputError

TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,254}$")
PATH = re.compile(r"^[A-Za-z0-9._/~][A-Za-z0-9._/@+~ -]{0,4095}$")
DURATION = re.compile(r"^[0-9]{1,6}[smhdw]$")
SLUG = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def slug(text: str, max_len: int = 40) -> str:
    """A DNS-1123 label from free text: lower case, dashes, at most `max_len` characters."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    s = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")
    return (s or "garrison")[:max_len].rstrip("-") or "garrison"


def served_name(model_key: str) -> str:
    """The name clients pass as `model` for a catalogue id or a local path: a lower-case token."""
    base = model_key.rstrip("/").rsplit("/", 1)[-1].removesuffix(".gguf").lower()
    s = re.sub(r"[^a-z0-9._-]+", "-", base).strip("-.")
    return s[:128] or "model"


def is_line(text: str) -> bool:
    """One line of printable text: no control characters, line or paragraph separators."""
    return not any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn") for ch in text)


def single_line(value: str) -> str:
    """Pydantic validator: `value` must be one line of printable text."""
    if not is_line(value):
        raise ValueError("must be one line of printable text (no line breaks or control characters)")
    return value


def token(value: str) -> str:
    """Pydantic validator: `value` must be a TOKEN (see the module docstring)."""
    if not TOKEN.match(value):
        raise ValueError(
            f"{value[:40]!r} is not an identifier: use letters, digits and . _ : / @ + - "
            "(no spaces, quotes or $ ; # { })"
        )
    return value


# -- escaping, one rule per format -----------------------------------------------------------------


def yaml_str(value: object) -> str:
    """A YAML double-quoted scalar (JSON string syntax, which YAML 1.2 reads as is)."""
    return json.dumps(value, ensure_ascii=True)


def sh_quote(value: object) -> str:
    """A POSIX shell word in single quotes: nothing inside is expanded."""
    return "'" + str(value).replace("'", "'\"'\"'") + "'"


def promql_label(value: object) -> str:
    """A PromQL label value in double quotes (Go string escapes)."""
    return json.dumps(str(value), ensure_ascii=True)


def nginx_str(value: object) -> str:
    """An nginx string in double quotes; `$` cannot be escaped in nginx, so only tokens are allowed."""
    text = str(value)
    if not TOKEN.match(text):
        raise InputError("render", f"{text[:40]!r} cannot be quoted for nginx", "use an identifier")
    return f'"{text}"'


def comment(value: object, max_len: int = 80) -> str:
    """Text for a `#` comment in nginx, YAML, nft or iptables: letters, digits, space and ._:/@+-."""
    return re.sub(r"[^A-Za-z0-9 ._:/@+-]+", "-", str(value))[:max_len]


# -- the design check ------------------------------------------------------------------------------

# "Model.field" -> the rule its value (or each item of it) must satisfy. These are the strings that
# reach configuration files (tests/security/test_security_names.py finds them by rendering markers);
# every other string is free text: one line (unless in MULTI_LINE), shown in docs only.
TOKEN_FIELDS = frozenset(
    {
        "Deployment.model_name",
        "Deployment.engine",
        "Deployment.engine_image",
        "Deployment.quant",
        "Deployment.kv_dtype",
        "Deployment.device",
        "Deployment.licence",
        "Checkpoint.repo",
        "Checkpoint.revision",
        "Checkpoint.format",
        "Checkpoint.file",
    }
)
PATH_FIELDS = frozenset({"Deployment.model_id", "Deployment.model_path"})
SLUG_FIELDS = frozenset({"Deployment.use_case", "Deployment.name", "UseCase.name"})
DURATION_FIELDS = frozenset({"ScalingTriggers.sustained_for"})
MULTI_LINE = frozenset({"Requirements.compliance_notes", "Handoff.request"})
# Names the bundle gives its own services and objects: a use case may not take one (a use case called
# "gateway" would get the gateway's pod labels, and with them its network access)
RESERVED = frozenset(
    {"gateway", "gateway-exporter", "open-webui", "prometheus", "grafana", "dcgm-exporter", "node-exporter"}
)
MAY_BE_EMPTY = frozenset({"Deployment.licence", "Deployment.engine_image", "Deployment.name"})


def _strings(model: BaseModel, path: str) -> Iterator[tuple[str, str, str]]:
    """(dotted path, "Model.field", text) for every string in `model`, nested models included."""
    for name, value in model:
        where = f"{path}.{name}" if path else name
        yield from _string_values(value, where, f"{type(model).__name__}.{name}")


def _string_values(value: object, where: str, key: str) -> Iterator[tuple[str, str, str]]:
    if isinstance(value, str):
        yield where, key, value
    elif isinstance(value, BaseModel):
        yield from _strings(value, where)
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            yield from _string_values(item, f"{where}.{i}", key)
    elif isinstance(value, dict):
        for k, item in value.items():
            yield from _string_values(str(k), f"{where}.{k}", key)
            yield from _string_values(item, f"{where}.{k}", key)


def _rule(key: str) -> tuple[str, re.Pattern[str] | None]:
    if key in TOKEN_FIELDS:
        return "an identifier (letters, digits and . _ : / @ + -)", TOKEN
    if key in PATH_FIELDS:
        return "a path of letters, digits, spaces and . _ / @ + ~ -", PATH
    if key in SLUG_FIELDS:
        return "lower-case letters, digits and -", SLUG
    if key in DURATION_FIELDS:
        return "a duration such as 10m", DURATION
    return "", None


def check_names(model: BaseModel, source: str = "design.json") -> None:
    """Every string of `model` (a Design or Requirements) obeys its rule; one InputError for the first."""
    for where, key, text in _strings(model, ""):
        field = f"{source}: {where}" if source else where
        what, pattern = _rule(key)
        if pattern is not None:
            if not (text == "" and key in MAY_BE_EMPTY) and not pattern.match(text):
                raise InputError(field, f"{text[:40]!r} is not {what}", "re-plan the requirements")
            if key in SLUG_FIELDS and text in RESERVED:
                raise InputError(
                    field, f"{text!r} is the name of one of the bundle's own services", "choose another name"
                )
        elif key not in MULTI_LINE and not is_line(text):
            raise InputError(
                field, "must be one line of printable text (no line breaks or control characters)", "fix it"
            )
