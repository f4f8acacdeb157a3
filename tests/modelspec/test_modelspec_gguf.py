"""spec_from_gguf on real GGUF files written with gguf.GGUFWriter (the tiny llama and variants)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import gguf
import numpy as np
import pytest

from garrison.errors import InputError
from garrison.modelspec import load_model_spec, param_counts, spec_from_gguf
from garrison.testing.tiny_gguf import write_tiny_gguf


def test_tiny_llama_spec_and_exact_counts(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "tiny.gguf", layers=3, hidden=64, heads=4, kv_heads=2, ff=128, ctx=4096)
    s = spec_from_gguf(path)
    assert (s.architecture, s.num_layers, s.hidden_size, s.num_kv_heads, s.head_dim) == (
        "llama",
        3,
        64,
        2,
        16,
    )
    assert s.max_context == 4096 and s.vocab_size == 463 and s.intermediate_size == 128
    assert s.native_dtype == "F32" and s.quant_method == "gguf" and not s.tie_word_embeddings
    reader = gguf.GGUFReader(path)
    assert s.weight_bytes_exact == sum(int(t.n_bytes) for t in reader.tensors)
    # the shape-derived count equals the tensors' element count exactly for a llama GGUF
    assert param_counts(s).total == sum(int(t.n_elements) for t in reader.tensors)
    assert s.weight_bytes_exact == 4 * param_counts(s).total  # F32


def _write(
    path: Path, arch: str, meta: Callable[[gguf.GGUFWriter], None], tensors: dict[str, np.ndarray]
) -> Path:
    """A GGUF with arbitrary metadata; Q8_0 for 2-D tensors whose row length is a multiple of 32."""
    w = gguf.GGUFWriter(str(path), arch)
    meta(w)
    for name, arr in tensors.items():
        if arr.ndim == 2 and arr.shape[1] % 32 == 0:
            q = gguf.quants.quantize(arr, gguf.GGMLQuantizationType.Q8_0)
            w.add_tensor(name, q, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
        else:
            w.add_tensor(name, arr)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def _base(w: gguf.GGUFWriter, layers: int = 12, **extra: int) -> None:
    w.add_block_count(layers)
    w.add_embedding_length(64)
    w.add_feed_forward_length(96)
    w.add_head_count(4)
    w.add_head_count_kv(1)
    w.add_context_length(8192)
    w.add_vocab_size(100)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    for key, value in extra.items():
        w.add_uint32(key.format(arch=w.arch), value)


def test_gemma3_sliding_pattern_tied_and_q8_bytes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tensors = {"token_embd.weight": rng.standard_normal((100, 64), dtype=np.float32)}  # no output.weight
    path = _write(
        tmp_path / "g.gguf",
        "gemma3",
        lambda w: (_base(w), w.add_sliding_window(512)),
        tensors,
    )
    s = spec_from_gguf(path)
    assert s.tie_word_embeddings and s.native_dtype == "Q8_0" and s.num_kv_heads == 1
    assert s.sliding_window == 512
    assert s.layer_kinds.count("full") == 2 and s.layer_kinds[5] == "full" and s.layer_kinds[0] == "sliding"
    assert s.weight_bytes_exact == 100 * 64 // 32 * 34  # Q8_0: 32 int8 + one fp16 scale per block


def test_moe_and_mla_keys(tmp_path: Path) -> None:
    def meta(w: gguf.GGUFWriter) -> None:
        _base(w, layers=4)
        w.add_expert_count(16)
        w.add_expert_used_count(2)
        w.add_expert_feed_forward_length(32)
        w.add_expert_shared_count(1)
        w.add_leading_dense_block_count(1)
        w.add_kv_lora_rank(32)
        w.add_q_lora_rank(48)
        w.add_key_length(24)
        w.add_value_length(16)
        w.add_rope_dimension_count(8)

    tensors = {
        "token_embd.weight": np.zeros((100, 64), np.float32),
        "output.weight": np.zeros((100, 64), np.float32),
    }
    s = spec_from_gguf(_write(tmp_path / "d.gguf", "deepseek2", meta, tensors))
    assert s.moe is not None and s.moe.num_experts == 16 and s.moe.experts_per_token == 2
    assert (
        s.moe.shared_experts == 1 and s.moe.shared_intermediate_size == 32 and s.moe.first_dense_layers == 1
    )
    assert s.intermediate_size == 96
    assert s.mla is not None and s.mla.kv_lora_rank == 32 and s.mla.qk_rope_head_dim == 8
    assert s.mla.qk_nope_head_dim == 16 and s.mla.v_head_dim == 16 and set(s.layer_kinds) == {"mla"}
    assert not s.tie_word_embeddings


def test_missing_key_names_it(tmp_path: Path) -> None:
    def meta(w: gguf.GGUFWriter) -> None:
        w.add_embedding_length(64)
        w.add_head_count(4)
        w.add_context_length(128)
        w.add_vocab_size(10)

    path = _write(tmp_path / "bad.gguf", "llama", meta, {"token_embd.weight": np.zeros((10, 64), np.float32)})
    with pytest.raises(InputError) as err:
        spec_from_gguf(path)
    assert err.value.field == "gguf: llama.block_count"


def test_not_a_gguf(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf file at all" * 10)
    with pytest.raises(InputError, match="not a readable GGUF"):
        spec_from_gguf(junk)
    with pytest.raises(InputError, match="does not exist"):
        load_model_spec(str(tmp_path / "missing.gguf"))


def test_load_model_spec_dispatches_on_gguf(tmp_path: Path) -> None:
    path = write_tiny_gguf(tmp_path / "m.gguf")
    assert load_model_spec(str(path)).source == "gguf"


def test_split_gguf_sums_all_parts(tmp_path: Path) -> None:
    zeros = np.zeros((100, 64), np.float32)

    def first(w: gguf.GGUFWriter) -> None:
        _base(w, layers=2)
        w.add_uint16("split.no", 0)
        w.add_uint16("split.count", 2)

    def second(w: gguf.GGUFWriter) -> None:
        w.add_uint16("split.no", 1)
        w.add_uint16("split.count", 2)

    p1 = _write(tmp_path / "m-00001-of-00002.gguf", "llama", first, {"token_embd.weight": zeros})
    p2 = _write(tmp_path / "m-00002-of-00002.gguf", "llama", second, {"output.weight": zeros})
    for path in (p1, p2):  # either part resolves to the whole model
        s = spec_from_gguf(path)
        assert not s.tie_word_embeddings  # output.weight lives in part 2
        assert s.weight_bytes_exact == 2 * (100 * 64 // 32 * 34)
    p2.unlink()
    assert spec_from_gguf(p1).weight_bytes_exact is None  # a part is missing: no exact number
