"""Tool-call and reasoning parsers per model family: sourced rows, the engines' documented names, and
the flags each engine renders."""

from __future__ import annotations

import re

import pytest

from garrison import engines
from garrison.catalogue import load_catalogue
from garrison.engines.parsers import parser_rows, parsers_for
from garrison.testing.designs import make_deployment

# Names as the engines' docs list them (vLLM docs/features/tool_calling.md and reasoning_outputs.md;
# SGLang tool_parser / separate_reasoning docs), read 2026-12-07: a typo in the data fails here.
VLLM_TOOL = {
    "hermes",
    "llama3_json",
    "mistral",
    "deepseek_v3",
    "deepseek_v31",
    "openai",
    "kimi_k2",
    "glm45",
    "glm47",
    "qwen3_xml",
}
VLLM_REASONING = {"deepseek_r1", "deepseek_v3", "glm45", "minimax_m2_append_think", "qwen3"}
SGLANG_TOOL = {
    "qwen25",
    "qwen3_coder",
    "llama3",
    "mistral",
    "deepseekv3",
    "deepseekv31",
    "glm45",
    "glm47",
    "gpt-oss",
    "kimi_k2",
}
SGLANG_REASONING = {"qwen3", "deepseek-r1", "deepseek-v3", "glm45", "gpt-oss", "kimi_k2"}


def test_rows_are_sourced_and_use_documented_names() -> None:
    rows = parser_rows()
    assert rows
    for r in rows:
        assert r.source and r.as_of, r.family
        re.compile(r.match)
        assert r.vllm.tool_call_parser in VLLM_TOOL | {None}, r.family
        assert r.vllm.reasoning_parser in VLLM_REASONING | {None}, r.family
        assert r.sglang.tool_call_parser in SGLANG_TOOL | {None}, r.family
        assert r.sglang.reasoning_parser in SGLANG_REASONING | {None}, r.family
        assert r.llama_cpp.reasoning_format in {"deepseek", None}, r.family


def test_every_row_matches_a_catalogue_model() -> None:
    ids = list(load_catalogue().models)
    for r in parser_rows():
        assert any(re.search(r.match, i) for i in ids), f"{r.family} matches no catalogue model"


@pytest.mark.parametrize(
    ("model", "tool", "reasoning"),
    [
        ("qwen3-8b", "hermes", "qwen3"),
        ("qwen3-coder-30b-a3b-instruct", "qwen3_xml", None),
        ("llama-3.3-70b-instruct", "llama3_json", None),
        ("minimax-m2", None, "minimax_m2_append_think"),
        ("deepseek-r1", "deepseek_v3", "deepseek_r1"),
        ("phi-4", None, None),
    ],
)
def test_vllm_renders_the_family_parsers(model: str, tool: str | None, reasoning: str | None) -> None:
    args = engines.command_args(make_deployment(model_id=model))
    if tool:
        assert "--enable-auto-tool-choice" in args and args[args.index("--tool-call-parser") + 1] == tool
    else:
        assert "--tool-call-parser" not in args and "--enable-auto-tool-choice" not in args
    if reasoning:
        assert args[args.index("--reasoning-parser") + 1] == reasoning
    else:
        assert "--reasoning-parser" not in args


def test_sglang_and_llamacpp_flags() -> None:
    sg = engines.command_args(make_deployment(engine="sglang", model_id="glm-4.7-flash"))
    assert (
        sg[sg.index("--tool-call-parser") + 1] == "glm47"
        and sg[sg.index("--reasoning-parser") + 1] == "glm45"
    )
    lc = engines.command_args(
        make_deployment(
            engine="llama.cpp", model_id="qwen3-8b", quant="q8_0", device_kind="cpu", max_num_seqs=4
        )
    )
    assert lc[lc.index("--reasoning-format") + 1] == "deepseek"
    assert parsers_for("unknown-model", "vllm").tool_call_parser is None
