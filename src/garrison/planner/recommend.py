"""`models: [recommend]`: a search over every catalogue model, not a guess.

Filters (a model must pass all): the use case's kind (chat/batch: a chat model; code: a code model, with
fill-in-the-middle when `fim: true`), a licence the catalogue has established (seen in a source or from
the model card; never one it only infers or does not know), a licence that allows production use unless
`use_cases[].licences` names it, one of `use_cases[].licences` when given, a context window of at least
`context_length`, and image input when `inputs` has `image`.

Quality (data/model_quality.yaml): the one index that applies to the use case (general intelligence for
chat, batch and agentic code; HumanEval-FIM for code completion with fill-in-the-middle). Scores of two
indices are never compared; the reasons name the index used.

Choice, among the models whose cheapest deployment meets the targets:
- `quality_floor` given: the least expensive model (TCO) scoring at least the floor, i.e. the smallest
  model that is good enough (at equal cost the higher score);
- else, a capex budget given: the highest-scoring model whose deployment fits the budget (ties: cheaper);
- else: the least expensive model scoring at least the index's default floor.
Models without a score on the index are chosen only when no scored model qualifies, and then the least
expensive one that meets the targets; the reasons say so.
"""

from __future__ import annotations

from dataclasses import dataclass

from garrison.catalogue import Catalogue
from garrison.catalogue.schema import ModelEntry, QualityIndex, QualityScore, QualityUse
from garrison.requirements import UseCase

# Floor when the catalogue has no index for a use (each index carries its own default_floor).
DEFAULT_QUALITY_FLOOR = 20.0
ESTABLISHED_LICENCE = ("seen", "recall")
# Licences that forbid production or commercial use (Mistral Non-Production License; Creative Commons
# non-commercial): a recommendation never offers them unless `use_cases[].licences` names them.
NON_PRODUCTION_LICENCES = frozenset({"mnpl", "cc-by-nc-4.0", "cc-by-nc-sa-4.0", "cc-by-nc-nd-4.0"})


@dataclass(frozen=True)
class ModelCandidate:
    """A catalogue model that passed the filters, with its quality score when the index has one."""

    entry: ModelEntry
    quality: QualityScore | None


@dataclass(frozen=True)
class Search:
    """The candidates of one use case and what the filters removed."""

    candidates: tuple[ModelCandidate, ...]
    excluded: dict[str, list[str]]  # reason -> model ids
    floor: float  # quality floor applied
    index: QualityIndex | None  # the index the candidates are scored on


def quality_use(uc: UseCase) -> QualityUse:
    """Which kind of quality ranks models for this use case (code completion with FIM has its own)."""
    return "code-fim" if uc.kind == "code" and uc.fim else uc.kind


def _kind_ok(m: ModelEntry, uc: UseCase) -> bool:
    if uc.kind == "code":
        return "code" in m.use_cases and (m.fim or not uc.fim)
    return "chat" in m.use_cases


def search(uc: UseCase, cat: Catalogue) -> Search:
    """Every catalogue model, filtered for this use case; scored models first (best score first)."""
    excluded: dict[str, list[str]] = {}
    kept: list[ModelCandidate] = []
    wanted = set(uc.licences)
    index = cat.quality_index_for(quality_use(uc))
    scores = cat.quality.get(index.index, {}) if index else {}
    # a catalogue row that is another row's published checkpoint (Qwen3-32B-FP8 of Qwen3-32B) is the same
    # model: it is searched as a format of that row, not twice
    as_checkpoint = {ck.repo for cks in cat.checkpoints.values() for ck in cks}
    for m in sorted(cat.models.values(), key=lambda e: e.id):
        reason = None
        if m.hf_id in as_checkpoint:
            reason = "a published checkpoint of another catalogue model (searched as its format)"
        elif not _kind_ok(m, uc):
            reason = (
                "fill-in-the-middle not documented"
                if uc.kind == "code" and uc.fim
                else f"not a {uc.kind} model"
            )
            if uc.kind == "code" and "code" not in m.use_cases:
                reason = "not a code model"
        elif m.licence_status not in ESTABLISHED_LICENCE or not m.licence_id:
            reason = "licence not established in the catalogue"
        elif wanted and m.licence_id not in wanted:
            reason = f"licence outside {', '.join(sorted(wanted))}"
        elif m.licence_id in NON_PRODUCTION_LICENCES and m.licence_id not in wanted:
            reason = "licence forbids production use (name it in use_cases[].licences to accept it)"
        elif m.context_max < uc.context_length:
            reason = f"context window below {uc.context_length}"
        elif "image" in uc.inputs and "vision" not in m.use_cases:
            reason = "no image input"
        if reason:
            excluded.setdefault(reason, []).append(m.id)
        else:
            kept.append(ModelCandidate(m, scores.get(m.id)))
    kept.sort(
        key=lambda c: (c.quality is None, -(c.quality.score if c.quality else 0.0), c.entry.params_total_b)
    )
    default = index.default_floor if index else DEFAULT_QUALITY_FLOOR
    floor = uc.quality_floor if uc.quality_floor is not None else default
    return Search(tuple(kept), excluded, floor, index)


