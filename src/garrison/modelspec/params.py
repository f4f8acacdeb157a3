"""Parameter counts of a ModelSpec, split into the groups that sizing treats differently.

Formulas follow the weight shapes in huggingface/transformers modeling files: llama
(`LlamaAttention`, `LlamaMLP`), qwen3 / qwen3_moe (`q_norm`, `k_norm`, `Qwen3MoeSparseMoeBlock`),
qwen2_moe / qwen3_next (`shared_expert`, `shared_expert_gate`, gated attention), deepseek_v3
(`DeepseekV3Attention` MLA projections, `DeepseekV3MoE`, `DeepseekV3TopkRouter` with
`e_score_correction_bias`), gpt_oss (`GptOssAttention.sinks`) and DeepSeek's MTP module
(`eh_proj`, `enorm`, `hnorm`, `shared_head`, inference/model.py of DeepSeek-V3). Linear-attention
mixers are counted in `from_config` (their params_per_layer) because their shape keys differ per model.

Biases of the MLP/expert matrices and the extra norms of a few models (gemma's four norms per layer)
are left out: under 0.1% of any model here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields

from garrison.modelspec.spec import ModelSpec

# Groups a quantiser converts by default (linear layers) vs keeps in 16-bit (lookups, norms, router,
# output head, vision tower): vLLM/llama.cpp/AutoAWQ practice; a checkpoint's own
# quantization_config may keep more (ModelSpec.quant_skip).
QUANTIZABLE_GROUPS = ("attention", "linear_mixers", "dense_mlp", "experts", "shared_experts", "mtp")
KEPT_16BIT_GROUPS = ("embedding", "lm_head", "norms", "router", "vision")


@dataclass(frozen=True)
class ParamCounts:
    """Parameter counts by group; `total` is every weight, `active` the weights one token uses."""

    embedding: int
    lm_head: int  # 0 when tied to the embedding
    attention: int  # q/k/v/o (or MLA) projections, their biases, q/k norms, sinks
    linear_mixers: int  # linear-attention / SSM layers replacing attention
    dense_mlp: int  # dense MLP layers (every layer of a dense model, the leading layers of an MoE)
    experts_total: int  # all routed experts
    experts_active: int  # routed experts used per token (experts_per_token of them)
    shared_experts: int  # always-on shared experts (+ latent MoE projections)
    router: int  # expert gates (+ correction bias / shared-expert gate)
    norms: int  # layer RMSNorms and the final norm
    mtp: int  # multi-token-prediction layers (speculative decoding; not used for plain decoding)
    vision: int  # vision tower + projector
    total: int
    active: int  # per token, incl. embedding row lookups counted as the whole table (card convention)
    quantizable: int  # weights a quantiser converts (QUANTIZABLE_GROUPS minus spec.quant_skip)
    kept_16bit: int  # the rest: embedding, lm_head, norms, router, vision (+ spec.quant_skip groups)
    quantizable_active: int  # the quantizable share of `active`
    kept_16bit_active: int  # the 16-bit share of `active`

    @property
    def active_non_embedding(self) -> int:
        """`active` without the embedding table (OpenAI's gpt-oss convention; decode never reads it)."""
        return self.active - self.embedding

    def as_dict(self) -> dict[str, int]:
        """All fields as a plain dict (for JSON output)."""
        return {f.name: int(getattr(self, f.name)) for f in fields(self)}


def _attention_layer(spec: ModelSpec, kind: str) -> int:
    """Weights of one attention block (standard/GQA/MQA or MLA)."""
    h = spec.hidden_size
    n_q = spec.num_attention_heads
    if kind == "mla" and spec.mla is not None:
        m = spec.mla
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        # q_a_proj (h -> q_lora) + q_a_layernorm + q_b_proj (q_lora -> heads x qk_head_dim), or q_proj
        r = m.q_lora_rank
        q = h * r + r + r * n_q * qk if r else h * n_q * qk
        # kv_a_proj_with_mqa (h -> kv_lora + rope) + kv_a_layernorm + kv_b_proj (kv_lora -> heads x
        # (nope + v))
        kv = h * (m.kv_lora_rank + m.qk_rope_head_dim) + m.kv_lora_rank
        kv += m.kv_lora_rank * n_q * (m.qk_nope_head_dim + m.v_head_dim)
        o = n_q * m.v_head_dim * h  # o_proj
        indexer = 0
        if m.index_head_dim and m.index_n_heads:
            # DeepSeek-V3.2 `Indexer`: wq_b (q_lora -> idx_heads x idx_dim), wk (h -> idx_dim),
            # k_norm (LayerNorm weight + bias), weights_proj (h -> idx_heads)
            q_in = m.q_lora_rank or h
            indexer = q_in * m.index_n_heads * m.index_head_dim + h * m.index_head_dim
            indexer += 2 * m.index_head_dim + h * m.index_n_heads
        return q + kv + o + indexer
    d = spec.head_dim
    dv = spec.v_head_dim or d
    n_kv = spec.num_kv_heads
    shares_v = False
    if kind == "full" and spec.global_head_dim:  # Gemma-4 global layers: wider heads, fewer KV heads
        d = dv = spec.global_head_dim
        n_kv = spec.global_kv_heads or n_kv
        shares_v = spec.global_k_eq_v
    q = h * n_q * d * (2 if spec.attn_output_gate else 1)  # Qwen3-Next q_proj also emits the gate
    k = h * n_kv * d
    v = 0 if shares_v else h * n_kv * dv
    o = n_q * dv * h
    bias = (n_q * d + n_kv * d + n_kv * dv) if spec.attention_bias else 0
    qk_norm = 2 * d if spec.qk_norm else 0  # per-head RMSNorm weights shared by all heads
    sinks = n_q if spec.attention_sinks else 0  # gpt-oss: one learned sink logit per head
    return q + k + v + o + bias + qk_norm + sinks


def _mlp(spec: ModelSpec, width: int) -> int:
    """Gated (gate, up, down) or plain (up, down) MLP of the given intermediate width."""
    return (3 if spec.mlp_gated else 2) * spec.hidden_size * width


def _moe_layer(spec: ModelSpec) -> tuple[int, int, int, int]:
    """(experts_total, experts_active, shared, router) weights of one MoE layer."""
    moe = spec.moe
    assert moe is not None
    h = spec.hidden_size
    width_in = moe.latent_size or h  # latent MoE: experts run in the latent width
    expert = 3 * width_in * moe.expert_intermediate_size  # gate_proj, up_proj, down_proj
    shared = moe.shared_experts * 3 * h * moe.shared_intermediate_size
    if moe.latent_size:
        shared += 2 * h * moe.latent_size + moe.latent_size  # down/up latent projections + norm
    router = h * moe.num_experts + moe.num_experts  # gate weight + correction bias (noaux_tc) / bias
    if moe.shared_experts == 1 and moe.shared_intermediate_size and not moe.latent_size:
        router += h  # Qwen-style shared_expert_gate (h -> 1); DeepSeek has none (within 0.001%)
    return moe.num_experts * expert, moe.experts_per_token * expert, shared, router


@functools.lru_cache(maxsize=512)  # specs are frozen; the planner asks for the same counts many times
def param_counts(spec: ModelSpec) -> ParamCounts:
    """Count the parameters of `spec` by group, in total and per token."""
    h = spec.hidden_size
    embedding = spec.vocab_size * h + spec.per_layer_embedding_params
    lm_head = 0 if spec.tie_word_embeddings else spec.vocab_size * h

    attention = linear = 0
    for kind in spec.layer_kinds:
        if kind == "linear":
            linear += spec.linear.params_per_layer if spec.linear else 0
        elif kind != "mlp":
            attention += _attention_layer(spec, kind)

    n_layers = spec.num_layers
    experts_total = experts_active = shared = router = 0
    if spec.moe is not None:
        dense_layers = min(spec.moe.first_dense_layers, n_layers)
        moe_layers = n_layers - dense_layers
        e_tot, e_act, sh, rt = _moe_layer(spec)
        experts_total, experts_active = moe_layers * e_tot, moe_layers * e_act
        shared, router = moe_layers * sh, moe_layers * rt
        mlp_layers = dense_layers
    else:
        mlp_layers = n_layers
    if spec.dense_mlp_layers is not None:
        mlp_layers = spec.dense_mlp_layers
    dense_mlp = mlp_layers * _mlp(spec, spec.intermediate_size)
    norms = 2 * h * n_layers + h  # input_layernorm + post_attention_layernorm per layer, final norm

    mtp = 0
    if spec.mtp_layers:
        # one MTP module = a full decoder layer (the last layer's kind, MoE if the model is) + eh_proj
        # (2h -> h) + enorm, hnorm, final norm; DeepSeek-V3-format checkpoints add embed + head copies.
        if spec.mtp_intermediate_size:
            mlp = _mlp(spec, spec.mtp_intermediate_size)
        elif spec.moe is not None:
            mlp = sum(_moe_layer(spec)[i] for i in (0, 2, 3))
        else:
            mlp = _mlp(spec, spec.intermediate_size)
        last_kind = "mla" if spec.mla is not None else "full"
        per = _attention_layer(spec, last_kind) + mlp + 2 * h * h + 5 * h
        if spec.mtp_own_embeddings:
            per += 2 * spec.vocab_size * h
        mtp = spec.mtp_layers * per

    groups = {
        "embedding": embedding,
        "lm_head": lm_head,
        "attention": attention,
        "linear_mixers": linear,
        "dense_mlp": dense_mlp,
        "experts": experts_total,
        "shared_experts": shared,
        "router": router,
        "norms": norms,
        "mtp": mtp,
        "vision": spec.vision_params,
    }
    active_groups = dict(groups, experts=experts_active, mtp=0, vision=0)
    total = sum(groups.values())
    active = sum(active_groups.values())
    skip = set(spec.quant_skip)
    quantizable = sum(v for k, v in groups.items() if k in QUANTIZABLE_GROUPS and k not in skip)
    quantizable_active = sum(v for k, v in active_groups.items() if k in QUANTIZABLE_GROUPS and k not in skip)
    # groups kept 16-bit in a few layers only: that share of the group's layers
    routed = n_layers - min(spec.moe.first_dense_layers, n_layers) if spec.moe is not None else 0
    layers_of = {"dense_mlp": mlp_layers, "experts": routed, "shared_experts": routed}
    for group, n in spec.quant_skip_layers:
        if group in QUANTIZABLE_GROUPS and group not in skip:
            share = min(1.0, n / max(1, layers_of.get(group, n_layers)))
            quantizable -= int(groups[group] * share)
            quantizable_active -= int(active_groups[group] * share)
    return ParamCounts(
        embedding=embedding,
        lm_head=lm_head,
        attention=attention,
        linear_mixers=linear,
        dense_mlp=dense_mlp,
        experts_total=experts_total,
        experts_active=experts_active,
        shared_experts=shared,
        router=router,
        norms=norms,
        mtp=mtp,
        vision=spec.vision_params,
        total=total,
        active=active,
        quantizable=quantizable,
        kept_16bit=total - quantizable,
        quantizable_active=quantizable_active,
        kept_16bit_active=active - quantizable_active,
    )
