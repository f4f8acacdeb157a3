"""Event-driven simulation of a continuous-batching engine's scheduler, one step per forward pass.

The scheduler follows vLLM V1 (`vllm/v1/core/sched/scheduler.py`): every step first gives each
running decode one token, then continues partial prefills and admits waiting requests in chunks
while the token budget `max_num_batched_tokens` and `max_num_seqs` allow (chunked prefill). KV
memory is paged in blocks of `block_size` tokens allocated as a sequence grows; when a block
cannot be had, the newest running request is preempted (its blocks freed) and goes back to the
head of the waiting queue to be recomputed later (vLLM's default RECOMPUTE preemption).
`sglang` runs prefill and decode as separate batches (SGLang without `--enable-mixed-chunk`):
a step is prefill-only while prefill work can be admitted, otherwise decode-only.
`llamacpp` has `max_num_seqs` fixed slots (`--parallel`) each with `n_ctx / parallel` context,
no paging and no preemption; `max_num_batched_tokens` is its `n_batch` shared by the slots.

Speed: decodes all advance together, so they are kept on a "decode clock" rather than touched
one by one: a decode that joins at decode step k_e with context c_e has context base + k at step
k (base = c_e - k_e). The sum of decode contexts is then `sum(base) + n * k`, finishing is a
heap keyed by the step on which the last token comes, and new KV blocks are needed exactly by
the decodes whose `(base + k - 1) % block_size == 0`, counted per residue class. Each step is
O(1) plus the requests that start, finish or prefill in it.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections import deque
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, model_validator

from garrison.errors import InputError
from garrison.simulate.workload import FloatArray, IntArray, Requests
from garrison.sizing.step_time import StepTimeModel


class EngineConfig(BaseModel):
    """Scheduler settings of one replica."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scheduler: Literal["vllm", "sglang", "llamacpp"] = "vllm"
    max_num_seqs: int = 256  # llama.cpp: --parallel slots
    max_num_batched_tokens: int = 8192  # llama.cpp: --batch-size (n_batch); SGLang: chunked_prefill_size
    max_model_len: int = 0  # 0: no limit beyond KV capacity (llama.cpp: n_ctx / parallel)
    chunked_prefill: bool = True

    @model_validator(mode="after")
    def _valid(self) -> EngineConfig:
        if self.max_num_seqs < 1:
            raise InputError("max_num_seqs", "must be at least 1", "give e.g. 256 (llama.cpp: --parallel 4)")
        if self.max_num_batched_tokens < self.max_num_seqs:
            # vLLM refuses this too: the decodes of a full batch would not fit one step's budget.
            raise InputError(
                "max_num_batched_tokens",
                f"{self.max_num_batched_tokens} < max_num_seqs {self.max_num_seqs}",
                "raise max_num_batched_tokens to at least max_num_seqs",
            )
        if self.max_model_len < 0:
            raise InputError("max_model_len", "must be >= 0", "use 0 for no limit")
        return self


