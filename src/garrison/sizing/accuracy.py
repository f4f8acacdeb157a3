"""How far Garrison's predictions are from public measurements (data/calibration_points.yaml).

`python -m garrison.sizing.accuracy --write docs/accuracy.md` regenerates the table in the docs.
Every quantity a point measured is compared with what `estimate` predicts for the configuration
the point describes; the report gives medians per class of model, per engine and per device kind,
how often the predicted range holds the measurement, and whether every start-up that failed for
lack of memory is predicted not to fit.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from garrison.catalogue import load_catalogue
from garrison.design import Estimate
from garrison.modelspec import load_model_spec
from garrison.sizing.efficiency import DEFAULT_EFFICIENCY, Efficiency
from garrison.sizing.estimate import MEMORY_RANGE, SPEED_RANGE, EstimateOptions, estimate

MEMORY_FIELDS = ("weights_gib", "kv_cache_gib", "kv_cache_tokens")
SPEED_FIELDS = (
    "ttft_ms",
    "itl_ms",
    "output_tokens_per_s",
    "decode_tokens_per_s_single",
    "prefill_tokens_per_s",
)
# Targets of issue 12 (docs/accuracy.md states whether they are met)
TARGETS = {
    "speed_median": 0.15,
    "speed_worst_ratio": 2.0,
    "memory_median": 0.03,
    "memory_worst": 0.10,
    "in_range": 0.80,
}


@dataclass(frozen=True)
class Comparison:
    """One predicted number next to its measurement."""

    point: str
    kind: str  # memory | speed
    quantity: str
    predicted: float
    measured: float
    low: float  # the predicted range
    high: float
    cls: str = "dense"  # the model's class: dense | moe | hybrid
    engine: str = ""
    device_kind: str = "gpu"  # gpu | cpu | apple
    counted: bool = True  # False: shown, but left out of the statistics (`why`)
    why: str = ""

    @property
    def half(self) -> str:
        """'fit' or 'check': the seeded half of the points a default was fitted on, or held out from
        (split_half)."""
        return split_half(self.point)

    @property
    def error(self) -> float:
        """Signed relative error (predicted - measured) / |measured|."""
        return (self.predicted - self.measured) / abs(self.measured) if self.measured else 0.0

    @property
    def ratio(self) -> float:
        """max(predicted / measured, measured / predicted): how many times off (1 = exact)."""
        if self.measured == 0 or self.predicted == 0 or (self.predicted < 0) != (self.measured < 0):
            return float("inf") if self.predicted != self.measured else 1.0
        r = self.predicted / self.measured
        return max(r, 1 / r)

    @property
    def in_range(self) -> bool:
        return self.low <= self.measured <= self.high


@dataclass(frozen=True)
class FitCheck:
    """A start-up log that failed for lack of memory, and whether the estimate says it does not fit."""

    point: str
    predicted_fits: bool
    reason: str


def split_half(point_id: str) -> str:
    """The half a point belongs to, fixed by its id (CRC-32 parity): efficiency defaults are fitted
    on the 'fit' half only, so the 'check' half measures how well they carry to other points."""
    return "fit" if zlib.crc32(point_id.encode()) % 2 == 0 else "check"


@functools.lru_cache(maxsize=1)
def calibration_points() -> dict[str, Any]:
    """The shipped calibration points."""
    text = resources.files("garrison.data").joinpath("calibration_points.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def predict(point: dict[str, Any], eff: Efficiency = DEFAULT_EFFICIENCY) -> Estimate:
    """Run the estimate a calibration point describes."""
    cat = load_catalogue()
    spec = load_model_spec(cat.model(point["model"]).id)
    if point.get("quant_skip"):  # groups the measured checkpoint keeps in 16 bit
        spec = spec.model_copy(update={"quant_skip": tuple(point["quant_skip"])})
    if point.get("quant_skip_layers"):
        spec = spec.model_copy(
            update={"quant_skip_layers": tuple((str(g), int(n)) for g, n in point["quant_skip_layers"])}
        )
    fmt = cat.quant(point["quant"])
    opts = EstimateOptions(
        engine=point["engine"],
        gpus=point.get("gpus", 1),
        tp=point.get("tp"),
        sockets=point.get("sockets", 1),
        gpu_memory_utilization=point.get("gpu_memory_utilization"),
        mem_fraction_static=point.get("mem_fraction_static"),
        max_model_len=point.get("max_model_len"),
        max_num_seqs=point.get("max_num_seqs"),
        max_num_batched_tokens=point.get("max_num_batched_tokens"),
        input_len=point.get("input_len", 1024),
        output_len=point.get("output_len", 256),
        concurrency=point.get("concurrency"),
        kv_dtype=point.get("kv_dtype", "auto"),
        cuda_graphs=not point.get("enforce_eager", False),
        engine_version=point.get("engine_version"),
        efficiency=eff,
    )
    if "cpu" in point:
        return estimate(spec, fmt, cpu=cat.cpu(point["cpu"]), opts=opts)
    return estimate(spec, fmt, gpu=cat.gpu(point["gpu"]), opts=opts)


def _driver_sampler_gib(point: dict[str, Any], est: Estimate) -> float:
    """What a non-driver rank of vLLM's V0 engine has more for KV than the driver, GiB per GPU.

    V0 gathers the logits to the driver rank and samples there (vllm/worker/model_runner.py of
    0.7), so only the driver's profiling run holds the sampler's fp32 (max_num_seqs x vocab)
    buffers (sizing.engine_memory.SAMPLER_LOGIT_COPIES of them). Garrison predicts the driver, the
    rank that bounds the engine's token count; a point whose log line is a worker's
    (`measured_rank: worker`) is compared with the driver's prediction plus these buffers.
    """
    from garrison.sizing.engine_memory import SAMPLER_LOGIT_COPIES
    from garrison.sizing.units import GIB

    vocab = load_model_spec(load_catalogue().model(point["model"]).id).vocab_size
    return est.max_num_seqs * vocab * 4 * SAMPLER_LOGIT_COPIES / GIB


def _device_kind(point: dict[str, Any]) -> str:
    if "cpu" in point:
        return "cpu"
    return "apple" if load_catalogue().gpu(point["gpu"]).vendor == "apple" else "gpu"


def _predicted(est: Estimate, quantity: str) -> tuple[float, float, float]:
    """(expected, low, high) of one quantity."""
    attr = {"kv_cache_gib": "kv_cache_gib_per_gpu", "weights_gib": "weights_gib_per_gpu"}.get(
        quantity, quantity
    )
    value = float(getattr(est, attr))
    rng = est.ranges.get(attr)
    if rng is not None:
        return value, rng.low, rng.high
    if quantity in MEMORY_FIELDS:
        lo, hi = MEMORY_RANGE
        kv = est.ranges.get("kv_cache_gib_per_gpu")
        if quantity == "kv_cache_tokens" and kv is not None and est.kv_cache_gib_per_gpu > 0:
            # the KV range in tokens: the GiB range scaled
            return (
                value,
                value * kv.low / est.kv_cache_gib_per_gpu,
                value * kv.high / est.kv_cache_gib_per_gpu,
            )
        return value, value * lo, value * hi
    lo, hi = SPEED_RANGE
    return value, value * lo, value * hi


def compare(
    eff: Efficiency = DEFAULT_EFFICIENCY,
    kinds: tuple[str, ...] = ("memory", "speed"),
    only: set[str] | None = None,
) -> list[Comparison]:
    """Every measured quantity of every point next to the prediction."""
    out: list[Comparison] = []
    pts = calibration_points()
    for kind in kinds:
        fields = MEMORY_FIELDS if kind == "memory" else SPEED_FIELDS
        for p in pts[kind]:
            if only is not None and p["id"] not in only:
                continue
            est = predict(p, eff)
            uncounted = p.get("uncounted") or {}
            for q in fields:
                if q in p["measured"]:
                    value, low, high = _predicted(est, q)
                    if q == "kv_cache_gib" and p.get("measured_rank") == "worker":
                        extra = _driver_sampler_gib(p, est)
                        value, low, high = value + extra, low + extra, high + extra
                    measured = float(p["measured"][q])
                    why = str(uncounted.get(q, ""))
                    if not why and q in ("kv_cache_gib", "kv_cache_tokens") and measured <= 0:
                        why = "no room for KV at start-up: judged by the fits check"
                    out.append(
                        Comparison(
                            p["id"],
                            kind,
                            q,
                            value,
                            measured,
                            min(low, high),
                            max(low, high),
                            p.get("class", "dense"),
                            p["engine"],
                            _device_kind(p),
                            counted=not why,
                            why=why,
                        )
                    )
    return out


def fit_checks(eff: Efficiency = DEFAULT_EFFICIENCY) -> list[FitCheck]:
    """Every start-up log that failed for lack of memory, with the estimate's verdict."""
    out = []
    for p in calibration_points()["memory"]:
        if p["measured"].get("fits") is False:
            est = predict(p, eff)
            tight = [a for a in est.assumptions if a.startswith("fits by ")]
            out.append(FitCheck(p["id"], est.fits, "; ".join(tight) if est.fits and tight else est.reason))
    return out


