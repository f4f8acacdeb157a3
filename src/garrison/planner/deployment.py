"""Build one design.json Deployment from the chosen, costed and simulated option."""

from __future__ import annotations

from garrison import engines
from garrison.catalogue import Catalogue
from garrison.design import Alternative, Checkpoint, Deployment, Range, ScalingTriggers
from garrison.modelspec.params import param_counts
from garrison.names import served_name
from garrison.planner.candidates import Option
from garrison.planner.load import LoadTarget
from garrison.planner.ranking import DEPRECIATION_YEARS, Ranked, describe, why_lost
from garrison.planner.simulated import SimulatedSizing
from garrison.planner.targets import Targets
from garrison.requirements import UseCase
from garrison.sizing.units import GIB
from garrison.sizing.weights import weight_bytes

# GeForce RTX 40/50 cards have no PCIe peer-to-peer in NVIDIA's driver: vLLM's custom all-reduce fails with
# "peer access is not supported between these two devices" and engines fall back to NCCL through host
# memory (sgl-project/sglang#531 "Disable p2p for 4090"; huggingface/accelerate#2328).
NO_P2P_NOTE = "sgl-project/sglang#531, huggingface/accelerate#2328"


def checkpoint_for(o: Option, cat: Catalogue) -> Checkpoint | None:
    """The weights to fetch: the release, a published checkpoint in the served format, or the release to
    convert (None for a local folder or file the operator provides)."""
    entry = cat.models.get(o.model_key)
    if entry is None:
        return None
    counts = param_counts(o.spec)

    def gib(fmt_id: str) -> float | None:
        fmt = cat.quant_formats.get(fmt_id)
        return round(weight_bytes(o.spec, counts, fmt).total / GIB, 1) if fmt else None

    native = o.spec.native_dtype.lower()
    if o.fmt.id == native:
        return Checkpoint(
            repo=entry.hf_id,
            format=o.fmt.id,
            size_gib=gib(o.fmt.id),
            source=f"the model's own release ({entry.hf_id}, {native}; catalogue models.yaml)",
        )
    for ck in cat.checkpoints.get(entry.id, ()):
        if ck.format == o.fmt.id and engines.get(o.engine).single_file_model == (
            o.fmt.family in ("gguf", "mxfp4")
        ):
            return Checkpoint(
                repo=ck.repo,
                revision=ck.revision,
                format=ck.format,
                file=ck.file,
                size_gib=gib(ck.format),
                source=f"{ck.publisher} checkpoint (data/checkpoints.yaml): {ck.source}",
            )
    if o.fmt.family == "gguf":
        how = (
            f"no published {o.fmt.id.upper()} GGUF in the catalogue: convert the release with llama.cpp's "
            f"convert_hf_to_gguf.py and llama-quantize ({o.fmt.id.upper()}) before packing"
        )
    else:
        how = (
            f"no published {o.fmt.id} checkpoint in the catalogue: the engine quantises the {native} release "
            f"to {o.fmt.id} when it loads it (twice the bytes to download and carry as the quantised file)"
        )
    return Checkpoint(repo=entry.hf_id, format=native, size_gib=gib(native), source=how)


