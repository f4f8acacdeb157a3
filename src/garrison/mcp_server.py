"""`garrison mcp`: the library as MCP tools over stdio.

Tools: estimate, plan, tco, render, validate, simulate, bench, handoff, airgap_verify, history. Needs the
optional extra `mcp` (`pip install garrison[mcp]`). Each tool is a thin call into the same library
functions the CLI uses. Designs travel by reference: `plan` stores the design and returns `design-N`,
and every tool that takes a design takes that id (or a design.json path). Errors, Garrison's own and
rejected arguments alike, come back as tool errors in one line: `field: problem; fix`.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from garrison import __version__
from garrison.bench.results import BenchResult
from garrison.cost import TCO, CostParameters
from garrison.design import Design, Estimate, Range
from garrison.errors import GarrisonError, InputError
from garrison.simulate.capacity import SloBreak
from garrison.simulate.results import SimSummary

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


class PlanResult(BaseModel):
    """What `plan` made: the id to pass to the other tools, the verdict, and a short summary."""

    model_config = ConfigDict(extra="forbid")

    design_id: str  # "design-N": pass it as `design` to tco, render, simulate, handoff, bench, history
    name: str
    decision: str  # the verdict sentence of report.html's first screen
    deployments: list[str]  # one line each: use case, model, format, engine, hardware, replicas
    capex_usd: Range
    annual_opex_usd: float
    tco_years: int
    escalations: list[str]
    handoff_guesses: list[str]  # hand-off values guessed or not applied (empty for Garrison's own YAML)
    out_dir: str | None = None
    design: Design | None = None  # the whole Design, only with include_design


def tool_plan(
    requirements_yaml: str = "",
    requirements_path: str = "",
    calibration: str = "default",
    out_dir: str = "",
    force: bool = False,
    include_design: bool = False,
) -> PlanResult:
    """Plan from requirements (YAML text or a file path; another agent's hand-off YAML works too). The
    design is stored in the history: pass the returned design_id to the other tools instead of the design."""
    from garrison.catalogue import load_catalogue
    from garrison.cli.common import load_model
    from garrison.handoff.intake import intake_lines
    from garrison.planner import plan
    from garrison.requirements_file import load_requirements, parse_requirements
    from garrison.sizing.calibration_profiles import load_efficiency
    from garrison.store import Store

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
    design = plan(
        req,
        catalogue=load_catalogue(),
        load_model=load_model,
        efficiency=load_efficiency(calibration),
        today=date.today(),  # lead times are judged from today (site.deadline)
    )
    if out_dir and design.deployments:
        from garrison.outputs import design_files, write_tree

        write_tree(design_files(design), Path(out_dir), force=force)
    design_id = Store().save_design(design)
    tco = _tco(design)
    from garrison.report.verdict import build_verdict

    verdict = build_verdict(design, tco)
    return PlanResult(
        design_id=f"design-{design_id}",
        name=design.name,
        decision=verdict.decision,
        deployments=[
            f"{x.use_case}: {x.model_id} {x.quant} on {x.engine}, {x.gpus_per_replica} x {x.device} "
            f"per replica, {x.replicas} replica(s), {x.requests_per_minute:g} req/min"
            for x in design.deployments
        ],
        capex_usd=Range(low=tco.capex_usd.low, expected=tco.capex_usd.expected, high=tco.capex_usd.high),
        annual_opex_usd=tco.annual_opex_usd,
        tco_years=tco.years,
        escalations=[f"{e.kind} ({e.field}): {e.problem}" for e in design.escalations],
        handoff_guesses=intake_lines(req.handoff) if req.handoff else [],
        out_dir=out_dir or None,
        design=design if include_design else None,
    )


def _tco(design: Design, years: int | None = None) -> TCO:
    from garrison.cost.inputs import tco_for_design

    return tco_for_design(design) if years is None else tco_for_design(design, years=years)


DESIGN_REF = (
    "the design: a history id such as design-3 (plan returns it), a design.json path or a bundle folder"
)


def _design(ref: str) -> Design:
    from garrison.design_ref import load_design_ref

    return load_design_ref(ref, "design")


def tool_tco(
    design: str,
    years: int | None = None,
    against: str | None = None,
    parameters: CostParameters | None = None,
) -> TCO:
    """TCO of a design (by history id or path) against every cloud model in the dated price list, over
    `years` (default: the design's horizon, growth.horizon_months)."""
    from garrison.cost.inputs import tco_for_design

    return tco_for_design(_design(design), years=years, params=parameters, against=against)


def tool_render(design: str, out_dir: str, force: bool = False) -> RenderResult:
    """Write the deployment bundle (and report.html) for a design (by history id or path) into out_dir;
    a non-empty folder is replaced only with force."""
    from garrison.outputs import design_files, write_tree

    files = design_files(_design(design))
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


class SimulateResult(BaseModel):
    """A continuous-batching simulation of one deployment at one or more request rates."""

    model_config = ConfigDict(extra="forbid")

    design: str
    use_case: str
    description: str
    replicas: int
    steps: list[SimSummary]  # one per rate; rates in requests per second for the whole deployment
    slo_breaks: list[SloBreak]


def tool_simulate(
    design: str,
    use_case: str = "",
    rates_per_s: list[float] | None = None,
    num_requests: int = 500,
    seed: int = 0,
    slo_ttft_ms: float | None = None,
    slo_itl_ms: float | None = None,
) -> SimulateResult:
    """Simulate continuous batching for a design's deployment (by history id or path): TTFT/ITL/E2E
    percentiles per rate (default: the design rate) and the rate at which each target breaks."""
    from garrison.cli.simulate_cmd import setup_for_design
    from garrison.simulate.capacity import sweep_rates

    if not 1 <= num_requests <= 20_000:
        raise InputError("num_requests", f"{num_requests} is outside 1-20000", "simulate 100-2000 requests")
    if rates_per_s is not None and any(r <= 0 for r in rates_per_s):
        raise InputError(
            "rates_per_s", "every rate must be > 0", "give requests per second, e.g. [0.5, 1, 2]"
        )
    d = _design(design)
    setup = setup_for_design(d, design, use_case, {})
    workload = setup.workload(input_len=None, output_len=None, num_requests=num_requests)
    sweep = sweep_rates(
        setup.model,
        setup.engine,
        workload,
        list(rates_per_s or [setup.default_rate_per_s]),
        replicas=setup.replicas,
        seed=seed,
        slo=setup.slo(ttft_ms=slo_ttft_ms, itl_ms=slo_itl_ms),
    )
    from garrison.simulate.setup import pick_deployment

    return SimulateResult(
        design=design,
        use_case=pick_deployment(d, design, use_case).use_case,
        description=setup.description,
        replicas=sweep.replicas,
        steps=list(sweep.steps),
        slo_breaks=list(sweep.breaks),
    )


class BenchToolResult(BaseModel):
    """A benchmark run against the caller's URL, stored in the history."""

    model_config = ConfigDict(extra="forbid")

    run_id: str | None  # "run-N" when saved
    result: BenchResult


def tool_bench(
    url: str,
    model: str = "",
    design: str = "",
    api_key: str = "",
    concurrency: list[int] | None = None,
    rates_per_s: list[float] | None = None,
    num_requests: int = 20,
    input_len: int = 256,
    output_len: int = 64,
    slo_ttft_ms: float | None = None,
    slo_itl_ms: float | None = None,
    ca: str = "",
    insecure: bool = False,
    save: bool = True,
) -> BenchToolResult:
    """Load-test the OpenAI-compatible endpoint at `url` (yours: Garrison only calls the URL given):
    TTFT, ITL, throughput, goodput, errors per step; with a design (history id or path) also measured vs
    predicted."""
    from garrison.bench import BenchConfig, run_bench
    from garrison.bench.compare import compare_to_design, pick_deployment
    from garrison.bench.workload import Length

    if not url.startswith(("http://", "https://")):
        raise InputError(
            "url", f"{url!r} is not an http(s) URL", "give the server's base URL, e.g. https://host:8443"
        )
    if not 1 <= num_requests <= 10_000:
        raise InputError("num_requests", f"{num_requests} is outside 1-10000", "use 10-500 per step")
    for name, value in (("input_len", input_len), ("output_len", output_len)):
        if not 1 <= value <= 1_000_000:
            raise InputError(name, f"{value} is outside 1-1000000 tokens", "give a token count")
    if ca and insecure:
        raise InputError("ca", "ca and insecure exclude each other", "give one of them")
    dsg = _design(design) if design else None
    dep = pick_deployment(dsg, model or None) if dsg else None
    cfg = BenchConfig(
        url=url,
        model=model or (dep.model_name if dep else ""),
        api_key=api_key or None,
        concurrency=tuple(concurrency or ([] if rates_per_s else [dep.estimate.concurrency if dep else 1])),
        rates=tuple(rates_per_s or ()),
        num_requests=num_requests,
        input_len=Length(input_len, input_len),
        output_len=Length(output_len, output_len),
        tokenizer="approx",
        slo_ttft_ms=slo_ttft_ms if slo_ttft_ms is not None else (dep.ttft_p95_target_ms if dep else None),
        slo_itl_ms=slo_itl_ms if slo_itl_ms is not None else (dep.itl_p95_target_ms if dep else None),
        ca=ca or None,
        insecure=insecure,
        progress=False,
    )
    if not cfg.model:
        raise InputError("model", "no model name", "give model (the name clients pass) or a design")
    result = run_bench(cfg)
    if dsg is not None:
        result = result.model_copy(update={"comparison": compare_to_design(result, dsg)})
    run_id = None
    if save:
        from garrison.store import Store

        st = Store()
        design_id = (
            int(design.removeprefix("design-"))
            if design and design.removeprefix("design-").isdigit()
            else None
        )
        run_id = f"run-{st.save_bench_run(result, design_id)}"
    return BenchToolResult(run_id=run_id, result=result)


class HandoffResult(BaseModel):
    """The hand-off documents for the architect's colleagues, as YAML-ready mappings."""

    model_config = ConfigDict(extra="forbid")

    design: str
    handoffs: dict[
        str, dict[str, Any]
    ]  # target -> {"handoff": {source_agent, target_agent, context, request}}


def tool_handoff(design: str, to: str = "all") -> HandoffResult:
    """Hand-offs for the colleagues (mlops, security, program-manager, model-evaluator, api-integration, roi,
    data-sovereignty, implementation-guide, or all) of a design by history id or path; escalations are
    addressed to the agent the role description names."""
    from garrison.handoff import TARGETS, handoff

    if to != "all" and to not in TARGETS:
        raise InputError("to", f"{to!r} is not a colleague", "use all or one of: " + ", ".join(TARGETS))
    d = _design(design)
    tco = _tco(d)
    targets = TARGETS if to == "all" else (to,)
    return HandoffResult(design=design, handoffs={t: handoff(d, t, tco) for t in targets})


class AirgapVerifyResult(BaseModel):
    """`garrison airgap verify`: every file of a pack against its SHA-256 manifest (and signature)."""

    model_config = ConfigDict(extra="forbid")

    ok: bool
    missing: list[str]
    extra: list[str]
    altered: list[str]
    truncated: list[str]
    signature: str
    problems: list[str]
    complete: bool
    files: int
    bytes: int


def tool_airgap_verify(pack_dir: str, trust: str = "") -> AirgapVerifyResult:
    """Check every file of an air-gap pack against its manifest, and the Ed25519 signature when a trusted
    public key is given; ok is false on any missing, extra, altered or truncated file."""
    from garrison.airgap import verify

    if not Path(pack_dir).is_dir():
        raise InputError(
            "pack_dir", f"{pack_dir} is not a folder", "give the folder `garrison airgap pack` wrote"
        )
    rep = verify(Path(pack_dir), Path(trust) if trust else None)
    return AirgapVerifyResult.model_validate(rep.to_json())


class HistoryItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    kind: str
    created_at: str
    summary: str


class HistoryResult(BaseModel):
    """Stored designs, benchmark runs and verifications (newest first), or one of them."""

    model_config = ConfigDict(extra="forbid")

    items: list[HistoryItem] = []
    design: Design | None = None
    run: BenchResult | None = None
    verification: dict[str, Any] | None = None


def tool_history(item: str = "") -> HistoryResult:
    """Without `item`: everything stored, newest first (ids design-N, run-N, verify-N). With an id: that
    design, benchmark run or verification."""
    from garrison.store import Store, parse_id

    st = Store()
    if not item:
        return HistoryResult(
            items=[
                HistoryItem(id=i["id"], kind=i["kind"], created_at=str(i["created_at"]), summary=i["summary"])
                for i in st.list_all()
            ]
        )
    try:
        kind, n = parse_id(item, "design")
    except InputError as e:
        raise InputError("item", e.problem, e.fix) from None
    if kind == "design":
        return HistoryResult(design=st.get_design(n))
    if kind == "run":
        return HistoryResult(run=st.get_run(n)[0])
    return HistoryResult(verification=st.get_verification(n))


TOOLS: tuple[tuple[str, Callable[..., Any]], ...] = (
    ("estimate", tool_estimate),
    ("plan", tool_plan),
    ("tco", tool_tco),
    ("render", tool_render),
    ("validate", tool_validate),
    ("simulate", tool_simulate),
    ("bench", tool_bench),
    ("handoff", tool_handoff),
    ("airgap_verify", tool_airgap_verify),
    ("history", tool_history),
)


def _argument_error(tool: str, e: ValidationError) -> str:
    """A rejected argument in Garrison's one-line form: `field: problem; fix`."""
    err = e.errors()[0]
    field = ".".join(str(x) for x in err.get("loc", ())) or "arguments"
    kind = err.get("type", "")
    if kind == "missing":
        problem = "required but missing"
    elif kind == "extra_forbidden":
        problem = "unknown argument"
    else:
        problem = f"{err.get('msg', 'invalid value')}, got {err.get('input')!r}".removeprefix("Value error, ")
    return InputError(field, problem, f"see the input schema of `{tool}` (tools/list)").one_line()


def build_server() -> Any:
    """The MCP server with Garrison's tools; argument and library errors come back as one line."""
    try:
        from mcp.server.mcpserver import MCPServer
        from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
    except ImportError:
        raise InputError("mcp", "the MCP extra is not installed", "pip install 'garrison[mcp]'") from None

    class GarrisonMCP(MCPServer):
        """Rewrites the SDK's argument-validation text (pydantic's, with a URL) into `field: problem; fix`
        and drops the "Error executing tool" prefix from Garrison's own one-line errors."""

        async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
            try:
                return await super().call_tool(name, arguments, context)
            except UnexpectedToolError:
                raise
            except ToolError as e:
                cause = e.__cause__
                if isinstance(cause, ValidationError):
                    raise ToolError(_argument_error(name, cause)) from None
                if isinstance(cause, ToolError):
                    raise ToolError(str(cause)) from None
                raise

    server = GarrisonMCP(
        "garrison",
        version=__version__,
        instructions=(
            "Plan self-hosted LLM platforms: `plan` stores the design and returns its id (design-N); pass that "
            "id as `design` to tco, render, simulate, handoff and bench instead of the whole design. "
            "estimate sizes one configuration; validate checks a rendered bundle with the real tools; "
            "airgap_verify checks a pack; history lists and shows what is stored."
        ),
    )

    def wrap(fn: Callable[..., T]) -> Callable[..., T]:
        def tool(*args: Any, **kwargs: Any) -> T:
            return _call(lambda: fn(*args, **kwargs))

        tool.__name__, tool.__doc__ = fn.__name__, fn.__doc__
        tool.__signature__ = inspect.signature(fn, eval_str=True)  # type: ignore[attr-defined]
        tool.__annotations__ = typing.get_type_hints(fn)
        return tool

    for name, fn in TOOLS:
        server.tool(name=name, description=fn.__doc__, structured_output=True)(wrap(fn))
    return server


def serve_stdio() -> None:
    """Run the server on stdin/stdout until the client closes it."""
    build_server().run("stdio")
