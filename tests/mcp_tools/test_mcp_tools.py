"""`garrison mcp` driven by the official `mcp` client over stdio: every tool is called, designs travel by
id (`plan` returns design-N; the others take it), and errors come back as Garrison's one-line
`field: problem; fix` (never pydantic's text with a URL).

One server session runs the whole scenario (module fixture) so the server starts once; each test then
checks one tool's answer. `bench` runs against a real llama-server with a tiny model.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from garrison.cost import TCO
from garrison.design import Design
from garrison.testing import designs
from garrison.testing.servers import LlamaServer, find_llama_server
from garrison.testing.tiny_gguf import write_tiny_gguf

mcp = pytest.importorskip("mcp", reason="the optional `mcp` extra is not installed")
from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TOOLS = {
    "estimate",
    "plan",
    "tco",
    "render",
    "validate",
    "simulate",
    "bench",
    "handoff",
    "airgap_verify",
    "history",
}


def _tiny_design(home: Path) -> str:
    """A stored design whose deployment serves the llama-server's model "tiny"; returns its id."""
    from garrison.store import Store

    dep = designs.make_deployment(model_name="tiny")
    d = designs.make_design(designs.make_requirements([designs.chat_use_case(["qwen3-8b"])]), (dep,))
    old = os.environ.get("GARRISON_HOME")
    os.environ["GARRISON_HOME"] = str(home)
    try:
        return f"design-{Store().save_design(d)}"
    finally:
        if old is None:
            os.environ.pop("GARRISON_HOME")
        else:
            os.environ["GARRISON_HOME"] = old


def _pack(tmp: Path) -> Path:
    """A small air-gap pack of a local model folder (no images, no wheels)."""
    from garrison.airgap import pack

    model = tmp / "src" / "models" / "tiny"
    model.mkdir(parents=True)
    (model / "config.json").write_text('{"architectures": ["LlamaForCausalLM"], "hidden_size": 64}')
    (model / "tokenizer.json").write_text('{"model": {"type": "BPE", "vocab": {"a": 0}}}')
    (model / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    req = tmp / "src" / "req.yaml"
    req.write_text(
        yaml.safe_dump(
            {
                "organisation": {"name": "acme", "team_size": 5},
                "use_cases": [{"name": "chat", "kind": "chat", "models": ["./models/tiny"]}],
            }
        )
    )
    out = tmp / "pack"
    pack(req, out, wheelhouse=False)
    return out


async def _scenario(
    params: StdioServerParameters, work: Path, bench_url: str | None, tiny: str
) -> dict[str, Any]:
    r: dict[str, Any] = {}
    async with Client(params, read_timeout_seconds=300) as c:
        r["tools"] = await c.list_tools()
        r["estimate"] = await c.call_tool(
            "estimate", {"model": "qwen3-8b", "gpu": "h100-sxm", "max_model_len": 8192}
        )
        r["plan"] = await c.call_tool(
            "plan", {"requirements_path": str(ROOT / "examples" / "code-team-10.yaml")}
        )
        did = r["plan"].structured_content["design_id"]
        r["design_id"] = did
        r["tco"] = await c.call_tool("tco", {"design": did, "years": 2})
        r["render"] = await c.call_tool("render", {"design": did, "out_dir": str(work / "bundle")})
        r["validate"] = await c.call_tool("validate", {"bundle_dir": str(work / "bundle")})
        r["simulate"] = await c.call_tool("simulate", {"design": did, "num_requests": 200})
        r["handoff"] = await c.call_tool("handoff", {"design": did, "to": "program-manager"})
        r["history_list"] = await c.call_tool("history", {})
        r["history_show"] = await c.call_tool("history", {"item": did})
        r["airgap_verify"] = await c.call_tool("airgap_verify", {"pack_dir": str(work / "pack")})
        if bench_url:
            r["bench"] = await c.call_tool(
                "bench",
                {
                    "url": bench_url,
                    "design": tiny,
                    "concurrency": [1, 2],
                    "num_requests": 4,
                    "input_len": 16,
                    "output_len": 8,
                },
            )
        # errors: a wrong type, a missing argument, an unknown design id, a Garrison range check
        r["err_type"] = await c.call_tool("tco", {"design": did, "years": "three"})
        r["err_missing"] = await c.call_tool("render", {"design": did})
        r["err_ref"] = await c.call_tool("tco", {"design": "design-999"})
        r["err_range"] = await c.call_tool("tco", {"design": did, "years": 0})
    return r


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("mcp")
    home = work / "home"
    home.mkdir()
    _pack(work)
    tiny = _tiny_design(home)
    binary = find_llama_server()
    server = None
    if binary is not None:
        model = write_tiny_gguf(work / "tiny.gguf")
        server = LlamaServer(binary, model, parallel=2, log_path=work / "llama.log").start()
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "garrison", "mcp"],
        cwd=str(ROOT),
        env={"PYTHONPATH": str(ROOT / "src"), "GARRISON_HOME": str(home), "PATH": os.environ["PATH"]},
    )
    try:
        yield asyncio.run(_scenario(params, work, server.base_url if server else None, tiny)) | {"work": work}
    finally:
        if server is not None:
            server.stop()


