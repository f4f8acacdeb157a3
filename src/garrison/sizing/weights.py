"""Weight memory: which tensors a format quantises, its real bits per weight, and TP/PP sharding."""

from __future__ import annotations

from dataclasses import dataclass

from garrison.catalogue.schema import QuantFormat
from garrison.modelspec.params import ParamCounts
from garrison.modelspec.spec import ModelSpec


@dataclass(frozen=True)
class WeightBytes:
    """Weight bytes of one full model copy, split into what shards and what does not."""

    layers: float  # decoder layers (attention, MLP / experts, norms, linear mixers), routed experts included
    embedding: float  # input embedding (vocab-parallel under TP, first PP stage)
    lm_head: float  # output head (vocab-parallel under TP, last PP stage); 0 when tied
    vision: float  # vision tower, replicated on every TP rank of the first stage
    exact: bool  # True when taken from the files' headers
    experts: float = 0.0  # the routed experts' share of `layers`, as stored (no kernel padding)
    expert_width: int = 0  # each expert's intermediate width (what TP splits and kernels pad)
    expert_pad_multiple: int = 0  # the MoE kernels round the per-rank width up to this (0: no padding)

    def expert_pad(self, tp: int = 1, ep: bool = False) -> float:
        """Factor by which the loaded experts exceed the stored ones on one rank.

        vLLM's and SGLang's MXFP4 MoE kernels round each rank's expert intermediate width up to a
        multiple of 256 (`round_up(intermediate_size_per_partition, 256)` in the flashinfer / ROCm
        paths of `layers/quantization/mxfp4.py`; the Hopper Triton layout swizzle has the same
        effect). Measured: gpt-oss-20b loads 13.47 GiB on an H100 (llm-d empirical results) and
        gpt-oss-120b 64.38 GiB (vllm-project/vllm #33155), each 6.7 % more expert bytes than the
        files hold: 2880 rounded up to 3072. Under expert parallelism whole experts move, so the
        width is not split.
        """
        if not self.expert_pad_multiple or not self.expert_width:
            return 1.0
        width = self.expert_width if ep else -(-self.expert_width // tp)
        m = self.expert_pad_multiple
        return (-(-width // m) * m) / width

    @property
    def experts_loaded(self) -> float:
        """Routed-expert bytes as the engine holds them on one rank-set at TP 1 (padding included)."""
        return self.experts * self.expert_pad(1)

    @property
    def dense_layers(self) -> float:
        """Decoder weights every step reads whatever the routing: all layers but the routed experts."""
        return self.layers - self.experts

    @property
    def total(self) -> float:
        return self.layers + self.embedding + self.lm_head + self.vision + self.experts_loaded - self.experts

    def per_gpu(self, tp: int, pp: int, ep: bool = False) -> float:
        """Bytes on the busiest GPU.

        Under tensor parallelism each linear layer is split over `tp` ranks (Megatron-LM column /
        row parallel, Shoeybi et al. 2019); embeddings and the LM head are vocab-parallel. Under
        pipeline parallelism layers are split over `pp` stages; the first stage also holds the
        embedding (and a vision tower), the last the LM head, so the busiest stage holds one of them.
        Expert parallelism (`ep`, over the same `tp` ranks) gives each rank E / tp whole experts
        instead of a 1/tp slice of every expert: the same bytes unless the kernels pad the width.
        """
        pad_extra = self.experts * (self.expert_pad(tp, ep) - 1.0)
        layers = (self.layers + pad_extra) / (tp * pp)
        if pp == 1:
            return layers + (self.embedding + self.lm_head) / tp + self.vision
        first = layers + self.embedding / tp + self.vision
        last = layers + self.lm_head / tp
        return max(first, last)


_BITS_16 = 16.0
# MXFP4 (OCP microscaling): a 4-bit e2m1 value per weight plus one 8-bit e8m0 scale per 32 weights.
# DeepSeek-V4's `expert_dtype: fp4` experts use the same layout (ue8m0 scales, per its config).
MXFP4_BITS = 4 + 8 / 32
MXFP4_PAD_MULTIPLE = 256


def _bytes(params: float, bits: float) -> float:
    return params * bits / 8


def _expert_bits(spec: ModelSpec, fmt: QuantFormat, default_bits: float) -> float:
    """Bits per weight of the routed experts: the checkpoint's own expert dtype when it ships one
    (DeepSeek-V4 `expert_dtype: fp4`: experts FP4, everything else block FP8) and is served as
    shipped; otherwise what the format gives every quantised layer."""
    native = fmt.id.lower() in (spec.native_dtype.lower(), "auto")
    if spec.expert_bits is not None and native:
        return spec.expert_bits
    return default_bits


def weight_bytes(spec: ModelSpec, counts: ParamCounts, fmt: QuantFormat) -> WeightBytes:
    """Bytes of the weights stored in `fmt`.

    What a format converts follows the engines' conventions: FP8 / INT8 / AWQ / GPTQ / NVFP4
    quantise the linear layers of attention and MLP / experts and keep embeddings, norms, routers
    and (usually) the LM head in 16 bit (vLLM `modules_to_not_convert`, llm-compressor defaults).
    MXFP4 as shipped by gpt-oss converts only the expert MLPs (its quantization_config keeps
    `self_attn`, router, embeddings and lm_head in bf16). A GGUF file type's whole-file bits per
    weight already averages its per-tensor mix (embeddings and output included), so it applies
    to every parameter. `bits_per_weight` is the real storage cost including block scales and
    zero points (e.g. Q4_K: 144 bytes per 256 weights = 4.5 bpw; AWQ g128: 4 + 32/128 = 4.25).
    A checkpoint may store its groups at different widths (`expert_dtype`): experts then take theirs.
    """
    # Multi-token-prediction layers stay on disk: engines load them only when speculative decoding
    # with MTP is switched on (vLLM skips `model.layers.<n>` beyond num_hidden_layers otherwise).
    layer_params = counts.total - counts.embedding - counts.lm_head - counts.vision - counts.mtp
    width = spec.moe.expert_intermediate_size if spec.moe else 0
    pad = MXFP4_PAD_MULTIPLE if fmt.family == "mxfp4" and spec.moe else 0
    if spec.weight_bytes_exact is not None and fmt.id.lower() in (spec.native_dtype.lower(), "auto"):
        # the files are the truth: spread their exact total in proportion to the counted params
        scale = spec.weight_bytes_exact / max(1.0, counts.total)
        return WeightBytes(
            layers=layer_params * scale,
            embedding=counts.embedding * scale,
            lm_head=counts.lm_head * scale,
            vision=counts.vision * scale,
            exact=True,
            experts=counts.experts_total * scale,
            expert_width=width,
            expert_pad_multiple=pad,
        )
    bits = fmt.bits_per_weight
    if fmt.family in ("float", "gguf"):
        # bf16 / fp16 / fp32: every tensor at the same width; a GGUF type's whole-file average bits
        # already include embeddings and output
        expert_bits = _expert_bits(spec, fmt, bits)
        other = layer_params - counts.experts_total
        return WeightBytes(
            layers=_bytes(other, bits) + _bytes(counts.experts_total, expert_bits),
            embedding=_bytes(counts.embedding, bits),
            lm_head=_bytes(counts.lm_head, bits),
            vision=_bytes(counts.vision, bits if fmt.family == "float" else _BITS_16),
            exact=False,
            experts=_bytes(counts.experts_total, expert_bits),
            expert_width=width,
        )
    if fmt.family == "mxfp4":
        quantised = counts.experts_total
    else:  # the linear layers, minus what the checkpoint keeps unquantised (quant_skip)
        quantised = counts.quantizable - (0 if "mtp" in spec.quant_skip else counts.mtp)
    quantised = max(0, min(quantised, layer_params))
    experts_quantised = "experts" not in spec.quant_skip
    expert_bits = _expert_bits(spec, fmt, bits if experts_quantised else _BITS_16)
    experts_b = _bytes(counts.experts_total, expert_bits)
    # the rest of the quantised set (attention, dense MLP, shared experts ...) at the format's width
    other_q = max(0, quantised - (counts.experts_total if experts_quantised else 0))
    other_16 = max(0, layer_params - counts.experts_total - other_q)
    return WeightBytes(
        layers=_bytes(other_q, bits) + _bytes(other_16, _BITS_16) + experts_b,
        embedding=_bytes(counts.embedding, _BITS_16),
        lm_head=_bytes(counts.lm_head, _BITS_16),
        vision=_bytes(counts.vision, _BITS_16),
        exact=False,
        experts=experts_b,
        expert_width=width,
        expert_pad_multiple=pad,
    )


def expert_bytes_each(spec: ModelSpec, weights: WeightBytes, tp: int = 1, ep: bool = False) -> float:
    """Bytes of one routed expert as loaded (all its layers' share: bytes of one expert in one layer)."""
    moe = spec.moe
    if moe is None or not weights.experts:
        return 0.0
    moe_layers = max(1, spec.num_layers - moe.first_dense_layers)
    return weights.experts * weights.expert_pad(tp, ep) / (moe_layers * moe.num_experts)


def experts_touched(num_experts: int, experts_per_token: int, tokens: float) -> float:
    """Expected distinct experts one MoE layer reads for a step of `tokens` tokens.

    Each token picks `k` of `E` experts; with routing close to uniform the chance that a given
    expert is untouched by `t` tokens is (1 - k/E)^t, so E x (1 - (1 - k/E)^t) experts are read
    (the coverage formula of design.md; real routers are skewed, which makes this an upper bound
    on bytes and so a conservative step time).
    """
    if tokens <= 0:
        return 0.0
    p_miss: float = (1.0 - experts_per_token / num_experts) ** float(tokens)
    return num_experts * (1.0 - p_miss)
