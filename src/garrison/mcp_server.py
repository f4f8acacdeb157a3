"""`garrison mcp`: the library as MCP tools over stdio (estimate, plan, tco, render, validate).

Needs the optional extra `mcp` (`pip install garrison[mcp]`). Each tool is a thin call into the same
library functions the CLI uses; Garrison's errors come back as tool errors with the field and the fix.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from garrison import __version__
from garrison.cost import TCO, CostParameters
from garrison.design import Design, Estimate
from garrison.errors import GarrisonError, InputError

T = TypeVar("T")


class RenderResult(BaseModel):
    """What `render` wrote."""

    model_config = ConfigDict(extra="forbid")

    out_dir: str
    files: list[str]
    renderer: str  # which library function produced the files


class ValidateResult(BaseModel):
    """What `validate` found: ok, and one line per check."""

    model_config = ConfigDict(extra="forbid")

    ok: bool
    checks: list[str]


def _call(fn: Callable[[], T]) -> T:
    """Run a library call; Garrison errors become MCP tool errors carrying the one-line message."""
    from mcp.server.mcpserver.exceptions import ToolError

    try:
        return fn()
    except GarrisonError as e:
        raise ToolError(e.one_line()) from None


def tool_estimate(
    model: str,
    gpu: str | None = None,
    cpu: str | None = None,
    gpus: int = 1,
    engine: Literal["vllm", "sglang", "llama.cpp", "trtllm", "tgi"] = "vllm",
    quant: str = "auto",
    kv_dtype: str = "auto",
    max_model_len: int | None = None,
    input_len: int = 1024,
    output_len: int = 256,
    concurrency: int | None = None,
) -> Estimate:
    """Memory and speed of one model on one device configuration (as `garrison estimate`)."""
    from garrison.cli.estimate_cmd import run_estimate

    return run_estimate(
        model,
        gpu=gpu,
        cpu=cpu,
        gpus=gpus,
        tp=None,
        pp=1,
        quant=quant,
        kv_dtype=kv_dtype,
        engine=engine,
        gpu_memory_utilization=None,
        mem_fraction_static=None,
        max_model_len=max_model_len,
        max_num_seqs=None,
        max_num_batched_tokens=None,
        block_size=None,
        input_len=input_len,
        output_len=output_len,
        concurrency=concurrency,
        memory_gib=None,
        bandwidth_gbs=None,
        tflops=None,
    )


def tool_plan(
    requirements_yaml: str = "", requirements_path: str = "", calibration: str = "default"
) -> Design:
    """A sized, justified Design from requirements (YAML text or a file path; hand-off YAML works too)."""
    from garrison.catalogue import load_catalogue
    from garrison.cli.common import load_model
    from garrison.planner import plan
    from garrison.requirements_file import load_requirements, parse_requirements
    from garrison.sizing.calibration_profiles import load_efficiency

    if bool(requirements_yaml) == bool(requirements_path):
        raise InputError(
            "requirements",
            "give exactly one of requirements_yaml or requirements_path",
            "pass the YAML text or the path of a requirements file",
        )
    if requirements_path:
        req = load_requirements(requirements_path)
    else:
        from garrison.input_limits import yaml_document

        req = parse_requirements(yaml_document(requirements_yaml, "requirements_yaml"))
    return plan(
        req, catalogue=load_catalogue(), load_model=load_model, efficiency=load_efficiency(calibration)
    )


def tool_tco(
    design: Design, years: int = 3, against: str | None = None, parameters: CostParameters | None = None
) -> TCO:
    """TCO of a design against every cloud model in the catalogue's dated price list."""
    from garrison.cost.inputs import tco_for_design

    return tco_for_design(design, years=years, params=parameters, against=against)


def tool_render(design: Design, out_dir: str, force: bool = False) -> RenderResult:
    """Write the deployment bundle (and report.html) for a design into out_dir; a non-empty folder is
    replaced only with force."""
    from garrison.outputs import design_files, write_tree

    files = design_files(design)
    write_tree(files, Path(out_dir), force=force)
    return RenderResult(out_dir=out_dir, files=sorted(files), renderer="garrison.outputs.design_files")


def tool_validate(bundle_dir: str) -> ValidateResult:
    """Run the real validators (nginx -t, promtool, k8s schemas, compose, shellcheck, nft, yamllint)
    over a rendered bundle folder."""
    from garrison.validate import validate_bundle

    report = validate_bundle(Path(bundle_dir))
    return ValidateResult(
        ok=not report.failed,
        checks=[
            f"{r.artifact}: {r.tool} {r.status}" + (f" ({r.detail})" if r.detail else "")
            for r in report.results
        ],
    )


def build_server() -> Any:
    """The MCP server with Garrison's five tools."""
    try:
        from mcp.server.mcpserver import MCPServer
    except ImportError:
        raise InputError("mcp", "the MCP extra is not installed", "pip install 'garrison[mcp]'") from None
    server = MCPServer(
        "garrison",
        version=__version__,
        instructions=(
            "Size and plan self-hosted LLM platforms: estimate one configuration, plan from requirements, "
            "cost a design against cloud APIs, render its deployment bundle and validate it."
        ),
    )

    def wrap(fn: Callable[..., T]) -> Callable[..., T]:
        def tool(*args: Any, **kwargs: Any) -> T:
            return _call(lambda: fn(*args, **kwargs))

        tool.__name__, tool.__doc__ = fn.__name__, fn.__doc__
        tool.__signature__ = inspect.signature(fn, eval_str=True)  # type: ignore[attr-defined]
        tool.__annotations__ = typing.get_type_hints(fn)
        return tool

    for name, fn in (
        ("estimate", tool_estimate),
        ("plan", tool_plan),
        ("tco", tool_tco),
        ("render", tool_render),
        ("validate", tool_validate),
    ):
        server.tool(name=name, description=fn.__doc__, structured_output=True)(wrap(fn))
    return server


def serve_stdio() -> None:
    """Run the server on stdin/stdout until the client closes it."""
    build_server().run("stdio")
