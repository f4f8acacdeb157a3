"""Hostile strings in every string field of a design and of a hand-off: no injected directive in any
rendered format.

Each string field of each hand-built design gets payloads aimed at every format the bundle writes
(nginx, YAML, PromQL, nftables/iptables, shell, HTML, Jinja). A field that configuration carries
verbatim (a token, path, slug or duration) must refuse every payload at intake. A free-text field
must refuse line breaks and control characters; one-line payloads are accepted, and then every
configuration file must parse to exactly what a render with harmless text gives (YAML and JSON
compared as parsed data, the other formats line by line with `#` comments removed): the text can
only reach the README, the runbooks and the report (where HTML is escaped), and configs carry only
its slug (a DNS label) as the project, namespace and domain name.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bundle.designs import DESIGNS
from garrison.errors import InputError
from garrison.names import MULTI_LINE, served_name, slug
from garrison.render import placement, render_bundle
from garrison.render.design_file import parse_design
from garrison.report import report_files
from security.cli_runner import run_cli

ONE_LINE = [
    'x"; } server { listen 6666; } include /etc/passwd; #',  # nginx
    "$host$request_uri ${HOME} \\",  # nginx/compose variables, a trailing backslash
    'x", "injected": "1',  # YAML/JSON flow
    "key: value, - item, &anchor *alias !!python/object:os.system",  # YAML indicators
    '"} or vector(1) or {x="',  # PromQL label break-out
    '" accept comment " -j ACCEPT',  # nft / iptables comment break-out
    "$(touch pwned) `touch pwned`; touch pwned '",  # shell
    "<script>alert(1)</script> <img src=x onerror=alert(1)>",  # HTML
    "{{ 7*7 }} {% raw %}",  # Jinja
]
MULTI_LINE_PAYLOADS = [
    'arch"\ninclude:\n  - /srv/evil.yaml\n#',  # the issue's hand-off payload
    "a\r\nb",
    "a\u2028b",  # YAML 1.1 line separator
    "a\u0085b",  # NEL
    "a\x00b",
    "a\u202eb",  # right-to-left override
]
BENIGN = "benign text"
DOC_SUFFIXES = (".md", ".html")
Path_ = tuple[Any, ...]


def _string_paths(node: Any, path: Path_ = ()) -> Iterator[Path_]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _string_paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _string_paths(v, (*path, i))
    elif isinstance(node, str):
        yield path


def _set(raw: Any, path: Path_, value: str) -> Any:
    raw = copy.deepcopy(raw)
    node = raw
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return raw


def _raw(name: str) -> Any:
    return json.loads(DESIGNS[name]().model_dump_json())


def _free_text(raw: Any) -> list[Path_]:
    """The string fields a design accepts any one-line text in (found by trying)."""
    key = json.dumps(raw, sort_keys=True)
    if key not in _FREE:
        _FREE[key] = _find_free_text(raw)
    return _FREE[key]


_FREE: dict[str, list[Path_]] = {}


def _find_free_text(raw: Any) -> list[Path_]:
    out = []
    for path in _string_paths(raw):
        if path == ("schema_version",):
            continue
        try:
            parse_design(json.dumps(_set(raw, path, BENIGN + " " + ONE_LINE[0])))
        except InputError:
            continue
        out.append(path)
    return out


def _skeleton(path: str, text: str) -> Any:
    """What a config file means: parsed YAML/JSON, or its lines without `#` comments (Helm templates
    under helm/*/templates/ are Go templates, not YAML: compared as lines)."""
    if path.endswith((".yaml", ".yml")) and not path.startswith("helm/"):
        return list(yaml.safe_load_all(text))
    if path.endswith(".json"):
        return json.loads(text)
    return [re.sub(r"(^|\s)#.*$", "", line).rstrip() for line in text.splitlines()]


@pytest.mark.parametrize("design", sorted(DESIGNS))
def test_config_fields_refuse_every_payload(design: str) -> None:
    raw = _raw(design)
    free = set(_free_text(raw))
    config_bound = [p for p in _string_paths(raw) if p not in free and p != ("schema_version",)]
    assert any(p[-1] == "model_name" for p in config_bound)  # the check can fail: these exist
    for path in config_bound:
        for payload in ONE_LINE + MULTI_LINE_PAYLOADS:
            with pytest.raises(InputError) as e:
                parse_design(json.dumps(_set(raw, path, payload)))
            assert "\n" not in e.value.one_line()


@pytest.mark.parametrize("design", sorted(DESIGNS))
def test_free_text_refuses_line_breaks(design: str) -> None:
    raw = _raw(design)
    multi_ok = (
        {("requirements", "compliance_notes")} if "Requirements.compliance_notes" in MULTI_LINE else set()
    )
    for path in _free_text(raw):
        if path in multi_ok:
            continue
        for payload in MULTI_LINE_PAYLOADS:
            with pytest.raises(InputError):
                parse_design(json.dumps(_set(raw, path, payload)))


def _with_free_text(raw: Any, text: str, notes: str) -> Any:
    for path in _free_text(raw):
        raw = _set(raw, path, text)
    return _set(raw, ("requirements", "compliance_notes"), notes)


def _env_name(label: str) -> str:
    return label.upper().replace("-", "_")


@pytest.mark.parametrize("design", sorted(DESIGNS))
@pytest.mark.parametrize("payload", ONE_LINE)
def test_free_text_never_changes_a_config_file(design: str, payload: str) -> None:
    raw = _raw(design)
    want = render_bundle(parse_design(json.dumps(_with_free_text(raw, BENIGN, BENIGN))))
    notes = payload + "\n" + MULTI_LINE_PAYLOADS[0]  # compliance notes may span lines
    got = render_bundle(parse_design(json.dumps(_with_free_text(raw, payload, notes))))
    # a server's name becomes a DNS label (render/placement.py): its compose folder, its host name
    server_label, benign_label = placement._label(payload), placement._label(BENIGN)
    got = {path.replace(server_label, benign_label): text for path, text in got.items()}
    assert sorted(got) == sorted(want)
    for path in sorted(got):
        if path.endswith(DOC_SUFFIXES) or path == "design.json":
            continue
        # the organisation's slug and the servers' labels are the traces free text leaves in
        # configs (DNS labels)
        mine = got[path].replace(server_label, benign_label)  # first: the slug may be its prefix
        mine = mine.replace(_env_name(server_label), _env_name(benign_label))  # GARRISON_ADDR_<SERVER>
        mine = mine.replace(slug(payload), slug(BENIGN))
        assert _skeleton(path, mine) == _skeleton(path, want[path]), path


@pytest.mark.parametrize("design", sorted(DESIGNS))
def test_report_escapes_free_text(design: str) -> None:
    payload = ONE_LINE[7]
    files = report_files(parse_design(json.dumps(_with_free_text(_raw(design), payload, payload))))
    html = "".join(files.values())
    assert "&lt;script&gt;" in html or "\\u003cscript" in html  # the text is there, escaped
    assert "<script>alert(1)" not in html and "<img src=x" not in html


def test_served_names_and_slugs_are_tokens() -> None:
    assert served_name("/srv/models/My Model (v2);}.gguf") == "my-model-v2"
    assert served_name("Qwen/Qwen3-8B") == "qwen3-8b"
    assert slug('arch"\ninclude:\n  - /srv/evil.yaml\n#') == "arch-include-srv-evil-yaml"
    assert slug("Café Zürich") == "cafe-zurich"


def test_the_issue_handoff_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "handoff.yaml"
    f.write_text(
        yaml.safe_dump(
            {
                "handoff": {
                    "source_agent": 'arch"\ninclude:\n  - /srv/evil.yaml\n#',
                    "context": {"selected_models": ["qwen3-8b"], "concurrent_users": 4},
                }
            }
        )
    )
    o = run_cli("plan", str(f), "--quiet", "--no-save", "--out", str(tmp_path / "out"))
    assert o.code == 2 and "handoff.source_agent" in o.stderr, o.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["gateway", "prometheus", "open-webui"])
def test_a_use_case_cannot_take_a_service_name(tmp_path: Path, name: str) -> None:
    f = tmp_path / "req.yaml"
    f.write_text(
        f"organisation: {{name: a, team_size: 5}}\nuse_cases:\n  - {{name: {name}, kind: chat, models: [qwen3-8b]}}\n"
    )
    o = run_cli("plan", str(f), "--quiet", "--no-save")
    assert o.code == 2 and "bundle's own services" in o.stderr, o.stderr
