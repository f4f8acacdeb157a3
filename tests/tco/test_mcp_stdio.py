"""`garrison mcp` driven by the real `mcp` client over stdio: tools listed with schemas, `plan` on an
example returns a Design, `tco` on a design returns the TCO, bad input comes back as a tool error."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from garrison.cost import TCO
from garrison.design import Design

from .conftest import make_design

mcp = pytest.importorskip("mcp", reason="the optional `mcp` extra is not installed")
from mcp import Client  # noqa: E402
from mcp.client.stdio import StdioServerParameters  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def _with_client(fn: Callable[[Any], Awaitable[T]]) -> T:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "garrison", "mcp"],
        cwd=str(ROOT),
        env={"PYTHONPATH": str(ROOT / "src"), "GARRISON_HOME": os.environ["GARRISON_HOME"]},
    )

    async def main() -> T:
        async with Client(params, read_timeout_seconds=120) as client:
            return await fn(client)

    return asyncio.run(main())


def test_tools_listed_with_typed_schemas():
    tools = _with_client(lambda c: c.list_tools())
    by_name = {t.name: t for t in tools.tools}
    assert set(by_name) == {"estimate", "plan", "tco", "render", "validate"}
    for t in by_name.values():
        assert t.description and t.input_schema.get("properties") and t.output_schema
    assert "design" in by_name["tco"].input_schema["properties"]
    assert "breakeven_month" in str(by_name["tco"].output_schema)


def test_tco_on_a_design_and_a_tool_error():
    design = make_design().model_dump(mode="json")

    async def run(c: Any) -> tuple[Any, Any]:
        ok = await c.call_tool("tco", {"design": design, "years": 2})
        bad = await c.call_tool("tco", {"design": design, "years": 0})
        return ok, bad

    ok, bad = _with_client(run)
    assert not ok.is_error, ok.content
    t = TCO.model_validate(ok.structured_content)
    assert t.years == 2 and t.capex_usd.low == 54_000
    assert bad.is_error and "years" in bad.content[0].text


def test_plan_on_an_example_returns_a_design(tmp_path):
    example = ROOT / "examples" / "chat-40-qwen3-next.yaml"

    async def run(c: Any) -> tuple[Any, Any, Any]:
        planned = await c.call_tool("plan", {"requirements_path": str(example)})
        if planned.is_error:
            return planned, None, None
        out = tmp_path / "bundle"
        rendered = await c.call_tool("render", {"design": planned.structured_content, "out_dir": str(out)})
        validated = await c.call_tool("validate", {"bundle_dir": str(out)})
        return planned, rendered, validated

    planned, rendered, validated = _with_client(run)
    assert not planned.is_error, planned.content
    d = Design.model_validate(planned.structured_content)
    assert d.deployments and d.servers
    assert not rendered.is_error, rendered.content
    assert "report.html" in rendered.structured_content["files"]
    assert (tmp_path / "bundle" / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert not validated.is_error, validated.content
    assert validated.structured_content["checks"], "the validators reported nothing"
