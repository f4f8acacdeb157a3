"""One test per ranking rule of garrison.planner.ranking (and the recommendation's rules)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from garrison.catalogue import Catalogue
from garrison.errors import InputError
from garrison.planner.model_refs import load_model_ref
from garrison.planner.plan import ranked_options
from garrison.planner.ranking import Ranked, rank_key, weights_tier
from garrison.requirements import ModelRef, Requirements
from planner.helpers import quick_plan, requirements


def _req(**kw: object) -> Requirements:
    data = requirements(**{k: v for k, v in kw.items() if k not in ("top",)})
    data.update(kw.get("top", {}))  # type: ignore[arg-type]
    return Requirements.model_validate(data)


def _ranked(cat: Catalogue, model: str, **top: object) -> list[Ranked]:
    """Every ranked option of one model for a 10-user chat use case, before simulation."""
    req = _req(models=[model], top=top.get("top", {k: v for k, v in top.items() if k != "top"}))
    return ranked_options(req, "x", ModelRef(id=model), catalogue=cat, load_model=load_model_ref)


def test_rule_within_budget_first(cat: Catalogue) -> None:
    ranked = _ranked(cat, "qwen3-8b")
    cheap, dear = ranked[0], ranked[-1]
    over = replace(cheap, within_budget=False)
    within = replace(dear, within_budget=True, tier=1)  # even a worse tier and a higher TCO
    assert sorted([over, within], key=rank_key)[0] is within
    # and through the planner: a budget the cheapest option only just meets picks it
    d = quick_plan(_req(models=["qwen3-8b"], top={"budget": {"capex_usd": cheap.capex_mid + 1}}), cat)
    assert d.costs.capex_usd.expected <= cheap.capex_mid + 1 + d.costs.capex_usd.expected * 0.5


def test_rule_native_formats_are_not_a_quality_risk(cat: Catalogue) -> None:
    gpt = _ranked(
        cat, "gpt-oss-120b", top={"hardware": {"allowed_gpus": ["h100-sxm", "rtx-pro-6000-blackwell"]}}
    )
    mxfp4 = [r for r in gpt if r.sized.option.fmt.id == "mxfp4"]
    assert mxfp4 and all(weights_tier(r.sized) == 0 for r in mxfp4)
    assert gpt[0].sized.option.fmt.id == "mxfp4"  # native MXFP4 first, never Q8_0 on many more GPUs
    assert gpt[0].published
    qwen = _ranked(cat, "qwen3-32b")
    awq = [r for r in qwen if r.sized.option.fmt.id == "awq"]
    assert awq and all(r.tier == 1 for r in awq)  # re-quantised to 4 bits after release
    assert qwen[0].tier == 0


def test_rule_published_checkpoint_before_online_quantisation(cat: Catalogue) -> None:
    qwen = _ranked(cat, "qwen3-32b")
    fp8 = next(r for r in qwen if r.sized.option.fmt.id == "fp8")
    assert fp8.published  # Qwen/Qwen3-32B-FP8 exists
    online = replace(fp8, published=False)
    assert sorted([online, fp8], key=rank_key)[0] is fp8


def test_rule_owned_kit_is_free(cat: Catalogue) -> None:
    owned = {
        "hardware": {"owned_gpus": [{"name": "rtx-4090", "count": 2, "per_server": 2}], "owned_only": True}
    }
    d = quick_plan(_req(models=["qwen3-8b"], top=owned), cat)
    assert d.deployments and d.costs.capex_usd.high == 0
    assert d.costs.annual_maintenance_usd == 0 and d.costs.annual_power_usd > 0
    assert all(s.owned for s in d.servers)
    bought = quick_plan(_req(models=["qwen3-8b"], top={"hardware": {"allowed_gpus": ["rtx-4090"]}}), cat)
    assert bought.costs.capex_usd.low > 0 and bought.costs.annual_maintenance_usd > 0


def test_rule_consumer_gpus_excluded_under_compliance(cat: Catalogue) -> None:
    with_compliance = _ranked(cat, "qwen3-8b", top={"security": {"compliance": ["HIPAA"]}})
    assert all(
        r.sized.option.gpu is None or r.sized.option.gpu.segment != "consumer" for r in with_compliance
    )
    without = _ranked(cat, "qwen3-8b")
    assert any(r.sized.option.gpu is not None and r.sized.option.gpu.segment == "consumer" for r in without)


def test_rule_batching_engine_before_llamacpp_at_equal_cost(cat: Catalogue) -> None:
    ranked = _ranked(cat, "qwen3-8b", top={"hardware": {"allowed_gpus": ["rtx-4090"]}})
    vllm = next(r for r in ranked if r.sized.option.engine == "vllm")
    llama = next(r for r in ranked if r.sized.option.engine == "llama.cpp")
    same_cost = replace(llama, tco=vllm.tco, tier=vllm.tier, published=vllm.published)
    assert sorted([same_cost, vllm], key=rank_key)[0] is vllm


def test_rule_smaller_tensor_parallel_group_at_equal_cost(cat: Catalogue) -> None:
    ranked = _ranked(cat, "qwen3-32b", top={"hardware": {"allowed_gpus": ["rtx-4090"]}})
    tp1 = next((r for r in ranked if r.sized.option.tp == 1), None)
    tp2 = next(r for r in ranked if r.sized.option.tp == 2)
    base = tp1 or replace(tp2, sized=replace(tp2.sized, option=replace(tp2.sized.option, tp=1)))
    equal = replace(tp2, tco=base.tco, tier=base.tier, published=base.published)
    assert sorted([equal, base], key=rank_key)[0] is base


def test_rule_licence_filter(cat: Catalogue) -> None:
    d = quick_plan(_req(models=["recommend"], licences=["apache-2.0"]), cat)
    assert d.deployments and d.deployments[0].licence == "apache-2.0"
    text = "\n".join(d.deployments[0].reasons)
    assert "excluded (licence outside apache-2.0)" in text
    assert "excluded (licence not established" in text  # unverified licences are never recommended
    with pytest.raises(InputError, match="gemma-3-27b-it"):
        quick_plan(_req(models=["google/gemma-3-27b-it"], licences=["apache-2.0", "mit"]), cat)


@pytest.mark.parametrize(("floor", "model"), [(20, "gpt-oss-20b"), (30, "gemma-4-31b-it")])
def test_rule_recommendation_picks_the_smallest_model_meeting_the_floor(
    cat: Catalogue, floor: float, model: str
) -> None:
    d = quick_plan(_req(models=["recommend"], licences=["apache-2.0", "mit"], quality_floor=floor), cat)
    dep = d.deployments[0]
    assert dep.model_id == model
    score = cat.quality["aa-intelligence-v4"][model].score
    assert score >= floor
    assert f"at least the quality floor {floor:g}" in dep.reasons[0]
    assert "quality index used: Artificial Analysis Intelligence Index v4" in dep.reasons[1]


def test_recommendation_with_a_budget_takes_the_best_model_that_fits(cat: Catalogue) -> None:
    d = quick_plan(
        _req(models=["recommend"], licences=["apache-2.0", "mit"], top={"budget": {"capex_usd": 60000}}), cat
    )
    dep = d.deployments[0]
    assert "fits the 60,000 USD budget" in dep.reasons[0]
    aa = cat.quality["aa-intelligence-v4"]
    scored = [m for m, q in aa.items() if q.score > aa[dep.model_id].score]
    # every higher-scoring model was either filtered out or over the budget
    assert all(m not in {x.model_id for x in d.deployments} for m in scored)


def test_recommendation_for_fim_never_offers_a_model_without_fim(cat: Catalogue) -> None:
    d = quick_plan(_req(kind="code", fim=True, models=["recommend"]), cat)
    dep = d.deployments[0]
    assert cat.models[dep.model_id].fim
    # ranked on the FIM index, never on the general one (their scores are not comparable)
    assert "HumanEval-FIM" in dep.reasons[0] and "Artificial Analysis" not in dep.reasons[0]
    assert "quality index used: HumanEval-FIM" in dep.reasons[1]


def _fim_scores(cat: Catalogue) -> dict[str, float]:
    return {m: q.score for m, q in cat.quality["humaneval-fim"].items()}


@pytest.mark.parametrize("floor", [83.0, 85.0, 88.0])
def test_rule_fim_recommendation_picks_the_smallest_good_enough_fim_model(
    cat: Catalogue, floor: float
) -> None:
    """Code completion with FIM: the least expensive FIM model at or above the floor on the FIM index."""
    req = _req(
        kind="code",
        fim=True,
        models=["recommend"],
        licences=["apache-2.0", "mit"],
        quality_floor=floor,
        load={"users": 40},
        latency={"ttft_p95_ms": 500, "itl_p95_ms": 30},
    )
    d = quick_plan(req, cat)
    dep = d.deployments[0]
    fim = _fim_scores(cat)
    assert dep.model_id in fim and fim[dep.model_id] >= floor, (dep.model_id, fim)
    assert cat.models[dep.model_id].fim and cat.models[dep.model_id].licence_id in ("apache-2.0", "mit")
    assert f"at least the quality floor {floor:g}" in dep.reasons[0]
    # nothing smaller that is good enough was passed over: every FIM model under an accepted licence that
    # scores at least the floor and has fewer parameters costs at least as much
    picked = cat.models[dep.model_id]
    for m, score in fim.items():
        e = cat.models[m]
        if (
            score >= floor
            and e.licence_id in ("apache-2.0", "mit")
            and e.params_total_b < picked.params_total_b
        ):
            alt = quick_plan(
                req.model_copy(
                    update={
                        "use_cases": (
                            req.use_cases[0].model_copy(update={"models": (m,), "quality_floor": None}),
                        )
                    }
                ),
                cat,
            )
            assert alt.costs.tco_usd.expected >= d.costs.tco_usd.expected, (m, dep.model_id)


def test_fim_floor_above_every_score_falls_back_to_unscored_and_says_so(cat: Catalogue) -> None:
    d = quick_plan(
        _req(kind="code", fim=True, models=["recommend"], licences=["apache-2.0", "mit"], quality_floor=99),
        cat,
    )
    dep = d.deployments[0]
    assert cat.models[dep.model_id].fim
    assert dep.model_id not in _fim_scores(cat)
    assert "unscored" in dep.reasons[0]


def test_fim_recommendation_never_offers_a_non_production_licence(cat: Catalogue) -> None:
    """Codestral 22B is under the Mistral Non-Production License: only when the use case names it."""
    base = {"kind": "code", "fim": True, "models": ["recommend"], "quality_floor": 82.0}
    d = quick_plan(_req(**base), cat)
    assert d.deployments[0].licence != "mnpl"
    assert "excluded (licence forbids production use" in "\n".join(d.deployments[0].reasons)
    allowed = quick_plan(_req(**base, licences=["mnpl"]), cat)
    assert allowed.deployments[0].model_id == "codestral-22b"
