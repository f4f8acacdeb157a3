"""ModelSpec from a GGUF file: architecture metadata and tensor types via the `gguf` package.

Key names are gguf-py's `Keys` (`{arch}.block_count`, `{arch}.attention.head_count_kv`, ...; see
gguf/constants.py and llama.cpp src/llama-model.cpp, which reads them). `GGUFReader` memory-maps the
file, and only the metadata and tensor-info records are parsed here; tensor data is never touched,
so the exact weight bytes are the sum of each tensor's `n_bytes`.
"""

from __future__ import annotations

import math
import mmap
import re
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from garrison.errors import InputError
from garrison.modelspec.spec import MLA, LayerKind, LinearAttention, ModelSpec, MoE

if TYPE_CHECKING:  # gguf (and numpy with it) is imported only when a GGUF file is read
    import gguf

# llama.cpp's built-in sliding-window patterns when the file has no sliding_window_pattern key
# (src/llama-model.cpp `hparams.set_swa_pattern(n)`: layer il slides unless il % n == n - 1).
_SWA_PATTERN = {"gemma2": 2, "gemma3": 6, "gpt-oss": 2, "cohere2": 4}
# llama.cpp gguf-split part names
_SPLIT = re.compile(r"^(?P<stem>.+)-(?P<i>\d{5})-of-(?P<n>\d{5})\.gguf$")


# GGUF value type -> fixed size in bytes (gguf/constants.py GGUFValueType); 8 = string, 9 = array
_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_MAX_DIMS = 8


class _Walker:
    """Bounds-checked walk over a GGUF header (layout: gguf-py docs/gguf.md) before GGUFReader.

    GGUFReader trusts every length and count; a corrupted count makes it allocate without limit
    (seen: 12 GB for a 0.5 MB file with one flipped byte). This walk touches only the header and
    refuses any length that runs past the end of the file.
    """

    def __init__(self, data: bytes | mmap.mmap) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> int:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(f"length {n} at offset {self.pos} runs past the end of the file")
        start = self.pos
        self.pos += n
        return start

    def u32(self) -> int:
        return int(struct.unpack_from("<I", self.data, self.take(4))[0])

    def u64(self) -> int:
        return int(struct.unpack_from("<Q", self.data, self.take(8))[0])

    def string(self) -> None:
        self.take(self.u64())

    def value(self, vtype: int, depth: int = 0) -> None:
        if vtype in _SCALAR_SIZES:
            self.take(_SCALAR_SIZES[vtype])
        elif vtype == 8:
            self.string()
        elif vtype == 9 and depth < 4:
            item, count = self.u32(), self.u64()
            if item in _SCALAR_SIZES:
                self.take(count * _SCALAR_SIZES[item])
            elif count > len(self.data) - self.pos:  # every non-scalar item takes at least 1 byte
                raise ValueError(f"array of {count} items cannot fit in the file")
            else:
                for _ in range(count):
                    self.value(item, depth + 1)
        else:
            raise ValueError(f"unknown value type {vtype} at offset {self.pos}")

    def header(self) -> None:
        start = self.take(4)
        if bytes(self.data[start : start + 4]) != b"GGUF":
            raise ValueError("no GGUF magic")
        if self.u32() not in (2, 3):
            raise ValueError("unsupported GGUF version")
        n_tensors, n_kv = self.u64(), self.u64()
        if n_kv > len(self.data) or n_tensors > len(self.data):
            raise ValueError("tensor or key count larger than the file")
        for _ in range(n_kv):
            self.string()
            self.value(self.u32())
        for _ in range(n_tensors):
            self.string()
            dims = self.u32()
            if dims > _MAX_DIMS:
                raise ValueError(f"tensor with {dims} dimensions")
            shape = [self.u64() for _ in range(dims)]
            ggml_type = self.u32()
            self.take(8)  # data offset
            import gguf

            block, type_size = gguf.GGML_QUANT_SIZES.get(gguf.GGMLQuantizationType(ggml_type), (0, 0))
            if not block or math.prod(shape) // block * type_size > len(self.data):
                raise ValueError(f"tensor of type {ggml_type} and shape {shape} does not fit in the file")