def summary(rows: list[Comparison], kind: str) -> tuple[float, float]:
    """(median, worst) absolute relative error for one kind."""
    errs = [abs(r.error) for r in rows if r.kind == kind and r.counted]
    if not errs:
        return 0.0, 0.0
    return statistics.median(errs), max(errs)


def _group(rows: Iterable[Comparison], key: Callable[[Comparison], str]) -> dict[str, list[Comparison]]:
    groups: dict[str, list[Comparison]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    return dict(sorted(groups.items()))


def _line(name: str, rows: list[Comparison]) -> str:
    errs = [abs(r.error) for r in rows]
    inside = sum(r.in_range for r in rows) / len(rows)
    worst = max(r.ratio for r in rows)
    points = len({r.point for r in rows})
    return (
        f"| {name} | {points} | {len(rows)} | {statistics.median(errs):.1%} | {max(errs):.1%} | "
        f"{worst:.2f}x | {inside:.0%} |"
    )


def _target_lines(rows: list[Comparison], fits: list[FitCheck]) -> list[str]:
    lines = []
    speed = [r for r in rows if r.kind == "speed"]
    memory = [r for r in rows if r.kind == "memory"]
    if speed:
        med = statistics.median(abs(r.error) for r in speed)
        worst = max(r.ratio for r in speed)
        over = sorted({r.point for r in speed if r.ratio > TARGETS["speed_worst_ratio"]})
        lines.append(
            f"- speed: median |error| {med:.1%} (target <= {TARGETS['speed_median']:.0%}: "
            f"{'met' if med <= TARGETS['speed_median'] else 'NOT met'}); worst {worst:.2f}x off "
            f"(target every point within {TARGETS['speed_worst_ratio']:g}x: "
            + ("met)" if not over else f"NOT met by {len(over)}: {', '.join(over)})")
        )
    if memory:
        errs = [abs(r.error) for r in memory]
        med, worst_m = statistics.median(errs), max(errs)
        over = sorted({r.point for r in memory if abs(r.error) > TARGETS["memory_worst"]})
        lines.append(
            f"- memory: median |error| {med:.1%} (target <= {TARGETS['memory_median']:.0%}: "
            f"{'met' if med <= TARGETS['memory_median'] else 'NOT met'}); worst {worst_m:.1%} "
            f"(target <= {TARGETS['memory_worst']:.0%}: "
            + ("met)" if not over else f"NOT met by {len(over)}: {', '.join(over)})")
        )
    inside = sum(r.in_range for r in rows) / len(rows) if rows else 0.0
    lines.append(
        f"- predicted range holds the measurement: {inside:.0%} of quantities (target >= "
        f"{TARGETS['in_range']:.0%}: {'met' if inside >= TARGETS['in_range'] else 'NOT met'})"
    )
    if fits:
        right = sum(not f.predicted_fits for f in fits)
        lines.append(
            f"- start-up logs that failed for lack of memory predicted not to fit: {right} of {len(fits)}"
        )
    return lines


def beyond_targets(rows: list[Comparison]) -> list[Comparison]:
    """The counted quantities outside the per-point targets (speed ratio, memory error)."""
    return [
        r
        for r in rows
        if (r.kind == "speed" and r.ratio > TARGETS["speed_worst_ratio"])
        or (r.kind == "memory" and abs(r.error) > TARGETS["memory_worst"])
    ]


def markdown(rows: list[Comparison], eff: Efficiency, fits: list[FitCheck] | None = None) -> str:
    """The accuracy report as docs/accuracy.md."""
    fits = fits or []
    counted = [r for r in rows if r.counted]
    n_points = len({r.point for r in rows})
    factors = ", ".join(f"{k} {v:g}" for k, v in eff.model_dump().items() if k != "name")
    lines = [
        "# Prediction accuracy",
        "",
        "Generated by `python -m garrison.sizing.accuracy --write docs/accuracy.md` from",
        f"`src/garrison/data/calibration_points.yaml`: {n_points} public measurements, each with its source,",
        f"compared with `estimate` under the efficiency profile `{eff.name}` ({factors}).",
        "",
        "Error = (predicted - measured) / measured; 'x off' = max(predicted / measured, measured /",
        "predicted); 'in range' = the measurement lies inside the range `estimate` prints beside the",
        "number. The fitted efficiency factors were fitted on the points of the 'fit' half only (fixed by",
        "each point's id, `split_half`); the 'check' half shows how they carry to points they never saw",
        "(sizing/efficiency.py says how). Quantities marked uncounted are listed with their reason and",
        "left out of every statistic.",
        "",
        "## Against the targets (issue 12)",
        "",
        *_target_lines(counted, fits),
    ]
    head = "| group | points | quantities | median abs error | worst abs error | worst x off | in range |"
    rule = "|---|---:|---:|---:|---:|---:|---:|"
    for title, key in (
        ("By kind", lambda r: r.kind),
        ("Fit half and check half", lambda r: f"{r.kind}: {r.half}"),
        ("By model class", lambda r: f"{r.kind}: {r.cls}"),
        ("By engine", lambda r: f"{r.kind}: {r.engine}"),
        ("By device kind", lambda r: f"{r.kind}: {r.device_kind}"),
        ("By quantity", lambda r: r.quantity),
    ):
        lines += ["", f"## {title}", "", head, rule]
        lines += [_line(name, group) for name, group in _group(counted, key).items()]
    if fits:
        lines += [
            "",
            "## Start-ups that failed for lack of memory",
            "",
            "| point | predicted | reason |",
            "|---|---|---|",
        ]
        for f in fits:
            verdict = "does not fit (right)" if not f.predicted_fits else "fits (WRONG)"
            lines.append(f"| {f.point} | {verdict} | {f.reason} |")
    over = beyond_targets(counted)
    if over:
        notes = {
            p["id"]: str(p.get("note", "")) for k in ("memory", "speed") for p in calibration_points()[k]
        }
        lines += [
            "",
            "## Points beyond the targets, and why",
            "",
            "Each point outside the per-point targets (speed within "
            f"{TARGETS['speed_worst_ratio']:g}x, memory within {TARGETS['memory_worst']:.0%}) with what its source "
            "shows about the cause (the point's `note` in calibration_points.yaml). None is dropped or given "
            "a factor of its own.",
            "",
            "| point | quantity | predicted | measured | error | cause |",
            "|---|---|---:|---:|---:|---|",
        ]
        for r in over:
            cause = notes.get(r.point) or "not explained: no physical cause found in the source"
            lines.append(
                f"| {r.point} | {r.quantity} | {r.predicted:,.2f} | {r.measured:,.2f} | {r.error:+.1%} | {cause} |"
            )
    left_out = [r for r in rows if not r.counted]
    if left_out:
        lines += [
            "",
            "## Uncounted",
            "",
            "| point | quantity | predicted | measured | error | why |",
            "|---|---|---:|---:|---:|---|",
        ]
        for r in left_out:
            lines.append(
                f"| {r.point} | {r.quantity} | {r.predicted:,.2f} | {r.measured:,.2f} | {r.error:+.1%} | {r.why} |"
            )
    lines += [
        "",
        "## Every comparison",
        "",
        "| point | half | class | engine | device | quantity | predicted | range | measured | error |",
        "|---|---|---|---|---|---|---:|---|---:|---:|",
    ]
    for r in rows:
        mark = "" if r.counted else " (uncounted)"
        lines.append(
            f"| {r.point} | {r.half} | {r.cls} | {r.engine} | {r.device_kind} | {r.quantity}{mark} | "
            f"{r.predicted:,.2f} | {r.low:,.2f} - {r.high:,.2f} | {r.measured:,.2f} | {r.error:+.1%} |"
        )
    lines += [
        "",
        "Notes: memory points are vLLM/SGLang start-up logs (per GPU). Speed points are vendor tables",
        "(TensorRT-LLM, NIM), vLLM/SGLang serving benchmarks, and llama-bench runs of llama.cpp on GPUs,",
        "Apple silicon and CPUs from builds of 2023-2026. The misses are listed with their causes in",
        "'Points beyond the targets, and why'.",
        "",
    ]
    return "\n".join(lines)


# The factors marked FIT in sizing/efficiency.py and the box each is fitted in (bandwidth fractions
# at most 0.89: a plain device copy, bench/results/gpu_roofline_h200.json)
FIT_FACTORS: tuple[tuple[str, float, float], ...] = (
    ("gpu_bw", 0.3, 0.89),
    ("gpu_compute", 0.1, 1.0),
    ("layer_overhead_us", 0.0, 200.0),
    ("llamacpp_step_overhead_ms", 0.0, 10.0),
    ("llamacpp_gpu_bw", 0.3, 0.89),
    ("llamacpp_gpu_bw_quant", 0.3, 0.89),
    ("llamacpp_gpu_compute", 0.1, 1.0),
    ("apple_gpu_bw", 0.3, 0.89),
    ("apple_gpu_bw_quant", 0.3, 0.89),
    ("apple_gpu_compute", 0.1, 1.0),
    ("cpu_bw", 0.2, 0.89),
    ("cpu_compute", 0.25, 4.0),
    ("gemm_pad_rows", 0.0, 256.0),
    ("moe_layer_overhead_us", 0.0, 400.0),
)
CAUCHY_SCALE = 0.25  # log error at which a point's pull on the fit starts to fade


def refit_defaults(iters: int = 1200) -> dict[str, float]:
    """Re-run the fit behind the FIT defaults: Nelder-Mead on the 'fit' half's speed points, mean
    Cauchy loss log(1 + (log(pred / meas) / CAUCHY_SCALE)^2), each factor in its FIT_FACTORS box,
    starting from the current defaults. Takes a few minutes."""
    import math

    import numpy as np

    from garrison.calibrate.fit import _nelder_mead

    ids = {p["id"] for p in calibration_points()["speed"] if split_half(p["id"]) == "fit"}

    def to_box(z: np.ndarray) -> dict[str, float]:
        return {
            n: lo + (hi - lo) / (1.0 + math.exp(-float(v)))
            for (n, lo, hi), v in zip(FIT_FACTORS, z, strict=True)
        }

    def loss(z: np.ndarray) -> float:
        eff = DEFAULT_EFFICIENCY.model_copy(update=to_box(z))
        rows = [r for r in compare(eff, kinds=("speed",), only=ids) if r.counted]
        bad = sum(10.0 for r in rows if r.predicted <= 0)
        good = [r for r in rows if r.predicted > 0]
        total = bad + sum(math.log1p((math.log(r.predicted / r.measured) / CAUCHY_SCALE) ** 2) for r in good)
        return total / max(1, len(rows))

    start = []
    for name, lo, hi in FIT_FACTORS:
        frac = min(max((float(getattr(DEFAULT_EFFICIENCY, name)) - lo) / (hi - lo), 1e-3), 1 - 1e-3)
        start.append(math.log(frac / (1 - frac)))
    z, _ = _nelder_mead(loss, np.array(start), iters=iters)
    return to_box(z)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--write", help="write the markdown table to this file")
    ap.add_argument(
        "--refit", action="store_true", help="re-run the fit behind the FIT defaults and print it"
    )
    args = ap.parse_args()
    if args.refit:
        for name, value in refit_defaults().items():
            print(f"{name} = {value:.4g}")
        return
    rows = compare()
    text = markdown(rows, DEFAULT_EFFICIENCY, fit_checks())
    if args.write:
        with open(args.write, "w", encoding="utf-8") as f:
            f.write(text)
    print(text)


if __name__ == "__main__":
    main()