def engine_reasons(r: Ranked, cat: Catalogue, uc: UseCase) -> list[str]:
    """Why this engine, and what the hardware means for it (PCIe tensor parallelism, owned kit)."""
    o = r.sized.option
    out: list[str] = []
    plat = cat.platforms.get(o.engine)
    out.append(engines.get(o.engine).reasons or o.engine)
    if plat is not None and plat.maintenance != "active":
        out.append(f"note: {plat.name} is {plat.maintenance}: {plat.maintenance_note}")
    if o.gpu is not None and o.tp > 1 and o.gpu.interconnect.kind == "pcie":
        link = o.gpu.interconnect.bw_gbps_per_direction
        p2p = (
            "; GeForce cards have no PCIe peer-to-peer, so each all-reduce is staged through host memory "
            f"and vLLM's custom all-reduce is off ({NO_P2P_NOTE})"
            if o.gpu.segment == "consumer"
            else ""
        )
        out.append(
            f"tensor parallelism TP{o.tp} over PCIe ({link:g} GB/s per direction, no NVLink): two all-reduces per "
            f"layer cross the PCIe bus every step{p2p}; the speed model charges them at the PCIe rate and latency "
            "(garrison.sizing.speed), which is part of the ITL above"
        )
    if o.gpu is not None and o.gpu.segment == "consumer" and not o.owned:
        out.append(
            f"{o.gpu.name}: NVIDIA's GeForce driver licence does not allow data-centre "
            "deployment and the card has no ECC; fine in an office or desk-side server. Set "
            "hardware.allow_consumer_gpus: false to plan without GeForce cards"
        )
    servers = sum(p.server.count for p in r.servers)
    if not uc.high_availability and servers == 1:
        what = {1: "one replica on one server", 2: "both replicas on one server"}.get(
            r.sized.replicas, f"all {r.sized.replicas} replicas on one server"
        )
        out.append(
            f"{what}: a single point of failure (no high availability was asked); "
            f"use_cases[{uc.name}].high_availability: true plans a second server"
        )
    if uc.kind == "code":
        out.append(
            "IDE side: Continue (VS Code / JetBrains) or TabbyML pointed at the gateway's "
            "/v1/completions for fill-in-the-middle and /v1/chat/completions for chat"
        )
    return out


def alternatives(best: Ranked, ranked: list[Ranked]) -> tuple[Alternative, ...]:
    """Up to three distinct runners-up (model, format, engine, device) and why each lost."""

    def sig(r: Ranked) -> tuple[str, str]:
        # one alternative per model and device: format and engine variants on the same hardware cost the
        # same and would crowd out the choices a reader weighs (other GPUs, CPU hosts)
        o = r.sized.option
        return (o.model_key, o.gpu.id if o.gpu else o.cpu.id if o.cpu else "")

    seen = {sig(best)}
    out: list[Alternative] = []
    for r in ranked:
        if sig(r) in seen:
            continue
        seen.add(sig(r))
        out.append(
            Alternative(
                summary=describe(r),
                annual_cost_usd=round(r.capex_mid / DEPRECIATION_YEARS + r.annual_opex, 2),
                capex_usd=Range(
                    low=round(r.capex_low), expected=round(r.capex_mid), high=round(r.capex_high)
                ),
                why_lost=why_lost(r, best),
            )
        )
        if len(out) == 3:
            break
    return tuple(out)


