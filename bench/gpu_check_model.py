"""Write a random-weight GGUF with the shape of a real model, for the GPU check (bench/gpu_check.sh).

Speed does not depend on the weights' values, so a model with Llama-3.1-8B's shape (32 layers,
4,096 wide, 14,336 FFN, 32 query / 8 KV heads) and random F16 weights streams the same bytes per
token as the real one, with no download. The vocabulary is garrison.testing.tiny_gguf's 463-token
byte-fallback vocab (output head and embeddings are therefore ~0.5 % of the real ones: compare
the estimate of *this file*, which Garrison reads like any .gguf, not of the catalogue model).

    python bench/gpu_check_model.py OUT.gguf [--shape llama-8b|llama-1b|tiny]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import gguf
import numpy as np
import numpy.typing as npt

from garrison.testing.tiny_gguf import CHATML, add_llama_blocks, builtin_vocab

# name: (layers, hidden, heads, kv_heads, ffn)
SHAPES = {
    "llama-8b": (32, 4096, 32, 8, 14336),  # Llama-3.1-8B (config.json)
    "llama-1b": (16, 2048, 32, 8, 8192),  # Llama-3.2-1B (config.json)
    "tiny": (2, 256, 4, 2, 512),  # for trying the script on a CPU
}


def write_model(path: Path, shape: str, ctx: int = 32768, seed: int = 0) -> Path:
    """Write an F16 llama GGUF of `shape` (SHAPES) with random weights; returns `path`."""
    layers, hidden, heads, kv_heads, ff = SHAPES[shape]
    head_dim = hidden // heads
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name(f"random-{shape}")
    w.add_context_length(ctx)
    w.add_embedding_length(hidden)
    w.add_block_count(layers)
    w.add_feed_forward_length(ff)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(head_dim)
    w.add_rope_freq_base(500000.0)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    toks, scores, types = builtin_vocab()
    w.add_tokenizer_model("llama")
    w.add_tokenizer_pre("default")
    w.add_token_list(toks)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_chat_template(CHATML)
    w.add_vocab_size(len(toks))
    # a pool of random numbers tiled into every tensor: seconds instead of minutes for 7e9 weights
    pool = (np.random.default_rng(seed).standard_normal(1 << 20) * 0.02).astype(np.float16)

    def rnd(rows: int, cols: int) -> npt.NDArray[np.float16]:
        return np.resize(pool, (rows, cols))

    n_vocab = len(toks)
    w.add_tensor("token_embd.weight", rnd(n_vocab, hidden))
    add_llama_blocks(w, rnd, layers=layers, hidden=hidden, heads=heads, kv_heads=kv_heads, ff=ff)
    w.add_tensor("output_norm.weight", np.ones(hidden, np.float32))
    head = rnd(n_vocab, hidden).copy()
    normal = np.array([t == int(gguf.TokenType.NORMAL) for t in types])
    head[~normal] = 0  # as tiny_gguf: printable output that runs to max_tokens
    head[normal] *= 50
    w.add_tensor("output.weight", head)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="llama-8b")
    args = ap.parse_args()
    print(write_model(args.out, args.shape))


if __name__ == "__main__":
    main()
