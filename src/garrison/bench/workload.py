"""Workloads: prompt and output lengths; prompts from a JSONL file, or synthetic prompts that are unique
per request and of exact token length.

Why unique: vLLM and SGLang cache prompt prefixes by default and llama.cpp reuses a slot's KV cache, so a
benchmark that re-sends a prompt (or one that starts like an earlier one) measures a cached prefill:
TTFT up to 31x too low (issue 15). Every synthetic prompt here starts with a *marker* that encodes the
request's number and a per-run nonce in single-token words, so no two prompts of a run (or of two runs)
share more than the chat template's own prefix. `prefix_len` / `prefix_share` put a deliberately shared
prefix (a system prompt) in front of the marker.

Why exact: the body is built from words whose token counts were measured once with the real tokenizer
(the server's `/tokenize`, or the model's `tokenizer.json`). Common tokenizers split on spaces before
merging (GPT-2-style pre-tokenizers; SentencePiece's `▁`-prefixed pieces), so a text of space-led words
has the sum of the words' token counts; `PromptMaker.check` re-tokenizes a sample to confirm it.
"""

from __future__ import annotations

import bisect
import copy
import importlib
import itertools
import json
import math
import random
from collections.abc import Callable
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
_WORDS = tuple(dict.fromkeys(_WORD_TEXT.split()))
# Single letters and digits: one token in common vocabularies; the marker's digits and the top-up.
_UNITS = tuple("abcdefghijklmnopqrstuvwxyz0123456789")
# Requests numbered below this get a marker of fixed width; later ones wrap (a run of a million
# requests is far beyond a benchmark step).
_MARKER_SPACE = 1_000_000
_NONCE_DIGITS = 3

TokenCounter = Callable[[list[str]], list[int]]


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


def approx_counter(texts: list[str]) -> list[int]:
    """Token counts by the 4-characters-per-token rule (at least 1 per word)."""
    return [max(1, round(len(t) / APPROX_CHARS_PER_TOKEN)) for t in texts]


def tokenizer_counter(folder: str) -> TokenCounter:
    """Counts with the model's own `tokenizer.json` (needs the `tokenizers` package)."""
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
    return lambda texts: [len(tok.encode(t, add_special_tokens=False).ids) for t in texts]


def server_counter(target: Target, model: str, verify: Any) -> TokenCounter | None:
    """Counts through the server's `/tokenize` (llama.cpp and vLLM serve it, without special tokens);
    None when the server has none (e.g. behind a gateway that only exposes /v1/)."""
    client = httpx.Client(verify=verify, timeout=30, headers=target.headers)

    def count(texts: list[str]) -> list[int]:
        out = []
        for t in texts:
            r = client.post(
                target.root + "/tokenize",
                json={
                    "content": t,  # llama.cpp
                    "prompt": t,  # vLLM
                    "model": model,
                    "add_special": False,
                    "add_special_tokens": False,
                },
            )
            r.raise_for_status()
            toks = r.json().get("tokens")
            if not isinstance(toks, list):
                raise ValueError("no token list")
            out.append(len(toks))
        return out

    try:
        count([" the"])
    except (httpx.HTTPError, ValueError, AttributeError):
        client.close()
        return None
    return count


