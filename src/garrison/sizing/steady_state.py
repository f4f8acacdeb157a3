"""The steady state a continuous-batching replica settles into: the one performance answer that
`estimate`, `plan` and the batching simulator share.

`garrison simulate` steps a scheduler through every request; this module solves for the state that
simulation reaches with fixed-length requests from `clients` closed-loop users (each sends its next
request when the previous one finishes), using the same step-time model and the same scheduling
rules. The agreement is a test (tests/sizing/test_sizing_steady_state.py: within 5 % on throughput
and ITL); the planner needs the closed form because it sizes thousands of candidates per plan.

How many sequences run (`running`): all clients, unless `max_num_seqs` or the paged KV cache stops
them. With paging a sequence holds blocks for its current context only; over its life its context
runs from the prompt to prompt + output, so on average (prompt + output / 2) tokens rounded up to
blocks. A replica whose KV holds fewer such sequences than want to run settles at that many (vLLM
admits more and preempts the newest; the preempted wait and recompute), and the rest queue.

Per scheduler (the same rules as simulate/engine.py):
- vLLM (and llama.cpp's server, which batches prompt and generation tokens of its slots together):
  every step gives each decoding sequence one token, then fills the rest of the token budget
  (`max_num_batched_tokens`) with prompt chunks. A request spends P = ceil(prompt / chunk) steps in
  prefill and output - 1 steps decoding, so of `running` sequences d = running x (out - 1) /
  (out - 1 + P) decode in a step; chunks arrive at random phases (Poisson, mean d x P / (out - 1)
  per step). The mean step mixes steps with and without chunks; a client's ITL counts only the
  other clients' chunks (its own prefill comes before its first token).
- SGLang (no mixed chunks): a step is either a prefill batch or a decode batch, so decoding
  sequences also wait through the prefill steps: ITL = t(decode) + d x P x t(prefill) / (out - 1).
TTFT: its P prefill steps, each carrying its chunk and on average the chunks other prompts bring,
plus the step in progress when the request arrives (its mean residual, E[t^2] / 2 E[t]: long
prefill steps are the likelier to be hit), plus the queue: in a closed loop the clients that cannot
run wait their turn, Little's law gives (clients - running) / throughput.
Once the KV cache limits the running sequences the rest queue, and more offered load only adds
preemption (THRASH_THROUGHPUT_LOSS).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from garrison.sizing.step_time import StepTimeModel

Scheduler = Literal["vllm", "sglang", "llamacpp"]


@dataclass(frozen=True)
class SchedulerLimits:
    """The scheduler settings the steady state depends on (one replica)."""

    scheduler: Scheduler = "vllm"
    max_num_seqs: int = 256  # llama.cpp: --parallel slots
    max_num_batched_tokens: int = 8192  # SGLang: chunked_prefill_size; llama.cpp: n_batch


@dataclass(frozen=True)
class SteadyState:
    """What a replica delivers with `clients` closed-loop users (per replica)."""

    clients: float  # users sending requests (inf: as many as the replica can take: saturated)
    running: float  # sequences in the engine at a time
    decoding: float  # of those, decoding in a step
    limited_by: str  # "clients" | "max_num_seqs" | "kv_cache" | "token_budget"
    step_s: float  # mean engine step
    itl_s: float  # mean time between a request's output tokens
    ttft_s: float  # mean time to first token, queueing included
    ttft_service_s: float  # without the queue: half a step + the prompt's prefill steps
    requests_per_s: float
    output_tokens_per_s: float
    prefill_steps: int  # steps one prompt's chunks span


def _blocks(tokens: float, block: int) -> float:
    return math.ceil(tokens / block) if block > 1 else tokens


# KV occupancy margins before preemption starts (see kv_resident_sequences): standard deviations
# of the occupancy of sequences at different points of their lives, and a share of the cache.
KV_OCCUPANCY_MARGIN_SD = 4.5
KV_OCCUPANCY_MARGIN_SHARE = 0.05


def kv_resident_sequences(capacity_tokens: int, block: int, input_len: int, output_len: int) -> float:
    """Sequences the paged KV cache holds in the steady state without preempting.

    Sequences at different points of their lives hold prompt + g tokens, g spread over [0, output]:
    n of them hold n (prompt + output / 2) on average (blocks round each up by half a block), with
    a spread of sqrt(n) x output / sqrt(12) if g were uniform. The occupancy the engine meets is
    lumpier than that (requests that finish together resubmit together), and vLLM preempts as soon
    as a decode finds no free block, so the sustainable n keeps KV_OCCUPANCY_MARGIN_SD of those
    spreads and KV_OCCUPANCY_MARGIN_SHARE of the cache free. Both margins are fitted to where the
    batching simulator starts to preempt (tests/sizing/test_sizing_steady_state.py: 8B and 70B on
    H100, 128-5000 prompt and 256-2048 output tokens).
    """
    if capacity_tokens <= 0:
        return 0.0
    per_seq = input_len + output_len / 2.0 + (block / 2.0 if block > 1 else 0.0)
    sd = output_len / math.sqrt(12.0)
    z = KV_OCCUPANCY_MARGIN_SD
    # n per_seq + z sqrt(n) sd = capacity: a quadratic in sqrt(n)
    root = (-z * sd + math.sqrt((z * sd) ** 2 + 4.0 * per_seq * capacity_tokens)) / (2.0 * per_seq)
    return min(root * root, (1.0 - KV_OCCUPANCY_MARGIN_SHARE) * capacity_tokens / per_seq)


def _pctx(chunk_tokens: float, input_len: int, chunk: int) -> float:
    """Sum over the prompts in a step of their context at the end of their chunk: chunk_tokens / c
    prompts, each on average at (prompt + c) / 2 (chunks of c tokens ending at c, 2c, ..., prompt)."""
    c = max(1, min(chunk, input_len))
    return chunk_tokens / c * (input_len + c) / 2.0


# Past the KV limit vLLM admits a waiting request whenever its first chunk's blocks are free and,
# when a decoding sequence needs a block that is not there, preempts the newest running request,
# which later recomputes its prompt and all it had generated. How much work that wastes depends on
# how the load arrives: the batching simulator (same scheduler rules) loses 4-25 % of throughput
# against the sustainable state in closed loops of 2-10x the sustainable clients (30 % with 2k-token
# outputs). The steady state reports the sustainable state and this as the low end of its range.
THRASH_THROUGHPUT_LOSS = 0.30


def steady_state(
    model: StepTimeModel,
    limits: SchedulerLimits,
    input_len: int,
    output_len: int,
    clients: float | None = None,
    *,
    slot_tokens: int | None = None,
) -> SteadyState:
    """The steady state of one replica with `clients` closed-loop users (None: saturated).

    `slot_tokens`: llama.cpp's per-slot context (n_ctx / parallel); its KV is allocated per slot,
    not paged, so only the slot count limits the running sequences.
    """
    inp, out = max(1, input_len), max(1, output_len)
    want = math.inf if clients is None else max(1.0, float(clients))
    limited_by = "clients"
    running = want
    if limits.max_num_seqs < running:
        running, limited_by = float(limits.max_num_seqs), "max_num_seqs"
    if limits.scheduler != "llamacpp":
        fit = kv_resident_sequences(model.kv_capacity_tokens, max(1, model.block_size), inp, out)
        if fit < running:
            running, limited_by = max(1.0, fit), "kv_cache"
    elif slot_tokens is not None and slot_tokens < inp + out:
        # a slot cannot hold the request; the simulator truncates its output at the slot's end
        out = max(1, slot_tokens - inp)
    budget = max(1, limits.max_num_batched_tokens)
    return _POLICY.get(limits.scheduler, _mixed)(model, running, want, limited_by, inp, out, budget)


def _mixed(
    model: StepTimeModel,
    running: float,
    want: float,
    limited_by: str,
    inp: int,
    out: int,
    budget: int,
) -> SteadyState:
    """vLLM / llama.cpp: decodes and prompt chunks share every step (module docstring).

    Prompts start at random phases, so the chunks a step carries are Poisson with mean
    mu = decoding x P / (out - 1): a fraction 1 - exp(-mu) of steps carries any, and a prompt shares
    its step with mu (1 - 1/running) chunks of other prompts on average.
    """
    step = model.step_time_s
    ctx_dec = inp + out / 2.0
    n_dec_steps = max(1, out - 1)  # decode steps after the first token (which ends the prefill)
    decoding = running if out > 1 else 0.0
    chunk = budget
    prefill_steps = 1
    for _ in range(50):
        chunk = max(1, budget - int(decoding))
        prefill_steps = math.ceil(inp / chunk)
        new = running * n_dec_steps / (n_dec_steps + prefill_steps) if out > 1 else 0.0
        # prompt tokens per step must fit the budget the decodes leave
        cap = budget * n_dec_steps / (inp + n_dec_steps) if out > 1 else 0.0
        if out > 1 and new > cap:
            new, limited_by = cap, "token_budget"
        if abs(new - decoding) < 1e-6:
            decoding = new
            break
        decoding = new
    c_avg = inp / prefill_steps  # tokens of one prompt chunk
    if out > 1:
        mu = decoding * prefill_steps / n_dec_steps  # prompt chunks per step
    else:
        mu = running * prefill_steps / max(1, prefill_steps)
    frac = 1.0 - math.exp(-mu) if mu > 0 else 0.0
    d = round(decoding)
    dctx = int(d * ctx_dec)
    p_step = min(mu / frac * c_avg, float(max(1, budget - d))) if frac > 0 else 0.0
    t_mix = step(d, dctx, round(p_step), round(_pctx(p_step, inp, chunk)))
    t_dec = step(d, dctx, 0, 0) if d else t_mix
    t_avg = frac * t_mix + (1.0 - frac) * t_dec
    others = mu * (1.0 - 1.0 / max(1.0, running))
    frac_others = 1.0 - math.exp(-others)
    itl = t_dec + frac_others * (t_mix - t_dec)
    own = min(c_avg * (1.0 + others), float(max(1, budget - d)))
    t_own = step(d, dctx, round(own), round(_pctx(own, inp, chunk)))
    if out > 1:
        req_per_s = decoding / n_dec_steps / t_avg
    else:
        req_per_s = running / (prefill_steps * t_mix)
    running_eff = decoding * (n_dec_steps + prefill_steps) / n_dec_steps if out > 1 else running
    ttft_service = prefill_steps * t_own
    queued = max(0.0, want - running_eff) if math.isfinite(want) else 0.0
    wait = _arrival_wait(want, frac * t_mix * t_mix + (1.0 - frac) * t_dec * t_dec, t_avg)
    return SteadyState(
        clients=want,
        running=running_eff,
        decoding=decoding,
        limited_by=limited_by,
        step_s=t_avg,
        itl_s=itl,
        ttft_s=ttft_service + wait + (queued / req_per_s if req_per_s > 0 else 0.0),
        ttft_service_s=ttft_service,
        requests_per_s=req_per_s,
        output_tokens_per_s=req_per_s * out,
        prefill_steps=prefill_steps,
    )


def _arrival_wait(clients: float, mean_sq_step: float, mean_step: float) -> float:
    """The step a request arrives during, which it waits out: a client's request reaches the engine
    between step boundaries (network, tokenisation), so it waits the mean residual of the step in
    progress, E[t^2] / (2 E[t]) (renewal theory: long prefill steps are more likely to be hit).
    Only when other clients keep the engine busy; the simulator's closed loop sends at step
    boundaries, so its TTFT lacks this."""
    if mean_step <= 0 or clients <= 1:
        return 0.0
    busy = min(1.0, clients - 1.0)
    return busy * mean_sq_step / (2.0 * mean_step)


def _sglang(
    model: StepTimeModel,
    running: float,
    want: float,
    limited_by: str,
    inp: int,
    out: int,
    budget: int,
) -> SteadyState:
    """SGLang without mixed chunks: prefill batches and decode batches alternate (module docstring)."""
    step = model.step_time_s
    ctx_dec = inp + out / 2.0
    chunk = min(inp, budget)
    prefill_steps = math.ceil(inp / chunk)
    t_pre = step(0, 0, chunk, int(_pctx(chunk, inp, chunk)))
    n_dec_steps = max(1, out - 1)
    work = prefill_steps * t_pre  # prefill seconds per request
    decoding = running
    itl = t_dec = step(max(1, int(running)), int(running * ctx_dec), 0, 0)
    for _ in range(50):
        d = max(1, round(decoding))
        t_dec = step(d, int(d * ctx_dec), 0, 0)
        itl = t_dec + decoding * work / n_dec_steps
        req_per_s = decoding / n_dec_steps / itl
        new = max(1.0, running - req_per_s * prefill_steps * t_pre)
        if abs(new - decoding) < 1e-6:
            break
        decoding = new
    req_per_s = decoding / n_dec_steps / itl
    # a client's own decodes do not wait for its own prefill: ITL counts the others' prefills
    itl_client = t_dec + (decoding - 1.0 / max(1.0, running) * decoding) * work / n_dec_steps
    ttft_service = prefill_steps * t_pre
    queued = max(0.0, want - running) if math.isfinite(want) else 0.0
    # per second: req_per_s x P prefill steps, the rest of the second decode steps
    n_pre = req_per_s * prefill_steps
    n_dec = max(0.0, 1.0 - n_pre * t_pre) / t_dec if t_dec > 0 else 0.0
    steps = n_pre + n_dec
    wait = _arrival_wait(want, (n_pre * t_pre**2 + n_dec * t_dec**2) / steps, 1.0 / steps) if steps else 0.0
    return SteadyState(
        clients=want,
        running=running,
        decoding=decoding,
        limited_by=limited_by,
        step_s=itl,
        itl_s=itl_client,
        ttft_s=ttft_service + wait + (queued / req_per_s if req_per_s > 0 else 0.0),
        ttft_service_s=ttft_service,
        requests_per_s=req_per_s,
        output_tokens_per_s=req_per_s * out,
        prefill_steps=prefill_steps,
    )


# scheduler kind (EngineProfile.scheduler) -> its steady state; vLLM and llama.cpp mix chunks
_POLICY = {"vllm": _mixed, "llamacpp": _mixed, "sglang": _sglang}


def ttft_for_prompt_s(model: StepTimeModel, state: SteadyState, prompt_len: int, budget: int) -> float:
    """TTFT of a prompt of `prompt_len` tokens arriving into `state` (e.g. the P95 prompt among
    typical ones): its chunks ride with the decodes of the steady state, plus the state's queue."""
    d = round(state.decoding)
    chunk = max(1, budget - d)
    steps = math.ceil(prompt_len / chunk)
    ctx = int(d * (prompt_len + 1))
    t, done = 0.0, 0
    while done < prompt_len:
        c = min(chunk, prompt_len - done)
        done += c
        t += model.step_time_s(d, ctx, c, done)
    queue = state.ttft_s - state.ttft_service_s
    return t + queue if steps else queue