def _ok(res: Any) -> dict[str, Any]:
    assert not res.is_error, res.content[0].text if res.content else res
    out: dict[str, Any] = res.structured_content
    return out


def test_every_tool_is_listed_with_a_typed_schema(session: dict[str, Any]) -> None:
    by_name = {t.name: t for t in session["tools"].tools}
    assert set(by_name) == TOOLS
    for t in by_name.values():
        assert t.description and t.output_schema, t.name
    for name in ("tco", "render", "simulate", "handoff", "bench"):
        prop = by_name[name].input_schema["properties"]["design"]
        assert prop.get("type") == "string", f"{name} must take the design by reference, not inline"
        assert len(str(by_name[name].input_schema)) < 6000, f"{name}'s input schema is too big"


def test_estimate(session: dict[str, Any]) -> None:
    e = _ok(session["estimate"])
    assert e["fits"] and e["model"] == "qwen3-8b"


def test_plan_returns_an_id_not_the_design(session: dict[str, Any]) -> None:
    p = _ok(session["plan"])
    assert p["design_id"].startswith("design-")
    assert p["decision"] and p["deployments"] and p["design"] is None
    assert p["capex_usd"]["low"] > 0


def test_tco_by_id(session: dict[str, Any]) -> None:
    t = TCO.model_validate(_ok(session["tco"]))
    assert t.years == 2 and t.cloud


def test_render_and_validate_by_id(session: dict[str, Any]) -> None:
    rendered = _ok(session["render"])
    assert "report.html" in rendered["files"] and "design.json" in rendered["files"]
    on_disk = Design.model_validate_json((session["work"] / "bundle" / "design.json").read_text())
    stored = Design.model_validate(_ok(session["history_show"])["design"])
    assert on_disk == stored  # the id named the design plan made
    v = _ok(session["validate"])
    assert v["checks"], "the validators reported nothing"


def test_simulate_by_id(session: dict[str, Any]) -> None:
    s = _ok(session["simulate"])
    assert s["steps"] and s["steps"][0]["completed"] > 0
    assert s["replicas"] >= 1 and s["use_case"]


def test_handoff_by_id(session: dict[str, Any]) -> None:
    h = _ok(session["handoff"])["handoffs"]["program-manager"]["handoff"]
    assert h["target_agent"] == "@Program-Manager" and h["context"]["what_to_buy"]


def test_history_lists_and_shows(session: dict[str, Any]) -> None:
    items = _ok(session["history_list"])["items"]
    assert session["design_id"] in {i["id"] for i in items}


def test_airgap_verify(session: dict[str, Any]) -> None:
    v = _ok(session["airgap_verify"])
    assert v["ok"] and v["files"] > 0 and not v["altered"]


def test_bench_against_the_callers_url(session: dict[str, Any]) -> None:
    if "bench" not in session:
        pytest.skip("llama-server not built (bash scripts/test.sh builds it once)")
    b = _ok(session["bench"])
    assert b["run_id"].startswith("run-")
    steps = b["result"]["steps"]
    assert [s["concurrency"] for s in steps] == [1, 2] and all(s["requests"] > 0 for s in steps)
    assert b["result"]["comparison"] is not None  # measured vs the design's prediction


@pytest.mark.parametrize(
    ("key", "starts"),
    [
        ("err_type", "years: Input should be a valid integer"),
        ("err_missing", "out_dir: required but missing"),
        ("err_ref", "design: no design 999"),
        ("err_range", "years: 0 is outside 1 month to 10 years"),
    ],
)
def test_errors_are_one_line_with_the_field(session: dict[str, Any], key: str, starts: str) -> None:
    res = session[key]
    assert res.is_error
    text = res.content[0].text
    assert text.startswith(starts), text
    assert "\n" not in text and "pydantic" not in text and "http" not in text, text