def build_deployment(
    *,
    name: str,
    uc: UseCase,
    best: Ranked,
    ranked: list[Ranked],
    load: LoadTarget,
    targets: Targets,
    cat: Catalogue,
    horizon_months: int,
    sim: SimulatedSizing | None,
    extra_reasons: list[str],
    candidates: int,
) -> Deployment:
    """The Deployment for the chosen option (reasons, alternatives, checkpoint, licence, SLO check)."""
    s = best.sized
    o = s.option
    plat = cat.platforms.get(o.engine)
    profile = engines.get(o.engine)
    image = f"{plat.image}:{plat.image_tag}" if plat and plat.image else o.engine
    image = engines.image_variant(o.engine, image, "gpu" if o.gpu else "cpu", o.gpu.vendor if o.gpu else None)
    reasons = list(extra_reasons)
    among = (
        f"among {candidates} configurations that fit and meet the targets"
        if candidates != 1
        else "(the only configuration that fits and meets the targets)"
    )
    reasons.append(f"{describe(best)}: lowest {horizon_months}-month TCO ({best.tco:,.0f} USD) {among}")
    reasons += engine_reasons(best, cat, uc)
    unit = "GPU" if o.gpu else "host"
    reasons.append(
        f"weights {o.fmt.id}: {o.fmt.bits_per_weight:.2f} bits per weight incl. scales; "
        f"{s.est.weights_gib_per_gpu:.1f} GiB per {unit}, {s.est.kv_cache_gib_per_gpu:.1f} GiB KV cache "
        f"per {unit}"
    )
    if best.filled_from is not None:
        what = (
            "the owned boxes"
            if o.owned
            else f"whole {o.gpu.name if o.gpu else ''} baseboards (they ship with 8 GPUs)"
        )
        reasons.append(
            f"{s.replicas} replicas where the load needs {best.filled_from}: the design fills {what}; "
            "the spare capacity is headroom, not a requirement"
        )
    if best.owned_gpus:
        reasons.append(
            f"uses {best.owned_gpus} GPU(s) the organisation already owns (no capex, no maintenance); "
            f"buys {best.bought_gpus} more"
        )
    ck = checkpoint_for(o, cat)
    entry = cat.models.get(o.model_key)
    if ck is not None:
        reasons.append(
            f"weights to fetch: {ck.repo}"
            + (f" ({ck.file})" if ck.file else "")
            + f" at {ck.revision}: {ck.source}"
        )
    if entry is not None and entry.licence_status != "seen":
        reasons.append(
            f"licence {entry.licence_id or 'unknown'} is from the catalogue ({entry.licence_status}); "
            "check the LICENSE file shipped with the checkpoint before production use"
        )
    rpm = load.design_rpm
    if rpm <= 0:  # sized from stated concurrency: report the rate that concurrency carries
        rpm = sim.rate_rpm if sim else s.rps_per_replica * s.replicas * 60
    return Deployment(
        use_case=uc.name,
        kind=uc.kind,
        model_id=o.model_key,
        model_name=served_name(o.model_key),  # a token: routed on in nginx, passed to the engine
        model_path=None,
        engine=o.engine,
        engine_image=image,
        quant=o.fmt.id,
        kv_dtype=s.est.kv_dtype,
        device=o.gpu.id if o.gpu else (o.cpu.id if o.cpu else "cpu"),
        device_kind="gpu" if o.gpu else "cpu",
        gpus_per_replica=o.gpus_per_replica,
        tp=o.tp,
        pp=o.pp,
        replicas=s.replicas,
        nodes_per_replica=o.pp,
        max_model_len=s.max_model_len,
        max_num_seqs=s.est.max_num_seqs,
        max_num_batched_tokens=s.est.max_num_batched_tokens,
        # the share of device memory the estimate was sized with (vLLM utilisation, SGLang static
        # fraction); 0 where the engine has no such knob
        gpu_memory_utilization=profile.memory_fraction if profile.memory_model != "context_upfront" else 0.0,
        fim=uc.fim,
        requests_per_minute=round(rpm, 2),
        # Little's law at the design load: requests in flight = rate x time each spends in the system
        concurrent_requests=_in_flight(rpm, sim, s.conc_per_replica * s.replicas, load),
        input_tokens=load.input_tokens,
        output_tokens=load.output_tokens,
        ttft_p95_target_ms=targets.ttft_ms,
        itl_p95_target_ms=targets.itl_ms,
        estimate=s.est.model_copy(
            update={
                "ttft_ms": round(s.ttft_ms, 2),
                "itl_ms": round(s.itl_ms, 2),
                "concurrency": s.conc_per_replica,
                "replicas": s.replicas,
                "gpus": s.total_gpus,
            }
        ),
        load_curve=sim.curve if sim else (),
        triggers=sim.triggers if sim else _triggers(best),
        reasons=tuple(reasons) + (sim.notes if sim else ()),
        alternatives=alternatives(best, ranked),
        licence=entry.licence_id if entry else "",
        checkpoint=ck,
        slo_check=sim.slo_check if sim else None,
        name=name,
    )


def _in_flight(rpm: float, sim: SimulatedSizing | None, capacity_conc: int, load: LoadTarget) -> int:
    if load.concurrent_requests is not None:
        return load.concurrent_requests
    if sim is None:
        return capacity_conc
    # mean time in system ~ the simulated P95 end-to-end latency (an upper bound on the mean)
    e2e_s = max(0.0, sim.slo_check.e2e_p95_ms) / 1000
    return max(1, round(rpm / 60 * e2e_s + 0.5))


def _triggers(r: Ranked) -> ScalingTriggers:
    s = r.sized
    rpm_capacity = s.rps_per_replica * 60 * s.replicas
    return ScalingTriggers(
        rpm_at_queue_trigger=round(rpm_capacity, 1),
        # no simulated curve: no load is known at which the latency alerts' thresholds
        # (garrison.alert_thresholds) are crossed
        rpm_at_latency_trigger=None,
    )