@dataclass(frozen=True)
class ReplicaLoad:
    """What one replica takes while meeting latency targets: the planner's question."""

    clients: int  # closed-loop clients (requests in flight) per replica
    state: SteadyState
    ttft_s: float  # for the prompt the TTFT target is judged on
    misses: tuple[str, ...]  # targets not met even by one client


def replica_load(
    model: StepTimeModel,
    limits: SchedulerLimits,
    *,
    input_len: int,
    output_len: int,
    upper: int,
    itl_target_s: float | None,
    ttft_target_s: float | None,
    ttft_prompt_len: int | None = None,
    slot_tokens: int | None = None,
) -> ReplicaLoad:
    """The most requests in flight per replica whose steady state meets the ITL target and whose
    TTFT (for a `ttft_prompt_len` prompt, default the typical one) meets the TTFT target."""
    prompt = ttft_prompt_len or input_len

    def ttft_of(st: SteadyState) -> float:
        if prompt == input_len:
            return st.ttft_s
        return ttft_for_prompt_s(model, st, prompt, limits.max_num_batched_tokens)

    def ok(c: int) -> tuple[bool, SteadyState]:
        st = steady_state(model, limits, input_len, output_len, c, slot_tokens=slot_tokens)
        good = (itl_target_s is None or st.itl_s <= itl_target_s) and (
            ttft_target_s is None or ttft_of(st) <= ttft_target_s
        )
        return good, st

    good, best = ok(1)
    clients = 1
    if good:
        lo, hi = 1, max(1, upper)
        good_hi, st_hi = ok(hi)
        if good_hi:
            clients, best = hi, st_hi
        else:
            while hi - lo > 1:
                mid = (lo + hi) // 2
                g, st = ok(mid)
                if g:
                    lo, best = mid, st
                else:
                    hi = mid
            clients = lo
    misses: list[str] = []
    if itl_target_s is not None and best.itl_s > itl_target_s:
        misses.append(
            f"inter-token latency {best.itl_s * 1e3:.0f} ms even alone > target {itl_target_s * 1e3:g} ms"
        )
    ttft = ttft_of(best)
    if ttft_target_s is not None and ttft > ttft_target_s:
        what = "" if prompt == input_len else f" for the {prompt}-token (P95) prompt"
        misses.append(f"TTFT {ttft * 1e3:.0f} ms{what} > target {ttft_target_s * 1e3:g} ms")
    return ReplicaLoad(clients=clients, state=best, ttft_s=ttft, misses=tuple(misses))


__all__ = [
    "THRASH_THROUGHPUT_LOSS",
    "ReplicaLoad",
    "SchedulerLimits",
    "SteadyState",
    "kv_resident_sequences",
    "replica_load",
    "steady_state",
    "ttft_for_prompt_s",
]
