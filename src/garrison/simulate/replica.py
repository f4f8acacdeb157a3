"""One replica's state during a simulation: queues, KV blocks, the decode clock and what was seen.

The scheduler policies (simulate/schedulers.py) decide what a step runs; this class keeps the books
and carries out their decisions in small steps (admit, preempt, allocate, finish, record).

The decode clock: decodes all advance together, so they are not touched one by one. A decode that
joins at decode step k_e with context c_e has context base + k at step k (base = c_e - k_e). The sum
of decode contexts is `sum_base + n_dec * k`; finishing is a heap keyed by the step of the last
token; new KV blocks are needed exactly by the decodes whose `(base + k - 1) % block_size == 0`,
counted per residue class (`res_cnt`). Each step is O(1) plus the requests that start, finish or
prefill in it.
"""

from __future__ import annotations

import heapq
import math
from array import array
from collections import deque

from garrison.errors import InputError
from garrison.simulate.workload import Requests
from garrison.sizing.step_time import StepTimeModel


def ceil_div(a: int, b: int) -> int:
    """Ceiling of a / b for integers."""
    return -(-a // b)


class Replica:
    """Mutable bookkeeping of one replica (attributes are the simulator's working state)."""

    __slots__ = (
        "acc_kv",
        "adm_t",
        "arrival",
        "base",
        "bs",
        "busy",
        "closed",
        "computed",
        "decoding",
        "done",
        "enq_t",
        "epoch",
        "fin_heap",
        "finish",
        "first_adm",
        "first_tok",
        "fresh",
        "g_enter",
        "g_prev",
        "gaps",
        "held",
        "hit",
        "k_enter",
        "kd",
        "last_dec_end",
        "lines",
        "max_seqs",
        "n",
        "n_dec",
        "now",
        "nxt",
        "out_len",
        "paged",
        "preemptions",
        "prefilling",
        "prompt",
        "rejected",
        "res_cnt",
        "resume_from",
        "run_acc",
        "running",
        "seg_f0",
        "seg_m",
        "seg_slope",
        "seg_w",
        "ser_kv",
        "ser_r",
        "ser_t",
        "ser_w",
        "step_fn",
        "steps",
        "sum_base",
        "t0",
        "to_fill",
        "to_send",
        "tok_time",
        "total_blocks",
        "used",
        "wait_acc",
        "waiting",
        "weights",
    )

    def __init__(
        self,
        requests: Requests,
        model: StepTimeModel,
        *,
        paged: bool,
        max_seqs: int,
        max_model_len: int,
        concurrency: int,
        stagger_s: float,
    ) -> None:
        self.arrival: list[float] = requests.arrival_s.tolist()
        self.prompt: list[int] = requests.input_tokens.tolist()
        self.out_len: list[int] = requests.output_tokens.tolist()
        self.hit: list[int] = requests.cached_tokens.tolist()
        n = self.n = len(self.arrival)
        self.paged = paged
        self.bs = max(1, int(model.block_size)) if paged else 1
        capacity = int(model.kv_capacity_tokens)
        if capacity < 1:
            raise InputError(
                "kv_capacity_tokens",
                f"the replica holds {capacity} KV tokens",
                "the model does not fit: more GPUs, a smaller quantisation or a shorter context",
            )
        self.total_blocks = capacity // self.bs if paged else 1 << 62
        self.max_seqs = max_seqs
        self.step_fn = model.step_time_s
        self.rejected: set[int] = set()
        self._refuse_impossible(capacity, max_model_len)

        nan = math.nan
        self.closed = concurrency > 0
        self.to_send = n
        if self.closed:
            start0 = self.arrival[0] if n else 0.0
            self.to_send = min(concurrency, n)
            first = [start0 + stagger_s * i / self.to_send for i in range(self.to_send)]
            self.arrival = first + [math.inf] * (n - self.to_send)
        self.first_tok = [nan] * n
        self.finish = [nan] * n
        self.g_prev = [0] * n  # tokens generated before the current (re)admission
        self.to_fill = [0] * n  # tokens the current admission must prefill (prompt + g_prev)
        self.computed = [0] * n  # of those, in KV
        self.held = [0] * n  # KV blocks held while prefilling
        self.base = [0] * n  # decode clock offset: context at decode step k is base + k
        self.k_enter = [0] * n
        self.g_enter = [0] * n
        self.tok_time = [0.0] * n  # time of the token that started this decode run
        self.epoch = [0] * n  # invalidates heap entries of preempted decodes
        self.resume_from = [nan] * n  # last token time before a preemption
        self.enq_t = list(self.arrival)  # when the request last joined the waiting queue
        self.adm_t = [0.0] * n  # when it was last admitted
        self.first_adm = [nan] * n
        self.wait_acc = 0.0  # request-seconds spent waiting / running: integrals of the queue lengths
        self.run_acc = 0.0

        self.waiting: deque[int] = deque()
        self.running: dict[int, None] = {}  # admission order; popitem() gives the newest
        self.prefilling: dict[int, None] = {}
        self.decoding: set[int] = set()
        self.fin_heap: list[tuple[int, int, int]] = []
        self.res_cnt = [0] * self.bs
        self.sum_base = 0
        self.n_dec = 0
        self.used = 0  # KV blocks in use
        self.kd = 0  # decode steps done
        self.last_dec_end = 0.0
        self.fresh: list[int] = []  # joined decode since the last decode step

        self.gaps = array("d")  # distinct inter-token gaps and how many tokens saw each
        self.weights = array("d")
        self.seg_f0, self.seg_slope, self.seg_w = array("d"), array("d"), array("d")
        self.seg_m = array("q")
        self.ser_t, self.ser_w, self.ser_r, self.ser_kv = array("d"), array("d"), array("d"), array("d")
        self.acc_kv = 0.0
        self.busy = 0.0
        self.steps = 0
        self.preemptions = 0
        self.now = self.arrival[0] if n else 0.0
        self.t0 = self.now
        self.nxt = 0
        self.done = len(self.rejected)
        # decode-only step time as a line in the context, per batch size (see affine_decode)
        self.lines: dict[int, tuple[float, float, int, int]] = {}

    # ---------------------------------------------------------------- arrivals and refusals
    def _refuse_impossible(self, capacity: int, max_model_len: int) -> None:
        """Requests the engine refuses outright (vLLM: prompt + output over max_model_len or the whole
        KV; llama.cpp: prompt not shorter than the slot context; its output stops at the slot's end)."""
        prompt, out_len = self.prompt, self.out_len
        if self.paged:
            limit = min(max_model_len or capacity, self.total_blocks * self.bs)
            self.rejected.update(i for i in range(self.n) if prompt[i] + out_len[i] > limit)
            return
        slot_ctx = max_model_len or capacity // self.max_seqs
        for i in range(self.n):
            if prompt[i] >= slot_ctx:
                self.rejected.add(i)
            elif prompt[i] + out_len[i] > slot_ctx:
                out_len[i] = slot_ctx - prompt[i]

    def send_next(self, at: float) -> None:
        """Closed loop: a client whose request finished (or was refused) sends its next one."""
        if self.to_send < self.n:
            self.arrival[self.to_send] = at
            self.enq_t[self.to_send] = at
            self.to_send += 1

    def accept_arrivals(self) -> None:
        """Moves every request that has arrived by `now` into the waiting queue."""
        arrival, n, now, i = self.arrival, self.n, self.now, self.nxt
        if i >= n or arrival[i] > now:
            return
        rejected, waiting = self.rejected, self.waiting
        while i < n and arrival[i] <= now:
            if i not in rejected:
                waiting.append(i)
            elif self.to_send < n:  # closed loop: a refused request frees its client at once
                self.send_next(arrival[i])
            i += 1
        self.nxt = i

    def refuse_head(self) -> None:
        """The head of the queue cannot be admitted into an empty engine: refuse it rather than stall."""
        j = self.waiting.popleft()
        self.wait_acc += self.now - self.enq_t[j]
        self.rejected.add(j)
        self.done += 1
        self.send_next(self.now)

    # ---------------------------------------------------------------- KV blocks and preemption
    def decode_blocks_needed(self, k: int) -> int:
        """Blocks the decodes need for step k: those whose context crosses a block boundary."""
        return self.res_cnt[(1 - k) % self.bs]

    def reserve_decode_blocks(self, k: int) -> None:
        """Allocates step k's decode blocks, preempting the newest requests until they fit."""
        if not self.paged:
            return
        need = self.res_cnt[(1 - k) % self.bs]
        if self.used + need <= self.total_blocks:
            self.used += need
            return
        while self.used + need > self.total_blocks and self.n_dec:
            self.preempt_newest(k, allocated=False)
            need = self.decode_blocks_needed(k)
        self.used += need

    def preempt_newest(self, step_k: int, allocated: bool) -> int:
        """Evicts the newest running request to the head of the queue (vLLM's RECOMPUTE preemption);
        returns it. `allocated`: the decodes already hold step_k's block."""
        j, _ = self.running.popitem()
        self.preemptions += 1
        self.run_acc += self.now - self.adm_t[j]
        self.enq_t[j] = self.now
        if j in self.decoding:
            self._drop_decode(j, step_k, allocated)
        else:
            del self.prefilling[j]
            self.used -= self.held[j]
        self.held[j] = 0
        self.to_fill[j] = 0
        self.waiting.appendleft(j)
        return j

    def _drop_decode(self, j: int, step_k: int, allocated: bool) -> None:
        self.decoding.discard(j)
        b = self.base[j]
        pos = b + step_k if allocated else b + step_k - 1
        self.used -= ceil_div(pos, self.bs)
        self.n_dec -= 1
        self.sum_base -= b
        self.res_cnt[b % self.bs] -= 1
        self.epoch[j] += 1
        self.g_prev[j] = self.g_enter[j] + (step_k - 1 - self.k_enter[j]) + 1
        self.resume_from[j] = max(self.tok_time[j], self.last_dec_end)
        if j in self.fresh:
            self.fresh.remove(j)

    # ---------------------------------------------------------------- prefill
    def start_fill(self, i: int) -> int:
        """Tokens request i still has to prefill on (re)admission; whole cached blocks are reused,
        at least one token is computed (prefix cache)."""
        if self.to_fill[i] == 0:
            self.to_fill[i] = self.prompt[i] + self.g_prev[i]
            self.computed[i] = min(self.hit[i], self.to_fill[i] - 1) // self.bs * self.bs
        return self.to_fill[i] - self.computed[i]

    def admit(self, i: int, blocks: int) -> None:
        """Moves the head of the queue (request i) into the running set holding `blocks` KV blocks."""
        self.waiting.popleft()
        now = self.now
        self.wait_acc += now - self.enq_t[i]
        self.adm_t[i] = now
        if self.first_adm[i] != self.first_adm[i]:  # nan: first admission
            self.first_adm[i] = now
        self.running[i] = None
        self.prefilling[i] = None
        self.used += blocks
        self.held[i] = blocks

    def grow_prefill(self, i: int, c: int) -> int:
        """Blocks request i's next chunk of c tokens needs beyond what it holds."""
        return max(0, ceil_div(self.computed[i] + c, self.bs) - self.held[i])

    # ---------------------------------------------------------------- step time and records
    def affine_decode(self, nd: int, lo: int, hi: int) -> tuple[float, float] | None:
        """The decode-only step time of `nd` sequences as a line a + b * ctx, valid on [lo, hi].

        A roofline is affine in the KV read between its regime changes, so a steady batch reuses one
        line instead of calling the model every step. A wide stretch is tried first (five points),
        so later runs with this batch size need no calls; then the run's own stretch (three points).
        """
        line = self.lines.get(nd)
        if line is not None and line[2] <= lo and hi <= line[3]:
            return line[0], line[1]
        if hi <= lo:
            return None
        step_fn = self.step_fn
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
                self.lines[nd] = (a, b, a_lo, a_hi)
                return a, b
        return None

    def step_time(self, dec_now: int, k: int, pf_tok: int, pf_ctx: int) -> float:
        """Seconds of a step with `dec_now` decodes at decode step k and `pf_tok` prompt tokens."""
        ctx_now = self.sum_base + self.n_dec * k if dec_now else 0
        if pf_tok:
            return self.step_fn(dec_now, ctx_now, pf_tok, pf_ctx)
        known = self.lines.get(dec_now)
        if known is not None and known[2] <= ctx_now <= known[3]:
            return known[0] + known[1] * ctx_now
        return self.step_fn(dec_now, ctx_now, 0, 0)

    def kv_fraction(self) -> float:
        return self.used / self.total_blocks if self.paged else len(self.running) / self.max_seqs

    def record_step(self, start: float, dt: float) -> None:
        """Advances the clock by one step and records the queue, batch and KV it ran with."""
        self.now = start + dt
        self.steps += 1
        self.busy += dt
        nr = len(self.running)
        kvf = self.used / self.total_blocks if self.paged else nr / self.max_seqs
        self.acc_kv += kvf * dt
        self.ser_t.append(start)
        self.ser_w.append(len(self.waiting))
        self.ser_r.append(nr)
        self.ser_kv.append(kvf)

    # ---------------------------------------------------------------- finishing
    def finish_decode_step(self, k: int) -> None:
        """After decode step k: token gaps of the decodes, and the requests whose last token it was."""
        now = self.now
        self.kd = k
        fresh = self.fresh
        gaps_append, weights_append = self.gaps.append, self.weights.append
        stale = self.n_dec - len(fresh)
        if stale:
            gaps_append(now - self.last_dec_end)
            weights_append(stale)
        if fresh:
            tok_time = self.tok_time
            for i in fresh:
                gaps_append(now - tok_time[i])
                weights_append(1.0)
            fresh.clear()
        self.last_dec_end = now
        heap = self.fin_heap
        if not heap or heap[0][0] > k:
            return
        epoch, base, bs, res_cnt = self.epoch, self.base, self.bs, self.res_cnt
        while heap and heap[0][0] <= k:
            _, i, ep = heapq.heappop(heap)
            if ep != epoch[i]:
                continue
            self._finish(i)
            self.decoding.discard(i)
            b = base[i]
            self.used -= -(-(b + k) // bs)
            self.n_dec -= 1
            self.sum_base -= b
            res_cnt[b % bs] -= 1

    def _finish(self, i: int) -> None:
        self.finish[i] = self.now
        self.run_acc += self.now - self.adm_t[i]
        del self.running[i]
        self.send_next(self.now)
        self.done += 1

    def finish_chunks(self, chunks: list[tuple[int, int]]) -> None:
        """After a step: the prompts whose last chunk it ran produce their first (or next) token."""
        now = self.now
        for i, c in chunks:
            self.computed[i] += c
            if self.computed[i] < self.to_fill[i]:
                continue
            del self.prefilling[i]
            g = self.g_prev[i] + 1
            if self.first_tok[i] != self.first_tok[i]:  # nan: the first token
                self.first_tok[i] = now
            else:
                self.gaps.append(now - self.resume_from[i])
                self.weights.append(1.0)
            if g >= self.out_len[i]:
                self.used -= self.held[i]
                self.held[i] = 0
                self._finish(i)
                continue
            self._start_decode(i, g)

    def _start_decode(self, i: int, g: int) -> None:
        ke = self.kd + 1
        b = self.to_fill[i] + 1 - ke
        self.base[i] = b
        self.k_enter[i] = ke
        self.g_enter[i] = g
        self.tok_time[i] = self.now
        self.held[i] = 0  # now accounted through the decode clock
        self.to_fill[i] = 0
        self.decoding.add(i)
        heapq.heappush(self.fin_heap, (ke + self.out_len[i] - g - 1, i, self.epoch[i]))
        self.res_cnt[b % self.bs] += 1
        self.sum_base += b
        self.n_dec += 1
        self.fresh.append(i)

    # ---------------------------------------------------------------- fast-forward
    def fast_forward(self) -> bool:
        """With nothing prefilling or waiting: runs a stretch of identical decode-only steps (nothing to prefill, nobody waiting) in one
        go, up to the step before the next finish or the step during which the next request
        arrives. When the step time is affine in the decode context over the stretch, step i takes
        f0 + slope * i, so its length and duration follow from the arithmetic series. True if it ran."""
        n_dec, now, fresh = self.n_dec, self.now, self.fresh
        if not n_dec or not self.fin_heap:  # the caller checked that nothing prefills or waits
            return False
        if not (self.last_dec_end == now or len(fresh) == n_dec):
            return False
        if fresh:
            tok_time = self.tok_time
            for i in fresh:
                if tok_time[i] != now:
                    return False
        kd = self.kd
        m = self.fin_heap[0][0] - kd - 1
        if m < 2:
            return False
        c0 = self.sum_base + n_dec * (kd + 1)
        line = self.affine_decode(n_dec, c0, c0 + n_dec * (m - 1))
        if line is None:
            return False
        f0 = line[0] + line[1] * c0
        slope = line[1] * n_dec
        m = self._steps_before_arrival(m, f0, slope)
        new_blocks = self._blocks_over(kd + 1, kd + m) if self.paged else 0
        if self.used + new_blocks > self.total_blocks:
            return False
        span_t = m * f0 + slope * m * (m - 1) / 2.0
        nr = len(self.running)
        kv_a = self.used / self.total_blocks if self.paged else nr / self.max_seqs
        kv_b = (self.used + new_blocks) / self.total_blocks if self.paged else kv_a
        self.ser_t.append(now)
        self.ser_w.append(0.0)
        self.ser_r.append(nr)
        self.ser_kv.append(kv_a)
        self.acc_kv += (kv_a + kv_b) / 2.0 * span_t
        self.seg_f0.append(f0)
        self.seg_slope.append(slope)
        self.seg_m.append(m)
        self.seg_w.append(n_dec)
        self.used += new_blocks
        self.now = now + span_t
        self.busy += span_t
        self.kd = kd + m
        self.steps += m
        self.last_dec_end = self.now
        fresh.clear()  # every decode's last token came at the run's start
        return True

    def _steps_before_arrival(self, m: int, f0: float, slope: float) -> int:
        """Shortens a run of m steps (step i takes f0 + slope * i) to end in the step during which
        the next request arrives."""
        nxt = self.nxt
        if nxt >= self.n or self.arrival[nxt] == math.inf:
            return m
        gap = self.arrival[nxt] - self.now
        half = slope / 2.0
        if abs(slope) < 1e-15:
            j = math.ceil(gap / f0)
        else:
            lin = f0 - half
            disc = lin * lin + 4.0 * half * gap
            j = math.ceil((-lin + math.sqrt(max(disc, 0.0))) / (2.0 * half)) if disc >= 0 else m
        j = max(j, 1)
        while j > 1 and (j - 1) * f0 + half * (j - 1) * (j - 2) >= gap:
            j -= 1
        while j * f0 + half * j * (j - 1) < gap and j < m:
            j += 1
        return min(m, j)

    def _blocks_over(self, k1: int, k2: int) -> int:
        """New KV blocks the decodes need over decode steps k1..k2: at step k the decodes of residue
        class (1 - k) % block_size cross a block boundary, so every bs consecutive steps each decode
        needs one block, and the remaining steps are looked up class by class."""
        bs = self.bs
        q, rem = divmod(k2 - k1 + 1, bs)
        total = self.n_dec * q
        res = self.res_cnt
        for k in range(k2 - rem + 1, k2 + 1):
            total += res[(1 - k) % bs]
        return total