class PromptMaker:
    """Synthetic prompts, each unique and of a stated token length; cheap enough to make one per request
    while the load runs (a few string slices).

    A prompt is `shared prefix` + `marker` + `body`: the prefix is the same text for every request
    (`prefix_len` tokens, or `prefix_share` x the prompt's length); the marker spells the request's
    number and a per-run nonce in single-token words; the body is a window of a word corpus at a
    random offset, topped up with single-token words to the exact length.
    """

    def __init__(
        self,
        count: TokenCounter,
        input_len: Length,
        output_len: Length,
        rng: random.Random,
        *,
        nonce: int,
        prefix_len: int = 0,
        prefix_share: float = 0.0,
    ) -> None:
        words = [" " + w for w in (*_WORDS, *_UNITS)]
        # a word's tokens in running text: after an anchor, so a tokenizer's start-of-text handling
        # (SentencePiece's dummy-prefix space) is not counted
        if count is approx_counter:
            counts = approx_counter(words)
        else:
            anchor = count(["the"])[0]
            counts = [c - anchor for c in count(["the" + w for w in words])]
        self._counts = dict(zip(words, counts, strict=True))
        self._ones = [w for w, c in zip(words, counts, strict=True) if c == 1]
        if len(self._ones) < 2:
            raise ValueError("the tokenizer has fewer than two single-token words")
        self._count = count
        self.input_len, self.output_len = input_len, output_len
        self.prefix_len, self.prefix_share = prefix_len, prefix_share
        self._rng = rng
        base = len(self._ones)
        self._digits = max(1, math.ceil(math.log(_MARKER_SPACE) / math.log(base))) if base > 1 else 1
        self.marker_tokens = self._digits + _NONCE_DIGITS
        self.nonce = nonce
        self._nonce = self._spell(nonce, _NONCE_DIGITS)
        self._n = 0
        # a corpus of at least twice the longest prompt, so every window fits at many offsets
        corpus_rng = random.Random(rng.random())
        self._text, self._tok_cum, self._char_cum = self._corpus(corpus_rng, 2 * input_len.hi + 256)
        shared_rng = random.Random(nonce)
        self._prefix_text, self._prefix_tok, self._prefix_char = self._corpus(shared_rng, input_len.hi + 8)

    def _corpus(self, rng: random.Random, tokens: int) -> tuple[str, list[int], list[int]]:
        words: list[str] = []
        tok_cum, char_cum = [0], [0]
        while tok_cum[-1] < tokens:
            w = " " + rng.choice(_WORDS)
            words.append(w)
            tok_cum.append(tok_cum[-1] + self._counts[w])
            char_cum.append(char_cum[-1] + len(w))
        return "".join(words), tok_cum, char_cum

    def _spell(self, value: int, digits: int) -> list[str]:
        """`value` as `digits` base-B digits, each a single-token word (least significant first)."""
        base = len(self._ones)
        out = []
        for _ in range(digits):
            value, d = divmod(value, base)
            out.append(self._ones[d])
        return out

    @staticmethod
    def _window(
        text: str, tok_cum: list[int], char_cum: list[int], start: int, tokens: int
    ) -> tuple[str, int]:
        """The longest run of whole words from word `start` with at most `tokens` tokens, and its count."""
        end = bisect.bisect_right(tok_cum, tok_cum[start] + tokens) - 1
        return text[char_cum[start] : char_cum[end]], tok_cum[end] - tok_cum[start]

    def shared_tokens(self, k: int) -> int:
        """Tokens of the shared prefix in a prompt of `k` tokens (leaving room for the marker)."""
        want = self.prefix_len or round(self.prefix_share * k)
        return max(0, min(want, k - self.marker_tokens))

    def make(self, k: int, max_tokens: int) -> Prompt:
        """A new unique prompt of exactly `k` tokens (when k allows the marker) asking for `max_tokens`."""
        i = self._n
        self._n += 1
        parts: list[str] = []
        left = k
        shared = self.shared_tokens(k)
        if shared:
            text, got = self._window(self._prefix_text, self._prefix_tok, self._prefix_char, 0, shared)
            parts.append(text + self._ones[0] * (shared - got))
            left -= shared
        marker = self._spell(i % _MARKER_SPACE, self._digits) + self._nonce
        take = min(left, len(marker))
        parts.append("".join(marker[:take]))
        left -= take
        if left > 0:
            last_start = bisect.bisect_right(self._tok_cum, self._tok_cum[-1] - left) - 1
            start = self._rng.randint(0, max(0, last_start))
            text, got = self._window(self._text, self._tok_cum, self._char_cum, start, left)
            parts.append(text + "".join(self._rng.choice(self._ones) for _ in range(left - got)))
        # no leading space: at the start of a text SentencePiece adds its own, and a chat template
        # puts the content after a newline
        return Prompt("".join(parts)[1:], k, max_tokens)

    def for_worker(self, index: int, seed: str) -> PromptMaker:
        """A copy for client process `index`: its own nonce (so its markers never meet another
        process's), its own random stream, and no tokenizer (counts were measured already)."""
        other = copy.copy(self)
        other._count = approx_counter
        other.nonce = self.nonce + 1 + index
        other._nonce = self._spell(other.nonce, _NONCE_DIGITS)
        other._rng = random.Random(f"{seed}/{index}")
        other._n = 0
        return other

    def next(self) -> Prompt:
        """A new prompt with lengths drawn from the workload."""
        return self.make(self.input_len.sample(self._rng), self.output_len.sample(self._rng))

    def check(self, samples: int = 3) -> tuple[int, int]:
        """Re-tokenize `samples` fresh prompts: (how many had exactly their stated length, worst |error|).
        The prompts used are numbered past any the run will send."""
        saved = self._n
        self._n = _MARKER_SPACE - 1 - samples
        ps = [self.next() for _ in range(samples)]
        self._n = saved
        got = self._count([p.text for p in ps])
        errs = [abs(g - p.input_tokens) for g, p in zip(got, ps, strict=True)]
        return sum(1 for e in errs if e == 0), max(errs)


class DatasetPrompts:
    """Prompts from a `--dataset` file, sent in order and cycled when the run needs more."""

    def __init__(self, prompts: list[Prompt]) -> None:
        self._prompts = prompts
        self._it = itertools.cycle(prompts)
        self.sent = 0

    @property
    def repeated(self) -> bool:
        return self.sent > len(self._prompts)

    def next(self) -> Prompt:
        self.sent += 1
        return next(self._it)

    def make(self, k: int, max_tokens: int) -> Prompt:
        p = self.next()
        return Prompt(p.text, p.input_tokens, max_tokens)
