"""Tool-call and reasoning parsers per model family and engine (data/model_parsers.yaml, with sources).

A model whose family needs a parser gets it on its engine's command line: vLLM and SGLang
`--enable-auto-tool-choice --tool-call-parser X` / `--tool-call-parser X` and `--reasoning-parser Y`,
llama.cpp `--reasoning-format deepseek` (its `--jinja` chat templates parse tool calls themselves).
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources

import yaml
from pydantic import BaseModel, ConfigDict


class EngineParsers(BaseModel):
    """The parser names one engine takes for a family (None: the engine needs none)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool_call_parser: str | None = None
    reasoning_parser: str | None = None
    reasoning_format: str | None = None  # llama.cpp


class ParserRow(BaseModel):
    """One model family."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    family: str
    match: str  # regular expression over the catalogue id, lower case
    vllm: EngineParsers = EngineParsers()
    sglang: EngineParsers = EngineParsers()
    llama_cpp: EngineParsers = EngineParsers()
    source: str
    as_of: str


@cache
def parser_rows() -> tuple[ParserRow, ...]:
    """The shipped rows, in match order."""
    text = resources.files("garrison").joinpath("data/model_parsers.yaml").read_text(encoding="utf-8")
    return tuple(ParserRow.model_validate(r) for r in yaml.safe_load(text)["families"])


def parsers_for(model_id: str, engine_key: str) -> EngineParsers:
    """The parsers `engine_key` ("vllm", "sglang", "llama_cpp") needs for a model; empty when none."""
    key = model_id.rsplit("/", 1)[-1].lower()
    for row in parser_rows():
        if re.search(row.match, key):
            found = getattr(row, engine_key, None)
            return found if isinstance(found, EngineParsers) else EngineParsers()
    return EngineParsers()
