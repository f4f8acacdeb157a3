"""What each engine's scheduler runs in one step (after vidur's replica schedulers: a policy object
decides the batch; the replica state carries it out).

- vLLM V1 (`vllm/v1/core/sched/scheduler.py`): every step first gives each running decode one
  token, then continues partial prefills and admits waiting requests in chunks while the token
  budget `max_num_batched_tokens` and `max_num_seqs` allow (chunked prefill). KV blocks are
  allocated per chunk; when a block cannot be had the newest running request is preempted.
- llama.cpp's server batches the same way over `--parallel` slots (no paging, no preemption;
  `max_num_batched_tokens` is its `n_batch`).
- SGLang without `--enable-mixed-chunk`: a step is prefill-only while prefill work can be admitted
  (a request only when its whole prompt fits: PrefillAdder), otherwise decode-only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from garrison.simulate.replica import Replica, ceil_div


@dataclass(slots=True)
class StepPlan:
    """One step's batch: whether the decodes run, and the prompt chunks (request, tokens)."""

    decode: bool
    chunks: list[tuple[int, int]] = field(default_factory=list)
    prefill_tokens: int = 0
    prefill_context: int = 0  # sum over the chunks of the context at their end

    def add(self, i: int, c: int, context_end: int) -> None:
        self.chunks.append((i, c))
        self.prefill_tokens += c
        self.prefill_context += context_end


class Scheduler(ABC):
    """Shared prefill logic; subclasses decide how decodes and prefills share a step."""

    mixed = True  # decodes and prompt chunks in one batch

    def __init__(self, max_num_batched_tokens: int, chunked_prefill: bool) -> None:
        self.budget = max_num_batched_tokens
        self.chunked = chunked_prefill

    @abstractmethod
    def plan(self, rep: Replica, k: int) -> StepPlan:
        """The batch of decode step k."""

    def fill(self, rep: Replica, plan: StepPlan, k: int, budget: int) -> None:
        """Continues partial prefills in admission order, then admits waiting requests."""
        if rep.prefilling:
            budget = self._continue_prefills(rep, plan, k, budget)
        if rep.waiting:
            self._admit(rep, plan, budget)

    def _continue_prefills(self, rep: Replica, plan: StepPlan, k: int, budget: int) -> int:
        for i in list(rep.prefilling):
            if budget <= 0:
                break
            if i not in rep.prefilling:
                continue  # preempted below while making room
            c = min(rep.to_fill[i] - rep.computed[i], budget)
            nb = rep.grow_prefill(i, c)
            while rep.used + nb > rep.total_blocks:
                was_decoding = rep.running and next(reversed(rep.running)) in rep.decoding
                if rep.preempt_newest(k, allocated=plan.decode) == i:
                    break
                if was_decoding and plan.decode:
                    budget += 1  # its decode token leaves this step
            if i not in rep.prefilling:
                break
            c = min(c, budget)
            nb = rep.grow_prefill(i, c)
            rep.used += nb
            rep.held[i] += nb
            plan.add(i, c, rep.computed[i] + c)
            budget -= c
        return budget

    def _admit(self, rep: Replica, plan: StepPlan, budget: int) -> None:
        waiting, running, max_seqs = rep.waiting, rep.running, rep.max_seqs
        chunks, computed = plan.chunks, rep.computed
        tokens = context = 0
        while waiting and budget > 0 and len(running) < max_seqs:
            i = waiting[0]
            rest = rep.start_fill(i)
            if not self.chunked and rest > budget:
                break
            c = min(rest, budget)
            nb = self.admission_blocks(rep, i, c)
            if rep.used + nb > rep.total_blocks:
                break
            rep.admit(i, nb)
            chunks.append((i, c))
            tokens += c
            context += computed[i] + c
            budget -= c
        plan.prefill_tokens += tokens
        plan.prefill_context += context

    def admission_blocks(self, rep: Replica, i: int, c: int) -> int:
        """Blocks a newly admitted request takes: its first chunk's (vLLM allocates per chunk)."""
        return ceil_div(rep.computed[i] + c, rep.bs)


class VllmScheduler(Scheduler):
    """vLLM V1 and llama.cpp's server: decodes first, then prompt chunks fill the budget."""

    def plan(self, rep: Replica, k: int) -> StepPlan:
        plan = StepPlan(decode=rep.n_dec > 0)
        budget = self.budget
        if plan.decode:
            rep.reserve_decode_blocks(k)
            budget -= rep.n_dec
        if rep.prefilling or rep.waiting:
            self.fill(rep, plan, k, budget)
        return plan


class SglangScheduler(Scheduler):
    """SGLang: a prefill batch whenever prefill work exists and can start, else a decode batch."""

    mixed = False

    def plan(self, rep: Replica, k: int) -> StepPlan:
        plan = StepPlan(decode=rep.n_dec > 0)
        if self._prefill_can_start(rep):
            plan.decode = False
        budget = self.budget
        if plan.decode:
            rep.reserve_decode_blocks(k)
            budget -= rep.n_dec
            return plan
        self.fill(rep, plan, k, budget)
        if not plan.chunks and rep.n_dec:
            # the prefill batch found no room: run the decode batch instead
            plan.decode = True
            rep.reserve_decode_blocks(k)
        return plan

    @staticmethod
    def _prefill_can_start(rep: Replica) -> bool:
        if rep.prefilling:
            return True
        if not rep.waiting or len(rep.running) >= rep.max_seqs:
            return False
        head = rep.waiting[0]
        # SGLang admits a request only when its whole prompt fits (PrefillAdder's check)
        return rep.used + ceil_div(rep.prompt[head] + rep.g_prev[head], rep.bs) <= rep.total_blocks

    def admission_blocks(self, rep: Replica, i: int, c: int) -> int:
        """SGLang reserves the whole prompt at admission, so its chunked prefills never wait for
        memory (decodes are retracted instead)."""
        return ceil_div(rep.to_fill[i], rep.bs)


# scheduler kind (EngineProfile.scheduler) -> its policy; llama.cpp's slots batch like vLLM
POLICIES: dict[str, type[Scheduler]] = {
    "vllm": VllmScheduler,
    "llamacpp": VllmScheduler,
    "sglang": SglangScheduler,
}


def scheduler_for(kind: str, max_num_batched_tokens: int, chunked_prefill: bool) -> Scheduler:
    """The policy object of a scheduler kind (vllm, llamacpp, sglang)."""
    return POLICIES.get(kind, VllmScheduler)(max_num_batched_tokens, chunked_prefill)
