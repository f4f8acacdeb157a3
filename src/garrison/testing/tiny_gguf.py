"""Write a tiny random-weight llama-architecture GGUF that llama-server loads and answers with.

No download: weights are seeded random numbers and the vocab is a self-made SentencePiece-style
byte-fallback vocab (`<unk>`, `<s>`, `</s>`, 256 `<0xNN>` byte tokens, printable ASCII pieces and a
few words), so any UTF-8 prompt tokenizes. The output head is shaped so generation is printable and
always runs to `max_tokens`: the rows of byte/control/EOS tokens are zeroed and the NORMAL rows are
scaled x50 (random weights otherwise emit control bytes, invalid UTF-8 and random EOS).
Verified with llama.cpp's llama-server in /work/shared/research/feasibility.md (make_tiny_gguf.py).
"""

from __future__ import annotations

import string
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gguf
import numpy as np
import numpy.typing as npt

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

_WORDS = [
    "the",
    "be",
    "to",
    "of",
    "and",
    "a",
    "in",
    "that",
    "have",
    "it",
    "for",
    "not",
    "on",
    "with",
    "he",
    "as",
    "you",
    "do",
    "at",
    "this",
    "but",
    "his",
    "by",
    "from",
    "they",
    "we",
    "say",
    "her",
    "she",
    "or",
    "an",
    "will",
    "my",
    "one",
    "all",
    "would",
    "there",
    "their",
    "what",
    "so",
    "up",
    "out",
    "if",
    "about",
    "who",
    "get",
    "which",
    "go",
    "me",
    "hello",
    "world",
    "llama",
    "server",
    "token",
    "model",
    "test",
    "gateway",
    "deploy",
]


def builtin_vocab() -> tuple[list[str], list[float], list[int]]:
    """Tokens, scores and token types of the self-made byte-fallback vocab (463 tokens)."""
    tt = gguf.TokenType
    toks = ["<unk>", "<s>", "</s>"]
    scores = [0.0, 0.0, 0.0]
    types = [int(tt.UNKNOWN), int(tt.CONTROL), int(tt.CONTROL)]
    for b in range(256):
        toks.append(f"<0x{b:02X}>")
        scores.append(0.0)
        types.append(int(tt.BYTE))
    pieces = ["\u2581", *(string.ascii_letters + string.digits + string.punctuation)]
    pieces += ["\u2581" + c for c in string.ascii_letters]
    pieces += ["\u2581" + w for w in _WORDS]
    seen = set(toks)
    for i, piece in enumerate(pieces):
        if piece in seen:
            continue
        seen.add(piece)
        toks.append(piece)
        scores.append(float(len(piece)) - i * 1e-4)  # longer pieces win the SPM merge
        types.append(int(tt.NORMAL))
    return toks, scores, types


def add_llama_blocks(
    writer: gguf.GGUFWriter,
    rnd: Callable[[int, int], npt.NDArray[Any]],
    *,
    layers: int,
    hidden: int,
    heads: int,
    kv_heads: int,
    ff: int,
) -> None:
    """The tensors of `layers` Llama blocks (norms, q/k/v/o, gate/up/down) in llama.cpp's names;
    `rnd(rows, cols)` makes a weight matrix (numpy rows = ggml output features)."""
    hd = hidden // heads
    for i in range(layers):
        p = f"blk.{i}."
        writer.add_tensor(p + "attn_norm.weight", np.ones(hidden, np.float32))
        writer.add_tensor(p + "attn_q.weight", rnd(heads * hd, hidden))
        writer.add_tensor(p + "attn_k.weight", rnd(kv_heads * hd, hidden))
        writer.add_tensor(p + "attn_v.weight", rnd(kv_heads * hd, hidden))
        writer.add_tensor(p + "attn_output.weight", rnd(hidden, heads * hd))
        writer.add_tensor(p + "ffn_norm.weight", np.ones(hidden, np.float32))
        writer.add_tensor(p + "ffn_gate.weight", rnd(ff, hidden))
        writer.add_tensor(p + "ffn_up.weight", rnd(ff, hidden))
        writer.add_tensor(p + "ffn_down.weight", rnd(hidden, ff))


def write_tiny_gguf(
    path: str | Path,
    *,
    layers: int = 2,
    hidden: int = 64,
    heads: int = 4,
    kv_heads: int = 2,
    ff: int = 128,
    ctx: int = 2048,
    seed: int = 0,
    name: str = "tiny-random-llama",
) -> Path:
    """Write an F32 llama GGUF (about 0.5 MB with the defaults) to `path` and return the path.

    Deterministic for a given seed: the same arguments give byte-identical files.
    """
    if hidden % heads or heads % kv_heads:
        raise ValueError("hidden must be a multiple of heads, and heads a multiple of kv_heads")
    out_path = Path(path)
    writer = gguf.GGUFWriter(str(out_path), "llama")
    writer.add_name(name)
    writer.add_context_length(ctx)
    writer.add_embedding_length(hidden)
    writer.add_block_count(layers)
    writer.add_feed_forward_length(ff)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(hidden // heads)
    writer.add_rope_freq_base(10000.0)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)

    toks, scores, types = builtin_vocab()
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(toks)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(False)
    writer.add_chat_template(CHATML)
    writer.add_vocab_size(len(toks))

    rng = np.random.default_rng(seed)
    n_vocab = len(toks)

    def rnd(*shape: int) -> npt.NDArray[np.float32]:
        # numpy shape is the reverse of ggml's ne[] (rows = output features)
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    writer.add_tensor("token_embd.weight", rnd(n_vocab, hidden))
    add_llama_blocks(writer, rnd, layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads, ff=ff)
    writer.add_tensor("output_norm.weight", np.ones(hidden, np.float32))
    head = rnd(n_vocab, hidden)
    normal = np.array([t == int(gguf.TokenType.NORMAL) for t in types])
    head[~normal] = 0.0  # byte/control/EOS tokens: logit 0, practically never sampled
    head[normal] *= 50.0  # NORMAL tokens: large logits -> printable text up to max_tokens
    writer.add_tensor("output.weight", head)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out_path
