"""Run a paired gate's cases in stages and stop at the first look that decides
(pytest_quantgate/sequential.py has the statistics). The baseline answers every case at once
(its record covers the largest stage, so the candidate never waits on it); the candidate
answers one stage at a time, in one batch per stage."""

from __future__ import annotations

import dataclasses
import random
from typing import Callable, Protocol, Sequence, TypeVar

from ...engines.base import Generation, GenerationRequest
from ...sequential import Plan, look_levels, stage_sizes
from ..context import GateContext
from ..verdict import GateVerdict

Case = TypeVar("Case")
SHUFFLE_SEED = 20260301  # the order looks take cases in: fixed, so a rerun stops at the same look

Evaluate = Callable[[Sequence[Case], Sequence[Generation], Sequence[Generation], "Plan | None"], GateVerdict]


class SequentialSettings(Protocol):
    """What staged_verdict reads from a gate's settings (PairedRule and StagedCases)."""

    @property
    def decision(self) -> str: ...
    @property
    def confidence(self) -> float: ...
    @property
    def stage(self) -> int: ...
    @property
    def spending(self) -> str: ...


def staged_verdict(
    context: GateContext,
    cases: Sequence[Case],
    case_ids: Sequence[str],
    requests: Sequence[GenerationRequest],
    top_k: int,
    limits: SequentialSettings,
    evaluate: Evaluate[Case],
    candidate_top_k: int | None = None,
) -> GateVerdict:
    """The gate's verdict from the first look that decides (a fixed-size run when the cases
    fit in one stage or the rule is every_case). `evaluate(cases, baseline, candidate, plan)`
    is the gate's pure decision over the cases seen so far. `candidate_top_k`: the log-probs
    the candidate is asked for, where the gate reads fewer of its than of the baseline's."""
    candidate_k = top_k if candidate_top_k is None else candidate_top_k
    stages = stage_sizes(len(cases), limits.stage) if limits.decision == "paired" else [len(cases)]
    if len(stages) == 1:
        baseline = context.baseline_answers(case_ids, requests, top_k)
        return evaluate(cases, baseline, context.candidate_answers(case_ids, requests, candidate_k), None)
    order = list(range(len(cases)))
    random.Random(SHUFFLE_SEED).shuffle(order)
    cases, case_ids, requests = ([seq[i] for i in order] for seq in (cases, case_ids, requests))  # type: ignore[assignment]
    baseline = context.baseline_answers(case_ids, requests, top_k)
    levels = tuple(look_levels(stages, 1 - limits.confidence, limits.spending))  # type: ignore[arg-type]
    answered: list[Generation] = []
    for look, n in enumerate(stages, start=1):
        done = len(answered)
        answered += context.candidate_answers(case_ids[done:n], requests[done:n], candidate_k)
        verdict = evaluate(cases[:n], baseline[:n], answered, Plan(levels, look))
        if verdict.verdict != "underpowered":
            break
    return _with_stage(verdict, stages, look, levels[look - 1], limits.spending)


def _with_stage(verdict: GateVerdict, stages: Sequence[int], look: int, level: float, spending: str) -> GateVerdict:
    sequential = {
        "look": look, "looks": len(stages), "cases_used": stages[look - 1], "cases_planned": stages[-1],
        "stages": list(stages), "alpha": round(level, 6), "spending": spending,
    }
    stopped = f"; stopped at look {look} of {len(stages)} ({stages[look - 1]} of {stages[-1]} cases)" if look < len(stages) else ""
    return dataclasses.replace(verdict, reason=verdict.reason + stopped, metrics={**verdict.metrics, "sequential": sequential})