def check_gguf_header(path: Path) -> None:
    """Raise InputError unless every length in the GGUF header fits inside the file."""
    try:
        with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            _Walker(data).header()
    except (OSError, ValueError, struct.error, OverflowError) as exc:
        raise InputError("model", f"{path.name} is not a readable GGUF file ({exc})", _fix()) from None


def _fix() -> str:
    return "use a GGUF written by llama.cpp's convert_hf_to_gguf.py (or re-download it)"


class _Meta:
    """Typed reads of one GGUF's key/value metadata."""

    def __init__(self, reader: gguf.GGUFReader, arch: str) -> None:
        self.reader = reader
        self.arch = arch

    def raw(self, key: str) -> Any:
        field = self.reader.fields.get(key.format(arch=self.arch))
        if field is None:
            return None
        try:
            return field.contents()
        except (ValueError, IndexError, UnicodeDecodeError):
            raise InputError(f"gguf: {key.format(arch=self.arch)}", "unreadable value", _fix()) from None

    def int_(self, key: str, default: int | None = None, minimum: int = 1) -> int:
        value = self.raw(key)
        name = key.format(arch=self.arch)
        if value is None:
            if default is not None:
                return default
            raise InputError(f"gguf: {name}", "missing (required to size the model)", _fix())
        if isinstance(value, list):  # per-layer arrays (head counts, ffn widths): the largest value
            value = max((v for v in value if isinstance(v, int | float)), default=0)
        if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
            raise InputError(f"gguf: {name}", f"expected an integer, got {value!r:.40}", _fix())
        if int(value) < minimum:
            raise InputError(f"gguf: {name}", f"{value} is below {minimum}", _fix())
        return int(value)

    def opt_int(self, key: str) -> int | None:
        return self.int_(key, default=-1, minimum=0) if self.raw(key) is not None else None


def file_type_name(value: int | None) -> str | None:
    """`general.file_type` as llama.cpp names it (15 -> "Q4_K_M", 0 -> "F32")."""
    if value is None:
        return None
    import gguf

    try:
        name = gguf.LlamaFileType(value).name
    except ValueError:
        return None
    return name.removeprefix("MOSTLY_").removeprefix("ALL_")


def _layer_kinds(
    m: _Meta, n_layers: int, *, mla: bool, kv_per_layer: Sequence[int] | None
) -> tuple[list[LayerKind], int | None]:
    base: LayerKind = "mla" if mla else "full"
    kinds: list[LayerKind] = [base] * n_layers
    if kv_per_layer is not None and len(kv_per_layer) == n_layers:
        # hybrid recurrent models write head_count_kv per layer with 0 for SSM / linear layers
        kinds = [base if kv else "linear" for kv in kv_per_layer]
    interval = m.opt_int("{arch}.full_attention_interval")
    if interval:  # qwen3next: every interval-th layer is full attention, the rest Gated DeltaNet
        kinds = [base if (i + 1) % interval == 0 else "linear" for i in range(n_layers)]
    window = m.opt_int("{arch}.attention.sliding_window") or None
    if window:
        pattern = m.raw("{arch}.attention.sliding_window_pattern")
        if isinstance(pattern, list) and len(pattern) == n_layers:
            kinds = ["sliding" if p else k for p, k in zip(pattern, kinds, strict=True)]
        else:
            n = pattern if isinstance(pattern, int) and pattern > 0 else _SWA_PATTERN.get(m.arch)
            if n:
                kinds = ["sliding" if (i % n) < n - 1 and k == base else k for i, k in enumerate(kinds)]
    if "sliding" not in kinds:
        window = None
    return kinds, window


