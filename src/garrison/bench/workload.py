"""Workloads: prompt and output lengths, prompts from a JSONL file or synthetic prompts of exact length."""

from __future__ import annotations

import importlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from garrison.bench.client import Target
from garrison.errors import InputError

# OpenAI's rule of thumb for English text: one token is about 4 characters
# (help.openai.com, "What are tokens and how to count them"). Used only when no tokenizer is available.
APPROX_CHARS_PER_TOKEN = 4.0

_WORD_TEXT = """
    the of and to in is that for it as was with be by on not he this are or his from at which but
    have an they you were her she there been one all we their has would when if so what up out about
    who into more other them its some could time these two may then do first any my now such like
    our over man me even most made after also did many before must through back years where much
    your way well down should because each just those people how too little state good very make
    world still own see men work long get here between both life being under never day same another
    know while last might us great old year off come since against go came right used take three
    gateway model server token cluster tensor latency throughput memory cache replica deploy network
    storage request stream
"""
_WORDS = tuple(_WORD_TEXT.split())


@dataclass(frozen=True)
class Length:
    """A fixed length (`lo == hi`) or a uniform range `lo..hi`, in tokens."""

    lo: int
    hi: int

    def sample(self, rng: random.Random) -> int:
        return self.lo if self.lo == self.hi else rng.randint(self.lo, self.hi)

    def __str__(self) -> str:
        return str(self.lo) if self.lo == self.hi else f"{self.lo}:{self.hi}"


def parse_length(text: str, option: str) -> Length:
    """`N` (fixed) or `LO:HI` (uniform), each at least 1."""
    try:
        if ":" in text:
            lo_s, hi_s = text.split(":", 1)
            lo, hi = int(lo_s), int(hi_s)
        else:
            lo = hi = int(text)
    except ValueError:
        raise InputError(
            option, f"{text!r} is not a length", "give N or LO:HI, e.g. 512 or 128:1024"
        ) from None
    if lo < 1 or hi < lo:
        raise InputError(
            option, f"{text!r} is not a valid length", "give N >= 1, or LO:HI with 1 <= LO <= HI"
        )
    return Length(lo, hi)


@dataclass(frozen=True)
class Prompt:
    """One request's prompt text, its stated length in tokens and the output tokens to ask for."""

    text: str
    input_tokens: int
    max_tokens: int