@dataclass(frozen=True)
class Scored:
    """A candidate model and its best deployment's cost (None: no deployment meets the targets)."""

    candidate: ModelCandidate
    tco: float | None
    capex: float | None
    meets: bool  # the simulation (or, without it, the analytic check) says the targets hold


def choose(
    uc: UseCase, results: list[Scored], floor: float, budget: float | None, tie_margin: float = 0.0
) -> tuple[Scored | None, str]:
    """The recommended model among evaluated candidates, and the rule that chose it (module docstring)."""
    ok = [r for r in results if r.tco is not None and r.meets]

    def score(r: Scored) -> float:
        return r.candidate.quality.score if r.candidate.quality else -1.0

    scored = [r for r in ok if r.candidate.quality is not None and score(r) >= floor]
    if uc.quality_floor is not None and scored:
        best = min(scored, key=lambda r: (r.tco or 0.0, -score(r)))
        return best, f"the least expensive model scoring at least the quality floor {floor:g}"
    if budget is not None:
        within = [r for r in ok if r.candidate.quality is not None and (r.capex or 0.0) <= budget]
        if within:
            # scores closer than the index's margin are not distinguishable: pay for no difference the
            # benchmark cannot measure, take the least expensive of them
            top = max(score(r) for r in within)
            near = [r for r in within if score(r) >= top - tie_margin]
            best = min(near, key=lambda r: (r.tco or 0.0, -score(r)))
            rule = f"the highest-scoring model whose deployment fits the {budget:,.0f} USD budget"
            if len(near) > 1 and tie_margin > 0:
                rule += (
                    f" (scores within {tie_margin:g} of the best, {top:g}, count as equal on this index: the "
                    "least expensive of them)"
                )
            if score(best) < floor:
                rule += f"; below the default floor {floor:g}: a larger budget buys a better model"
            return best, rule
    if scored:
        best = min(scored, key=lambda r: (r.tco or 0.0, -score(r)))
        return best, f"the least expensive model scoring at least {floor:g}"
    unscored = [r for r in ok if r.candidate.quality is None]
    if unscored:
        best = min(unscored, key=lambda r: (r.tco or 0.0, r.candidate.entry.params_total_b))
        return best, (
            "no model scored on the quality index qualifies for this use case, so the least expensive "
            "unscored model that meets the targets (its quality is not known to the catalogue)"
        )
    return None, "no candidate model has a deployment that meets the targets"


def explain(chosen: Scored, rule: str, results: list[Scored], s: Search, budget: float | None) -> list[str]:
    """Reasons: why this model, the runners-up with their score and cost, and what the filters removed."""

    def q(r: Scored) -> str:
        c = r.candidate
        if c.quality is None:
            return "not on the index"
        return f"{'~' if c.quality.approx else ''}{c.quality.score:g} ({c.quality.as_of})"

    e = chosen.candidate.entry
    index_name = s.index.index_name if s.index else "quality index"
    out = [
        f"recommended {e.id} ({e.licence_id}): {rule}; {index_name} score {q(chosen)}; "
        f"TCO {chosen.tco or 0:,.0f} USD"
        + (f" (source: {chosen.candidate.quality.source})" if chosen.candidate.quality else ""),
        (
            f"quality index used: {s.index.index_name} ({s.index.metric}; {s.index.index_url}), floor "
            f"{s.floor:g}; {sum(c.quality is not None for c in s.candidates)} of {len(s.candidates)} "
            "candidate models are scored on it, the others are unscored"
            if s.index
            else "no quality index applies to this kind of use case: every candidate is unscored"
        ),
    ]
    others = [r for r in results if r is not chosen and r.tco is not None and r.meets]
    others.sort(key=lambda r: r.tco or 0.0)
    for r in others[:3]:
        over = budget is not None and (r.capex or 0.0) > budget
        out.append(
            f"runner-up {r.candidate.entry.id}: score {q(r)}, TCO {r.tco or 0:,.0f} USD"
            + (" (over budget)" if over else "")
        )
    failed = [r.candidate.entry.id for r in results if r.tco is None or not r.meets]
    if failed:
        out.append(f"evaluated but no deployment meets the targets: {', '.join(failed[:8])}")
    skipped = [c.entry.id for c in s.candidates if all(r.candidate is not c for r in results)]
    if skipped:
        out.append(f"not evaluated (a better-placed model already qualified): {', '.join(skipped[:8])}")
    for reason, ids in sorted(s.excluded.items()):
        out.append(f"excluded ({reason}): {len(ids)} model(s)")
    return out


__all__ = [
    "DEFAULT_QUALITY_FLOOR",
    "NON_PRODUCTION_LICENCES",
    "ModelCandidate",
    "Scored",
    "Search",
    "choose",
    "explain",
    "quality_use",
    "search",
]