def _linear_from_tensors(reader: gguf.GGUFReader, m: _Meta, kinds: Sequence[LayerKind]) -> LinearAttention:
    """Linear-layer state from the ssm.* keys; mixer weights counted from the layer's own tensors."""
    linear_layers = [i for i, k in enumerate(kinds) if k == "linear"]
    per_layer: dict[int, int] = dict.fromkeys(linear_layers, 0)
    for t in reader.tensors:
        parts = t.name.split(".")
        layer = int(parts[1]) if len(parts) > 2 and parts[0] == "blk" and parts[1].isdigit() else -1
        if layer in per_layer and not parts[2].startswith("ffn_") and not parts[2].endswith("_norm"):
            per_layer[layer] += int(t.n_elements)
    params = max(per_layer.values(), default=0)
    # llama.cpp qwen3next / mamba2 keys: state_size = key head dim (d_state), group_count = key
    # heads, time_step_rank = value heads, inner_size = value heads x value head dim.
    d_state = m.int_("{arch}.ssm.state_size", default=0, minimum=0)
    inner = m.int_("{arch}.ssm.inner_size", default=0, minimum=0)
    groups = m.int_("{arch}.ssm.group_count", default=0, minimum=0)
    kernel = m.int_("{arch}.ssm.conv_kernel", default=0, minimum=0)
    state = inner * d_state  # v_heads x v_dim x k_dim (Gated DeltaNet) / inner x d_state (Mamba2)
    conv_dim = inner + 2 * groups * d_state  # conv over x (or v) and the B/C (or q/k) channels
    return LinearAttention(
        state_elements_per_layer=state,
        conv_elements_per_layer=conv_dim * max(kernel - 1, 0),
        params_per_layer=params,
    )


def spec_from_gguf(path: str | Path) -> ModelSpec:
    """Read a .gguf file's metadata and tensor table (no tensor data) into a ModelSpec."""
    file = Path(path)
    if not file.is_file():
        raise InputError("model", f"{file} is not a file", "pass the path of a .gguf file")
    split = _SPLIT.match(file.name)
    if split is not None and split["i"] != "00001":  # metadata lives in the first part
        part1 = file.with_name(f"{split['stem']}-00001-of-{split['n']}.gguf")
        if part1.is_file():
            file = part1
    check_gguf_header(file)
    import gguf

    try:
        reader = gguf.GGUFReader(file, "r")
    except (ValueError, OSError, KeyError, IndexError, TypeError, OverflowError, struct.error) as exc:
        raise InputError("model", f"{file.name} is not a readable GGUF file ({exc})", _fix()) from None
    m = _Meta(reader, "")
    arch = m.raw("general.architecture")
    if not isinstance(arch, str) or not arch:
        raise InputError("gguf: general.architecture", "missing", _fix())
    m = _Meta(reader, arch)
    try:
        return _build(reader, m, file)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InputError(f"gguf: {where}", str(first.get("msg", "invalid value")), _fix()) from None


def _split_tensors(reader: gguf.GGUFReader, m: _Meta, file: Path) -> tuple[set[str], int | None]:
    """Tensor names and exact bytes over all parts of a split GGUF (llama.cpp gguf-split naming
    `<stem>-0000i-of-0000n.gguf`, key `split.count`); bytes None when a part is missing."""
    names = {t.name for t in reader.tensors}
    total: int | None = sum(int(t.n_bytes) for t in reader.tensors)
    count = m.int_("split.count", default=1, minimum=1)
    match = _SPLIT.match(file.name)
    if count <= 1 or match is None:
        return names, total
    for i in range(1, count + 1):
        part = file.with_name(f"{match['stem']}-{i:05d}-of-{count:05d}.gguf")
        if part == file:
            continue
        if not part.is_file():
            total = None
            continue
        check_gguf_header(part)
        import gguf

        try:
            other = gguf.GGUFReader(part, "r")
        except (ValueError, OSError, KeyError, IndexError, TypeError) as exc:
            raise InputError("model", f"{part.name} is not a readable GGUF file ({exc})", _fix()) from None
        names |= {t.name for t in other.tensors}
        if total is not None:
            total += sum(int(t.n_bytes) for t in other.tensors)
    return names, total


# far above any released model (the deepest have ~130 blocks); a count past it is a corrupt header
MAX_LAYERS = 4096


