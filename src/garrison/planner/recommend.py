"""`models: [recommend]`: a search over every catalogue model, not a guess.

Filters (a model must pass all): the use case's kind (chat/batch: a chat model; code: a code model, with
fill-in-the-middle when `fim: true`), a licence the catalogue has established (seen in a source or from
the model card; never one it only infers or does not know), one of `use_cases[].licences` when given, a
context window of at least `context_length`, and image input when `inputs` has `image`.

Choice, among the models whose cheapest deployment meets the targets (quality: data/model_quality.yaml):
- `quality_floor` given: the least expensive model (TCO) scoring at least the floor, i.e. the smallest
  model that is good enough;
- else, a capex budget given: the highest-scoring model whose deployment fits the budget (ties: cheaper);
- else: the least expensive model scoring at least DEFAULT_QUALITY_FLOOR.
Models without a score are chosen only when no scored model qualifies (code-completion models are not on
the index), and then the least expensive one that meets the targets.
"""

from __future__ import annotations

from dataclasses import dataclass

from garrison.catalogue import Catalogue
from garrison.catalogue.schema import ModelEntry, QualityScore
from garrison.requirements import UseCase

# Default floor on the Artificial Analysis Intelligence Index v4: 20 is where the original Qwen3-235B-A22B
# (reasoning) scores and above Llama 3.3 70B (14) and Gemma 3 27B (10), which AA's 2026 articles place
# below current small open models; gpt-oss-20b (24) clears it. State `quality_floor` to choose another.
DEFAULT_QUALITY_FLOOR = 20.0
ESTABLISHED_LICENCE = ("seen", "recall")


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


def _kind_ok(m: ModelEntry, uc: UseCase) -> bool:
    if uc.kind == "code":
        return "code" in m.use_cases and (m.fim or not uc.fim)
    return "chat" in m.use_cases


def search(uc: UseCase, cat: Catalogue) -> Search:
    """Every catalogue model, filtered for this use case; scored models first (best score first)."""
    excluded: dict[str, list[str]] = {}
    kept: list[ModelCandidate] = []
    wanted = set(uc.licences)
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
        elif m.context_max < uc.context_length:
            reason = f"context window below {uc.context_length}"
        elif "image" in uc.inputs and "vision" not in m.use_cases:
            reason = "no image input"
        if reason:
            excluded.setdefault(reason, []).append(m.id)
        else:
            kept.append(ModelCandidate(m, cat.quality.get(m.id)))
    kept.sort(
        key=lambda c: (c.quality is None, -(c.quality.score if c.quality else 0.0), c.entry.params_total_b)
    )
    floor = uc.quality_floor if uc.quality_floor is not None else DEFAULT_QUALITY_FLOOR
    return Search(tuple(kept), excluded, floor)


@dataclass(frozen=True)
class Scored:
    """A candidate model and its best deployment's cost (None: no deployment meets the targets)."""

    candidate: ModelCandidate
    tco: float | None
    capex: float | None
    meets: bool  # the simulation (or, without it, the analytic check) says the targets hold


def choose(
    uc: UseCase, results: list[Scored], floor: float, budget: float | None
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
            best = max(within, key=lambda r: (score(r), -(r.tco or 0.0)))
            return best, f"the highest-scoring model whose deployment fits the {budget:,.0f} USD budget"
    if scored:
        best = min(scored, key=lambda r: (r.tco or 0.0, -score(r)))
        return best, f"the least expensive model scoring at least {floor:g}"
    unscored = [r for r in ok if r.candidate.quality is None]
    if unscored:
        best = min(unscored, key=lambda r: (r.tco or 0.0, r.candidate.entry.params_total_b))
        return best, (
            "no model on the quality index qualifies for this use case, so the least expensive unscored model "
            "that meets the targets"
        )
    return None, "no candidate model has a deployment that meets the targets"


def explain(
    chosen: Scored, rule: str, results: list[Scored], s: Search, index_name: str, budget: float | None
) -> list[str]:
    """Reasons: why this model, the runners-up with their score and cost, and what the filters removed."""

    def q(r: Scored) -> str:
        c = r.candidate
        if c.quality is None:
            return "not on the index"
        return f"{'~' if c.quality.approx else ''}{c.quality.score:g} ({c.quality.as_of})"

    e = chosen.candidate.entry
    out = [
        f"recommended {e.id} ({e.licence_id}): {rule}; {index_name} score {q(chosen)}; "
        f"TCO {chosen.tco or 0:,.0f} USD"
        + (f" (source: {chosen.candidate.quality.source})" if chosen.candidate.quality else "")
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


__all__ = ["DEFAULT_QUALITY_FLOOR", "ModelCandidate", "Scored", "Search", "choose", "explain", "search"]
