"""Event-driven simulation of a continuous-batching engine, one step per forward pass.

The driver below runs a replica (simulate/replica.py: queues, KV blocks, the decode clock and the
records) under an engine's scheduler policy (simulate/schedulers.py: what a step runs, per vLLM,
SGLang or llama.cpp). A step is timed by a StepTimeModel (sizing.step_time). Stretches of identical
decode-only steps between events are run in one go in closed form (Replica.fast_forward), which is
what keeps 100,000 requests under a few seconds (bench/bench_simulate.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, model_validator

from garrison.errors import InputError
from garrison.simulate.replica import Replica
from garrison.simulate.schedulers import scheduler_for
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
    rep = Replica(
        requests,
        model,
        paged=engine.scheduler != "llamacpp",
        max_seqs=engine.max_num_seqs,
        max_model_len=engine.max_model_len,
        concurrency=concurrency,
        stagger_s=stagger_s,
    )
    policy = scheduler_for(engine.scheduler, engine.max_num_batched_tokens, engine.chunked_prefill)
    # the loop runs once per step or event: its method lookups are bound once, and the checks that
    # usually fail are made here before a call
    accept, fast_forward = rep.accept_arrivals, rep.fast_forward
    plan_step, step_time, record = policy.plan, rep.step_time, rep.record_step
    reserve, finish_decodes, finish_chunks = (
        rep.reserve_decode_blocks,
        rep.finish_decode_step,
        rep.finish_chunks,
    )
    n, arrival = rep.n, rep.arrival
    while rep.done < n:
        if rep.nxt < n and arrival[rep.nxt] <= rep.now:
            accept()
        if not rep.running and not rep.waiting:
            rep.now = arrival[rep.nxt]  # idle until the next arrival
            continue
        k = rep.kd + 1
        if not rep.prefilling and not rep.waiting:
            # nothing to prefill or admit: a decode-only step under every policy
            if fast_forward():
                continue
            reserve(k)
            dec_now = rep.n_dec
            record(rep.now, step_time(dec_now, k, 0, 0))
            finish_decodes(k)
            continue
        plan = plan_step(rep, k)
        dec_now = rep.n_dec if plan.decode else 0
        if not plan.chunks and not dec_now:
            if not rep.running and rep.waiting:
                rep.refuse_head()
                continue
            raise RuntimeError("simulator stalled: requests wait but nothing can be scheduled")  # a bug
        record(rep.now, step_time(dec_now, k, plan.prefill_tokens, plan.prefill_context))
        if dec_now:
            finish_decodes(k)
        if plan.chunks:
            finish_chunks(plan.chunks)
    return _trace(rep, requests)


def _trace(rep: Replica, requests: Requests) -> SimTrace:
    """The replica's records as arrays; fast-forwarded runs expanded into their per-step gaps."""
    span = max(rep.now - rep.t0, 1e-12)
    # run r has m_r steps f0_r + slope_r * i
    m_arr = np.frombuffer(rep.seg_m, dtype=np.int64)
    idx = np.arange(int(m_arr.sum()), dtype=np.float64) - np.repeat(np.cumsum(m_arr) - m_arr, m_arr)
    seg_gaps = (
        np.repeat(np.frombuffer(rep.seg_f0), m_arr) + np.repeat(np.frombuffer(rep.seg_slope), m_arr) * idx
    )
    seg_weights = np.repeat(np.frombuffer(rep.seg_w), m_arr)
    rej = np.zeros(rep.n, dtype=bool)
    if rep.rejected:
        rej[list(rep.rejected)] = True
    ft = np.array(rep.first_tok, dtype=np.float64)
    fin = np.array(rep.finish, dtype=np.float64)
    ft[rej] = np.nan
    fin[rej] = np.nan
    return SimTrace(
        arrival_s=np.array(rep.arrival, dtype=np.float64) if rep.closed else requests.arrival_s,
        input_tokens=requests.input_tokens,
        output_tokens=np.array(rep.out_len, dtype=np.int64),
        first_admit_s=np.array(rep.first_adm, dtype=np.float64),
        first_token_s=ft,
        finish_s=fin,
        itl_gap_s=np.concatenate([np.frombuffer(rep.gaps, dtype=np.float64), seg_gaps]),
        itl_weight=np.concatenate([np.frombuffer(rep.weights, dtype=np.float64), seg_weights]),
        step_start_s=np.frombuffer(rep.ser_t, dtype=np.float64).copy(),
        step_waiting=np.frombuffer(rep.ser_w, dtype=np.float64).copy(),
        step_running=np.frombuffer(rep.ser_r, dtype=np.float64).copy(),
        step_kv_frac=np.frombuffer(rep.ser_kv, dtype=np.float64).copy(),
        busy_s=rep.busy,
        steps=rep.steps,
        preemptions=rep.preemptions,
        rejected=int(rej.sum()),
        mean_waiting=rep.wait_acc / span,
        mean_running=rep.run_acc / span,
        mean_kv_frac=rep.acc_kv / span,
    )