def _build(reader: gguf.GGUFReader, m: _Meta, file: Path) -> ModelSpec:
    arch = m.arch
    names, weight_bytes = _split_tensors(reader, m, file)
    hidden = m.int_("{arch}.embedding_length")
    n_layers = m.int_("{arch}.block_count")
    if n_layers > MAX_LAYERS:  # a corrupt count would size per-layer lists of billions of entries
        raise InputError(f"gguf: {arch}.block_count", f"{n_layers} layers is not a real model", _fix())
    heads = m.int_("{arch}.attention.head_count")
    kv_raw = m.raw("{arch}.attention.head_count_kv")
    kv_per_layer = kv_raw if isinstance(kv_raw, list) else None
    kv_heads = m.int_("{arch}.attention.head_count_kv", default=heads)
    if kv_heads < 1 or kv_heads > heads:
        raise InputError(f"gguf: {arch}.attention.head_count_kv", f"{kv_heads} vs {heads} heads", _fix())
    tokens = reader.fields.get("tokenizer.ggml.tokens")  # array length without decoding every token
    vocab = m.opt_int("{arch}.vocab_size") or (len(tokens.data) if tokens is not None else 0)
    if not vocab:
        raise InputError(f"gguf: {arch}.vocab_size", "missing and no tokenizer.ggml.tokens", _fix())
    context = m.int_("{arch}.context_length")
    head_dim = m.int_("{arch}.attention.key_length", default=hidden // heads)
    v_dim = m.int_("{arch}.attention.value_length", default=head_dim)

    mla = None
    rank = m.opt_int("{arch}.attention.kv_lora_rank")
    if rank:
        # deepseek2: key_length(_mla) = nope + rope, value_length(_mla) = v; newer files write the
        # absorbed sizes (rank + rope) in key_length and the per-head sizes in *_mla.
        rope = m.int_("{arch}.rope.dimension_count", default=64, minimum=0)
        qk = m.opt_int("{arch}.attention.key_length_mla") or head_dim
        v = m.opt_int("{arch}.attention.value_length_mla") or v_dim
        mla = MLA(
            kv_lora_rank=rank,
            qk_rope_head_dim=rope,
            qk_nope_head_dim=max(qk - rope, 0),
            v_head_dim=v,
            q_lora_rank=m.opt_int("{arch}.attention.q_lora_rank") or None,
            index_head_dim=m.opt_int("{arch}.attention.indexer.key_length") or 0,
            index_n_heads=m.opt_int("{arch}.attention.indexer.head_count") or 0,
        )
        head_dim, v_dim = qk, v

    kinds, window = _layer_kinds(m, n_layers, mla=mla is not None, kv_per_layer=kv_per_layer)
    linear = _linear_from_tensors(reader, m, kinds) if "linear" in kinds else None

    ff = m.int_("{arch}.feed_forward_length", default=0, minimum=0)
    moe = None
    n_exp = m.opt_int("{arch}.expert_count")
    if n_exp and n_exp > 1:
        expert_ff = m.int_("{arch}.expert_feed_forward_length", default=ff)
        shared = m.int_("{arch}.expert_shared_count", default=0, minimum=0)
        shared_ff = m.int_("{arch}.expert_shared_feed_forward_length", default=0, minimum=0)
        if shared and not shared_ff:
            shared_ff = expert_ff  # deepseek2: shared experts have the routed width
        elif shared_ff and not shared:
            shared = 1  # qwen2moe/qwen3next: one shared expert of that width
        moe = MoE(
            num_experts=n_exp,
            experts_per_token=m.int_("{arch}.expert_used_count"),
            expert_intermediate_size=expert_ff,
            shared_experts=shared if shared_ff else 0,
            shared_intermediate_size=shared_ff if shared else 0,
            first_dense_layers=m.int_("{arch}.leading_dense_block_count", default=0, minimum=0),
            latent_size=m.opt_int("{arch}.moe_latent_size") or None,
        )
        if not moe.first_dense_layers:
            ff = 0

    file_type = file_type_name(m.opt_int("general.file_type"))
    name = m.raw("general.name")
    return ModelSpec(
        name=name if isinstance(name, str) and name else file.stem,
        source="gguf",
        architecture=arch,
        hidden_size=hidden,
        num_layers=n_layers,
        vocab_size=vocab,
        intermediate_size=ff,
        num_attention_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        v_head_dim=v_dim if v_dim != head_dim else None,
        layer_kinds=tuple(kinds),
        sliding_window=window,
        attention_sinks=any(n.endswith("attn_sinks.weight") for n in names),
        mla=mla,
        moe=moe,
        linear=linear,
        # llama.cpp reuses token_embd when there is no output.weight (tied embeddings)
        tie_word_embeddings="output.weight" not in names,
        max_context=context,
        mtp_layers=m.int_("{arch}.nextn_predict_layers", default=0, minimum=0),
        weight_bytes_exact=weight_bytes,
        native_dtype=file_type or "gguf",
        quant_method="gguf",
        qk_norm=any(n.endswith("attn_q_norm.weight") for n in names),
        attention_bias=any(n.endswith("attn_q.bias") for n in names),
    )