def load_dataset(path: str, default_output: Length, rng: random.Random) -> list[Prompt]:
    """JSONL, one object per line: `prompt` (text) and optionally `output_len` (or `max_tokens`) and
    `input_tokens`. Blank lines are skipped; any broken line is an error naming the line."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError("--dataset", f"cannot read {path}: {e}", "give a UTF-8 JSONL file") from e
    out: list[Prompt] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            raise InputError(
                "--dataset", f"{path} line {n} is not valid JSON", "fix or remove the line"
            ) from None
        if not isinstance(obj, dict) or not isinstance(obj.get("prompt"), str) or not obj["prompt"]:
            raise InputError(
                "--dataset", f"{path} line {n} has no non-empty string `prompt`", 'write {"prompt": "..."}'
            )
        out_len = obj.get("output_len", obj.get("max_tokens"))
        if out_len is not None and (not isinstance(out_len, int) or out_len < 1):
            raise InputError(
                "--dataset", f"{path} line {n}: output_len must be an integer >= 1", "fix the line"
            )
        in_tok = obj.get("input_tokens")
        stated_in = in_tok if isinstance(in_tok, int) else round(len(obj["prompt"]) / APPROX_CHARS_PER_TOKEN)
        out.append(Prompt(obj["prompt"], stated_in, out_len or default_output.sample(rng)))
    if not out:
        raise InputError("--dataset", f"{path} has no prompts", 'add lines like {"prompt": "..."}')
    return out


def _word_soup(rng: random.Random, chars: int) -> str:
    words: list[str] = []
    n = 0
    while n < chars:
        w = rng.choice(_WORDS)
        words.append(w)
        n += len(w) + 1
    return " ".join(words)


def approx_prompts(n: int, input_len: Length, output_len: Length, rng: random.Random) -> list[Prompt]:
    """Prompts of about the asked length: APPROX_CHARS_PER_TOKEN characters per token."""
    out = []
    for _ in range(n):
        k = input_len.sample(rng)
        text = _word_soup(rng, int(k * APPROX_CHARS_PER_TOKEN) + 8)[: int(k * APPROX_CHARS_PER_TOKEN)]
        out.append(Prompt(text.strip() or "hello", k, output_len.sample(rng)))
    return out


def _prompts_from_ids(
    ids: list[int], n: int, input_len: Length, output_len: Length, rng: random.Random, decode: Any
) -> list[Prompt]:
    out = []
    for _ in range(n):
        k = input_len.sample(rng)
        off = rng.randint(0, max(0, len(ids) - k))  # distinct windows: no accidental prefix-cache hits
        out.append(Prompt(decode(ids[off : off + k]), k, output_len.sample(rng)))
    return out


def tokenizer_prompts(
    folder: str, n: int, input_len: Length, output_len: Length, rng: random.Random
) -> list[Prompt]:
    """Exact-length prompts with the model's own `tokenizer.json` (needs the `tokenizers` package)."""
    path = Path(folder)
    file = path / "tokenizer.json" if path.is_dir() else path
    if not file.is_file():
        raise InputError(
            "--tokenizer", f"no tokenizer.json at {folder}", "give a model folder with tokenizer.json"
        )
    try:
        tk_mod = importlib.import_module("tokenizers")
    except ImportError:
        raise InputError(
            "--tokenizer",
            "the `tokenizers` package is not installed",
            "pip install 'garrison[bench]', or use --tokenizer server",
        ) from None
    tok = tk_mod.Tokenizer.from_file(str(file))
    need = input_len.hi * 2 + 64
    text = _word_soup(rng, need * 6)
    ids: list[int] = list(tok.encode(text, add_special_tokens=False).ids)
    return _prompts_from_ids(ids, n, input_len, output_len, rng, lambda x: str(tok.decode(x)))


def server_prompts(
    target: Target,
    model: str,
    n: int,
    input_len: Length,
    output_len: Length,
    rng: random.Random,
    verify: Any,
) -> list[Prompt] | None:
    """Exact-length prompts through the server's `/tokenize` and `/detokenize` (llama.cpp and vLLM
    both serve them). Returns None when the server has no such endpoint (e.g. behind a gateway)."""
    need = input_len.hi * 2 + 64
    with httpx.Client(verify=verify, timeout=30, headers=target.headers) as c:
        ids: list[int] = []
        chars = need * 4
        for _ in range(4):
            text = _word_soup(rng, chars)
            try:
                r = c.post(target.root + "/tokenize", json={"content": text, "prompt": text, "model": model})
            except httpx.HTTPError:
                return None
            if r.status_code != 200:
                return None
            try:
                toks = r.json().get("tokens")
            except ValueError:
                return None
            if not isinstance(toks, list) or not all(isinstance(t, int) for t in toks):
                return None
            ids = toks
            if len(ids) >= need:
                break
            chars *= 2
        if len(ids) < input_len.hi:
            return None
        cache: dict[tuple[int, ...], str] = {}

        def decode(window: list[int]) -> str:
            key = tuple(window)
            if key not in cache:
                r = c.post(target.root + "/detokenize", json={"tokens": window, "model": model})
                r.raise_for_status()
                j = r.json()
                cache[key] = str(j.get("content", j.get("prompt", "")))
            return cache[key]

        try:
            return _prompts_from_ids(ids, n, input_len, output_len, rng, decode)
        except (httpx.HTTPError, ValueError):
            return None