@dataclass(frozen=True)
class SimTrace:
    """Raw outcome of one simulation; `garrison.simulate.results.summarise` turns it into numbers."""

    arrival_s: FloatArray
    input_tokens: IntArray
    output_tokens: IntArray  # after llama.cpp's per-slot truncation
    first_admit_s: FloatArray  # when the engine first scheduled the request (nan: rejected)
    first_token_s: FloatArray  # nan for rejected requests
    finish_s: FloatArray  # nan for rejected requests
    itl_gap_s: FloatArray  # distinct inter-token gaps ...
    itl_weight: FloatArray  # ... and how many tokens saw each
    step_start_s: FloatArray  # per step: start time, waiting, running, KV fraction used
    step_waiting: FloatArray
    step_running: FloatArray
    step_kv_frac: FloatArray
    busy_s: float
    steps: int
    preemptions: int
    rejected: int
    mean_waiting: float  # time average over [first arrival, last finish] (exact, from per-request times)
    mean_running: float
    mean_kv_frac: float


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def simulate(
    requests: Requests,
    engine: EngineConfig,
    model: StepTimeModel,
    concurrency: int = 0,
    stagger_s: float = 0.0,
) -> SimTrace:
    """Runs the requests through one replica and returns what each saw.

    `concurrency` > 0: a closed loop instead of the arrival times: that many clients, each sending
    its next request the moment its previous one finishes (or is refused); `arrival_s` in the
    result are the send times. `stagger_s`: the clients' first requests are spread evenly over this
    many seconds (users do not start in the same instant; 0 starts them together, as a benchmark
    tool's burst does).
    """
    arrival = requests.arrival_s.tolist()
    prompt = requests.input_tokens.tolist()
    out_len = requests.output_tokens.tolist()
    hit = requests.cached_tokens.tolist()
    n = len(arrival)
    sched = engine.scheduler
    paged = sched != "llamacpp"
    mixed = sched != "sglang"  # vLLM and llama.cpp put decode and prompt tokens in one batch
    bs = max(1, int(model.block_size)) if paged else 1
    capacity = int(model.kv_capacity_tokens)
    if capacity < 1:
        raise InputError(
            "kv_capacity_tokens",
            f"the replica holds {capacity} KV tokens",
            "the model does not fit: more GPUs, a smaller quantisation or a shorter context",
        )
    total_blocks = capacity // bs if paged else 1 << 62
    max_seqs = engine.max_num_seqs
    budget_max = engine.max_num_batched_tokens
    chunked = engine.chunked_prefill
    step_fn = model.step_time_s

    # Requests the engine refuses outright (vLLM: prompt + output over max_model_len or the whole KV;
    # llama.cpp: prompt not shorter than the slot context; its output stops at the slot's end).
    rejected_ids: set[int] = set()
    if paged:
        limit = min(engine.max_model_len or capacity, total_blocks * bs)
        for i in range(n):
            if prompt[i] + out_len[i] > limit:
                rejected_ids.add(i)
    else:
        slot_ctx = engine.max_model_len or capacity // max_seqs
        for i in range(n):
            if prompt[i] >= slot_ctx:
                rejected_ids.add(i)
            elif prompt[i] + out_len[i] > slot_ctx:
                out_len[i] = slot_ctx - prompt[i]

    nan = math.nan
    closed = concurrency > 0
    to_send = n
    if closed:
        start0 = arrival[0] if n else 0.0
        to_send = min(concurrency, n)
        arrival = [start0 + stagger_s * i / to_send for i in range(to_send)] + [math.inf] * (n - to_send)
    first_tok = [nan] * n
    finish = [nan] * n
    g_prev = [0] * n  # tokens generated before the current (re)admission
    to_fill = [0] * n  # tokens the current admission must prefill (prompt + g_prev)
    computed = [0] * n  # of those, in KV
    held = [0] * n  # KV blocks held while prefilling
    base = [0] * n  # decode clock offset: context at decode step k is base + k
    k_enter = [0] * n
    g_enter = [0] * n
    tok_time = [0.0] * n  # time of the token that started this decode run
    epoch = [0] * n  # invalidates heap entries of preempted decodes
    resume_from = [nan] * n  # last token time before a preemption
    enq_t = list(arrival)  # when the request last joined the waiting queue
    adm_t = [0.0] * n  # when it was last admitted
    first_adm = [nan] * n
    wait_acc = 0.0  # request-seconds spent waiting / running: exact integrals of the queue lengths
    run_acc = 0.0

    waiting: deque[int] = deque()
    running: dict[int, None] = {}  # admission order; popitem() gives the newest
    prefilling: dict[int, None] = {}
    decoding: set[int] = set()
    fin_heap: list[tuple[int, int, int]] = []
    res_cnt = [0] * bs
    sum_base = 0
    n_dec = 0
    used = 0
    kd = 0  # decode steps done
    last_dec_end = 0.0
    fresh: list[int] = []  # joined decode since the last decode step

    gaps = array("d")
    seg_f0, seg_slope, seg_w = array("d"), array("d"), array("d")
    seg_m = array("q")
    weights = array("d")
    ser_t, ser_w, ser_r, ser_kv = array("d"), array("d"), array("d"), array("d")
    acc_kv = 0.0
    busy = 0.0
    steps = 0
    preemptions = 0
    now = arrival[0] if n else 0.0
    t0 = now
    nxt = 0
    done = len(rejected_ids)

    # Decode-only step time as a line in the context, per batch size: n -> (a, b, lo, hi) with
    # t(n, ctx) = a + b * ctx verified on [lo, hi]. A roofline is affine in the KV read between its
    # regime changes, so a steady batch reuses one line instead of calling the model every step.
    lines: dict[int, tuple[float, float, int, int]] = {}

    def affine_decode(nd: int, lo: int, hi: int) -> tuple[float, float] | None:
        line = lines.get(nd)
        if line is not None and line[2] <= lo and hi <= line[3]:
            return line[0], line[1]
        if hi <= lo:
            return None
        # Try a wide stretch first (five points), so later runs with this batch size need no calls;
        # fall back to the run's own stretch (three points).
        for a_lo, a_hi, probes in ((0, 4 * hi + 65536, 5), (lo, hi, 3)):
            f_lo = step_fn(nd, a_lo, 0, 0)
            f_hi = step_fn(nd, a_hi, 0, 0)
            b = (f_hi - f_lo) / (a_hi - a_lo)
            a = f_lo - b * a_lo
            ok = f_lo > 0
            for q in range(1, probes - 1):
                x = a_lo + (a_hi - a_lo) * q // (probes - 1)
                fx = step_fn(nd, x, 0, 0)
                ok = ok and abs(a + b * x - fx) <= 1e-9 * fx
            if ok:
                lines[nd] = (a, b, a_lo, a_hi)
                return a, b
        return None

    def preempt_newest(step_k: int, allocated: bool) -> int:
        """Evicts the newest running request; returns it. `allocated`: decodes hold step_k's block."""
        nonlocal used, n_dec, sum_base, preemptions, run_acc
        j, _ = running.popitem()
        preemptions += 1
        run_acc += now - adm_t[j]
        enq_t[j] = now
        if j in decoding:
            decoding.discard(j)
            b = base[j]
            pos = b + step_k if allocated else b + step_k - 1
            used -= _ceil_div(pos, bs)
            n_dec -= 1
            sum_base -= b
            res_cnt[b % bs] -= 1
            epoch[j] += 1
            g_prev[j] = g_enter[j] + (step_k - 1 - k_enter[j]) + 1
            resume_from[j] = max(tok_time[j], last_dec_end)
            if j in fresh:
                fresh.remove(j)
        else:
            del prefilling[j]
            used -= held[j]
        held[j] = 0
        to_fill[j] = 0
        waiting.appendleft(j)
        return j

    while done < n:
        while nxt < n and arrival[nxt] <= now:
            if nxt not in rejected_ids:
                waiting.append(nxt)
            elif to_send < n:  # closed loop: a refused request frees its client at once
                arrival[to_send] = arrival[nxt]
                enq_t[to_send] = arrival[nxt]
                to_send += 1
            nxt += 1
        if not running and not waiting:
            now = arrival[nxt]
            continue

        # Fast-forward through a run of identical decode-only steps (nothing to prefill, nobody
        # waiting) up to the step before the next finish or the step during which the next
        # request arrives. When the step time is affine in the decode context over the run
        # (checked at both ends and the middle), step i of the run takes f0 + slope * i, so the
        # run's length and duration follow in closed form from the arithmetic series.
        if (
            n_dec
            and not prefilling
            and not waiting
            and fin_heap
            and (last_dec_end == now or len(fresh) == n_dec)
            and all(tok_time[i] == now for i in fresh)
        ):
            m = fin_heap[0][0] - kd - 1
            if m >= 2:
                c0 = sum_base + n_dec * (kd + 1)
                c_end = c0 + n_dec * (m - 1)
                line = affine_decode(n_dec, c0, c_end)
                if line is not None:
                    f0 = line[0] + line[1] * c0
                    slope = line[1] * n_dec
                    if nxt < n and arrival[nxt] != math.inf:
                        gap_to_arrival = arrival[nxt] - now
                        half = slope / 2.0
                        if abs(slope) < 1e-15:
                            j = math.ceil(gap_to_arrival / f0)
                        else:
                            lin = f0 - half
                            disc = lin * lin + 4.0 * half * gap_to_arrival
                            j = (
                                math.ceil((-lin + math.sqrt(max(disc, 0.0))) / (2.0 * half))
                                if disc >= 0
                                else m
                            )
                        j = max(j, 1)
                        while j > 1 and (j - 1) * f0 + half * (j - 1) * (j - 2) >= gap_to_arrival:
                            j -= 1
                        while j * f0 + half * j * (j - 1) < gap_to_arrival and j < m:
                            j += 1
                        m = min(m, j)
                    k1 = kd + 1
                    k2 = kd + m
                    new_blocks = 0
                    if paged:
                        for r in range(bs):
                            cnt = res_cnt[r]
                            if cnt:
                                t = (1 - r) % bs
                                new_blocks += cnt * ((k2 - t) // bs - (k1 - 1 - t) // bs)
                    if used + new_blocks <= total_blocks:
                        span_t = m * f0 + slope * m * (m - 1) / 2.0
                        nr = len(running)
                        kv_a = used / total_blocks if paged else nr / max_seqs
                        kv_b = (used + new_blocks) / total_blocks if paged else kv_a
                        ser_t.append(now)
                        ser_w.append(0.0)
                        ser_r.append(nr)
                        ser_kv.append(kv_a)
                        acc_kv += (kv_a + kv_b) / 2.0 * span_t
                        seg_f0.append(f0)
                        seg_slope.append(slope)
                        seg_m.append(m)
                        seg_w.append(n_dec)
                        used += new_blocks
                        now += span_t
                        busy += span_t
                        kd = k2
                        steps += m
                        last_dec_end = now
                        fresh.clear()  # every decode's last token came at the run's start
                        continue

        budget = budget_max
        k = kd + 1
        chunks: list[tuple[int, int]] = []
        pf_tok = 0
        pf_ctx = 0
        # SGLang: a prefill batch whenever prefill work exists and can start; else a decode batch.
        do_decode = n_dec > 0
        if not mixed and (prefilling or (waiting and len(running) < max_seqs)):
            head = waiting[0] if waiting else -1
            if prefilling or head < 0:
                do_decode = False
            else:
                # SGLang admits a request only when its whole prompt fits (PrefillAdder's check)
                if used + _ceil_div(prompt[head] + g_prev[head], bs) <= total_blocks:
                    do_decode = False
        if do_decode:
            if paged:
                need = res_cnt[(1 - k) % bs]
                while used + need > total_blocks and n_dec:
                    preempt_newest(k, allocated=False)
                    need = res_cnt[(1 - k) % bs]
                used += need
            budget -= n_dec
        if mixed or not do_decode:
            # partial prefills first, in admission order
            for i in list(prefilling):
                if budget <= 0:
                    break
                if i not in prefilling:
                    continue  # preempted below while making room
                c = min(to_fill[i] - computed[i], budget)
                nb = max(0, _ceil_div(computed[i] + c, bs) - held[i])
                while used + nb > total_blocks:
                    was_decoding = running and next(reversed(running)) in decoding
                    if preempt_newest(k, allocated=do_decode) == i:
                        break
                    if was_decoding and do_decode:
                        budget += 1  # its decode token leaves this step
                if i not in prefilling:
                    break
                c = min(c, budget)
                nb = max(0, _ceil_div(computed[i] + c, bs) - held[i])
                used += nb
                held[i] += nb
                chunks.append((i, c))
                budget -= c
                pf_tok += c
                pf_ctx += computed[i] + c
            # then new admissions from the waiting queue
            while waiting and budget > 0 and len(running) < max_seqs:
                i = waiting[0]
                if to_fill[i] == 0:
                    to_fill[i] = prompt[i] + g_prev[i]
                    # Prefix cache: whole cached blocks are reused, at least one token is computed.
                    h = min(hit[i], to_fill[i] - 1) // bs * bs
                    computed[i] = h
                rest = to_fill[i] - computed[i]
                if not chunked and rest > budget:
                    break
                c = min(rest, budget)
                # vLLM allocates per chunk; SGLang reserves the whole prompt at admission, so its
                # chunked prefills never wait for memory (decodes are retracted instead).
                nb = _ceil_div(computed[i] + c if mixed else to_fill[i], bs)
                if used + nb > total_blocks:
                    break
                waiting.popleft()
                wait_acc += now - enq_t[i]
                adm_t[i] = now
                if first_adm[i] != first_adm[i]:
                    first_adm[i] = now
                running[i] = None
                prefilling[i] = None
                used += nb
                held[i] = nb
                chunks.append((i, c))
                budget -= c
                pf_tok += c
                pf_ctx += computed[i] + c

        if not mixed and not do_decode and not chunks and n_dec:
            # SGLang: the prefill batch found no room; run the decode batch instead.
            do_decode = True
            if paged:
                need = res_cnt[(1 - k) % bs]
                while used + need > total_blocks and n_dec:
                    preempt_newest(k, allocated=False)
                    need = res_cnt[(1 - k) % bs]
                used += need
        dec_now = n_dec if do_decode else 0
        if not chunks and not dec_now:
            if not running and waiting:
                # The head cannot be admitted into an empty engine (its first chunk's blocks exceed
                # the KV): refuse it rather than stall.
                j = waiting.popleft()
                wait_acc += now - enq_t[j]
                rejected_ids.add(j)
                done += 1
                if to_send < n:
                    arrival[to_send] = now
                    enq_t[to_send] = now
                    to_send += 1
                continue
            raise RuntimeError("simulator stalled: requests wait but nothing can be scheduled")  # a bug

        if pf_tok:
            dt = step_fn(dec_now, (sum_base + n_dec * k) if dec_now else 0, pf_tok, pf_ctx)
        else:
            ctx_now = sum_base + n_dec * k
            known = lines.get(dec_now)
            if known is not None and known[2] <= ctx_now <= known[3]:
                dt = known[0] + known[1] * ctx_now
            else:
                dt = step_fn(dec_now, ctx_now, 0, 0)
        start = now
        now += dt
        steps += 1
        busy += dt
        nw = len(waiting)
        nr = len(running)
        kvf = used / total_blocks if paged else nr / max_seqs
        acc_kv += kvf * dt
        ser_t.append(start)
        ser_w.append(nw)
        ser_r.append(nr)
        ser_kv.append(kvf)

        if dec_now:
            kd = k
            stale = dec_now - len(fresh)
            if stale:
                gaps.append(now - last_dec_end)
                weights.append(stale)
            for i in fresh:
                gaps.append(now - tok_time[i])
                weights.append(1.0)
            fresh.clear()
            last_dec_end = now
            while fin_heap and fin_heap[0][0] <= kd:
                _, i, ep = heapq.heappop(fin_heap)
                if ep != epoch[i]:
                    continue
                finish[i] = now
                run_acc += now - adm_t[i]
                del running[i]
                decoding.discard(i)
                if to_send < n:
                    arrival[to_send] = now
                    enq_t[to_send] = now
                    to_send += 1
                b = base[i]
                used -= _ceil_div(b + kd, bs)
                n_dec -= 1
                sum_base -= b
                res_cnt[b % bs] -= 1
                done += 1

        for i, c in chunks:
            computed[i] += c
            if computed[i] < to_fill[i]:
                continue
            del prefilling[i]
            g = g_prev[i] + 1
            if first_tok[i] != first_tok[i]:  # nan: the first token
                first_tok[i] = now
            else:
                gaps.append(now - resume_from[i])
                weights.append(1.0)
            if g >= out_len[i]:
                finish[i] = now
                run_acc += now - adm_t[i]
                del running[i]
                used -= held[i]
                if to_send < n:
                    arrival[to_send] = now
                    enq_t[to_send] = now
                    to_send += 1
                held[i] = 0
                done += 1
                continue
            ke = kd + 1
            b = to_fill[i] + 1 - ke
            base[i] = b
            k_enter[i] = ke
            g_enter[i] = g
            tok_time[i] = now
            held[i] = 0  # now accounted through the decode clock
            to_fill[i] = 0
            decoding.add(i)
            heapq.heappush(fin_heap, (ke + out_len[i] - g - 1, i, epoch[i]))
            res_cnt[b % bs] += 1
            sum_base += b
            n_dec += 1
            fresh.append(i)

    span = max(now - t0, 1e-12)
    # Expand the fast-forwarded runs into their per-step gaps: run r has m_r steps f0_r + slope_r * i.
    m_arr = np.frombuffer(seg_m, dtype=np.int64)
    idx = np.arange(int(m_arr.sum()), dtype=np.float64) - np.repeat(np.cumsum(m_arr) - m_arr, m_arr)
    seg_gaps = np.repeat(np.frombuffer(seg_f0), m_arr) + np.repeat(np.frombuffer(seg_slope), m_arr) * idx
    seg_weights = np.repeat(np.frombuffer(seg_w), m_arr)
    rej = np.zeros(n, dtype=bool)
    if rejected_ids:
        rej[list(rejected_ids)] = True
    ft = np.array(first_tok, dtype=np.float64)
    fin = np.array(finish, dtype=np.float64)
    ft[rej] = np.nan
    fin[rej] = np.nan
    return SimTrace(
        arrival_s=np.array(arrival, dtype=np.float64) if closed else requests.arrival_s,
        input_tokens=requests.input_tokens,
        output_tokens=np.array(out_len, dtype=np.int64),
        first_admit_s=np.array(first_adm, dtype=np.float64),
        first_token_s=ft,
        finish_s=fin,
        itl_gap_s=np.concatenate([np.frombuffer(gaps, dtype=np.float64), seg_gaps]),
        itl_weight=np.concatenate([np.frombuffer(weights, dtype=np.float64), seg_weights]),
        step_start_s=np.frombuffer(ser_t, dtype=np.float64).copy(),
        step_waiting=np.frombuffer(ser_w, dtype=np.float64).copy(),
        step_running=np.frombuffer(ser_r, dtype=np.float64).copy(),
        step_kv_frac=np.frombuffer(ser_kv, dtype=np.float64).copy(),
        busy_s=busy,
        steps=steps,
        preemptions=preemptions,
        rejected=int(rej.sum()),
        mean_waiting=wait_acc / span,
        mean_running=run_acc / span,
        mean_kv_frac=acc_kv / span,
    )
