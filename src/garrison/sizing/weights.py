"""Weight memory: which tensors a format quantises, its real bits per weight, and TP/PP sharding."""

from __future__ import annotations

from dataclasses import dataclass

from garrison.catalogue.schema import QuantFormat
from garrison.modelspec.params import ParamCounts
from garrison.modelspec.spec import ModelSpec


@dataclass(frozen=True)
class WeightBytes:
    """Weight bytes of one full model copy, split into what shards and what does not."""

    layers: float  # decoder layers (attention, MLP / experts, norms, linear mixers, MTP)
    embedding: float  # input embedding (vocab-parallel under TP, first PP stage)
    lm_head: float  # output head (vocab-parallel under TP, last PP stage); 0 when tied
    vision: float  # vision tower, replicated on every TP rank of the first stage
    exact: bool  # True when taken from the files' headers

    @property
    def total(self) -> float:
        return self.layers + self.embedding + self.lm_head + self.vision

    def per_gpu(self, tp: int, pp: int) -> float:
        """Bytes on the busiest GPU.

        Under tensor parallelism each linear layer is split over `tp` ranks (Megatron-LM column /
        row parallel, Shoeybi et al. 2019); embeddings and the LM head are vocab-parallel. Under
        pipeline parallelism layers are split over `pp` stages; the first stage also holds the
        embedding (and a vision tower), the last the LM head, so the busiest stage holds one of them.
        """
        layers = self.layers / (tp * pp)
        if pp == 1:
            return layers + (self.embedding + self.lm_head) / tp + self.vision
        first = layers + self.embedding / tp + self.vision
        last = layers + self.lm_head / tp
        return max(first, last)


_BITS_16 = 16.0


def _bytes(params: float, bits: float) -> float:
    return params * bits / 8


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
    """
    # Multi-token-prediction layers stay on disk: engines load them only when speculative decoding
    # with MTP is switched on (vLLM skips `model.layers.<n>` beyond num_hidden_layers otherwise).
    layer_params = counts.total - counts.embedding - counts.lm_head - counts.vision - counts.mtp
    if spec.weight_bytes_exact is not None and fmt.id.lower() in (spec.native_dtype.lower(), "auto"):
        # the files are the truth: spread their exact total in proportion to the counted params
        scale = spec.weight_bytes_exact / max(1.0, counts.total)
        return WeightBytes(
            layers=layer_params * scale,
            embedding=counts.embedding * scale,
            lm_head=counts.lm_head * scale,
            vision=counts.vision * scale,
            exact=True,
        )
    bits = fmt.bits_per_weight
    if fmt.family == "float":  # bf16 / fp16 / fp32: every tensor at the same width
        return WeightBytes(
            layers=_bytes(layer_params, bits),
            embedding=_bytes(counts.embedding, bits),
            lm_head=_bytes(counts.lm_head, bits),
            vision=_bytes(counts.vision, bits),
            exact=False,
        )
    if fmt.family == "gguf":  # whole-file average bits already include embeddings and output
        return WeightBytes(
            layers=_bytes(layer_params, bits),
            embedding=_bytes(counts.embedding, bits),
            lm_head=_bytes(counts.lm_head, bits),
            vision=_bytes(counts.vision, _BITS_16),
            exact=False,
        )
    if fmt.family == "mxfp4":
        quantised = counts.experts_total
    else:  # the linear layers, minus what the checkpoint keeps unquantised (quant_skip)
        quantised = counts.quantizable - (0 if "mtp" in spec.quant_skip else counts.mtp)
    quantised = max(0, min(quantised, layer_params))
    return WeightBytes(
        layers=_bytes(quantised, bits) + _bytes(layer_params - quantised, _BITS_16),
        embedding=_bytes(counts.embedding, _BITS_16),
        lm_head=_bytes(counts.lm_head, _BITS_16),
        vision=_bytes(counts.vision, _BITS_16),
        exact=False,
    )


def expert_bytes(spec: ModelSpec, fmt: QuantFormat) -> float:
    """Bytes of one routed expert (gate, up and down projections: 3 x hidden x expert width)."""
    if spec.moe is None:
        return 0.0
    params = 3 * spec.hidden_size * spec.moe.expert_intermediate_size
    return _bytes(params, fmt.bits_per_weight)


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
