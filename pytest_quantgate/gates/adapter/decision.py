"""The adapter gate's verdict. Against the same adapter on the float32 base (the baseline),
with the paired rule: the taught facts (as trained and reworded) and the controls (unrelated
questions whose expectation is the base model's own answer) the baseline keeps must be kept,
and the taught answers' mean log-prob per token may drop at most `max_logprob_drop`. Apart
from quantization, the adapter itself: when the baseline already loses more than
`max_adapter_disturbance` of the controls (the lower confidence bound of its loss against the
base model's answers), the adapter disturbs the base model and fails on any base, the float32
one included."""

from __future__ import annotations

import dataclasses
import statistics
from typing import Sequence

from ...engines.base import Generation
from ...stats import combine, loss_bound
from ..common import paired
from ..common.cases import must_hold_ids
from ..verdict import CaseOutcome, GateVerdict
from .cases import AdapterCase
from .thresholds import AdapterThresholds

GATE = "adapter"


def compare_case(case: AdapterCase, baseline: Generation, candidate: Generation) -> CaseOutcome:
    holds_b, holds_c = case.expect.holds(baseline.text), case.expect.holds(candidate.text)
    problem = "answers an unrelated question unlike the base model" if case.kind == "control" else f"lost the taught fact ({case.kind})"
    details = {"kind": case.kind, "baseline_text": baseline.text, "candidate_text": candidate.text}
    return paired.case_outcome(case.id, holds_b, holds_c, [problem], (baseline, candidate), details)


def disturbance(outcomes: Sequence[CaseOutcome], limits: AdapterThresholds) -> tuple[bool, str, dict[str, float]]:
    """Whether the adapter itself disturbs the base model's answers beyond the margin: the
    controls the baseline (the adapter on float32) loses, as a paired loss against the base
    model, which answers every control (its answers are the expectations)."""
    lost = sum(not o.details["baseline_ok"] for o in outcomes)
    n = len(outcomes)
    lower = loss_bound(lost, 0, n, limits.confidence, side="lower") if n and lost else 0.0
    metrics = {"controls_lost_by_the_adapter": lost, "adapter_disturbance_lower_bound": round(lower, 4)}
    said = f"the adapter loses {lost} of {n} controls on the float32 base (lower bound {lower:.1%}, limit {limits.max_adapter_disturbance:.0%})"
    return lower > limits.max_adapter_disturbance, said, metrics


def evaluate(
    cases: Sequence[AdapterCase],
    baseline: Sequence[Generation],
    candidate: Sequence[Generation],
    baseline_logprobs: Sequence[float],
    candidate_logprobs: Sequence[float] | str,
    limits: AdapterThresholds,
) -> GateVerdict:
    """`*_logprobs`: the mean log-prob per token of each taught answer, for the cases that
    have one, in order; `candidate_logprobs` is why not, for a candidate that answers but
    cannot score (the log-prob criterion is then left out, and the reason says so)."""
    if not (len(cases) == len(baseline) == len(candidate)):
        raise ValueError("adapter gate: cases, baseline and candidate results differ in length")
    unscored = candidate_logprobs if isinstance(candidate_logprobs, str) else None
    if isinstance(candidate_logprobs, str):
        baseline_logprobs = candidate_logprobs = ()
    if len(baseline_logprobs) != len(candidate_logprobs):
        raise ValueError("adapter gate: baseline and candidate answer log-probs differ in length")
    outcomes = [compare_case(c, b, k) for c, b, k in zip(cases, baseline, candidate)]
    groups = {
        "taught": [i for i, c in enumerate(cases) if c.kind != "control"],
        "controls": [i for i, c in enumerate(cases) if c.kind == "control"],
    }

    def share(kind: str, key: str) -> float:
        chosen = [o for o, c in zip(outcomes, cases) if c.kind == kind]
        return round(sum(bool(o.details[key]) for o in chosen) / max(len(chosen), 1), 4)

    drops = [b - c for b, c in zip(baseline_logprobs, candidate_logprobs)]
    mean_drop = statistics.fmean(drops) if drops else 0.0
    disturbs, disturbance_said, disturbance_metrics = disturbance([outcomes[i] for i in groups["controls"]], limits)
    metrics = {
        "taught_cases": len(groups["taught"]),
        "control_cases": len(groups["controls"]),
        **{f"{kind}_kept_{side}": share(kind, f"{side}_ok") for kind in ("taught", "paraphrase", "control") for side in ("baseline", "candidate")},
        **disturbance_metrics,
        "answer_logprob_baseline": round(statistics.fmean(baseline_logprobs), 4) if drops else None,
        "answer_logprob_candidate": round(statistics.fmean(candidate_logprobs), 4) if drops else None,
        "answer_logprob_mean_drop": round(mean_drop, 4),
        "answer_logprob_max_drop": round(max(drops), 4) if drops else None,
        **({"answer_logprob_unmeasured": unscored} if unscored else {}),
    }
    verdict = paired.verdict(GATE, "kept", outcomes, limits, metrics, {k: v for k, v in groups.items() if v}, must_hold_ids(cases))
    if verdict.verdict not in ("pass", "fail", "underpowered"):
        return verdict
    logprob_said = (
        f"taught answers' log-prob drop not measured: {unscored}" if unscored
        else f"taught answers' log-prob drop {mean_drop:.3f} nats/token (limit {limits.max_logprob_drop})"
    )
    reasons = [verdict.reason, logprob_said] + ([disturbance_said] if groups["controls"] else [])
    return dataclasses.replace(
        verdict,
        verdict=combine([verdict.verdict, "fail" if mean_drop > limits.max_logprob_drop or disturbs else "pass"]),
        reason="; ".join(reasons),
        key_metric=f"{verdict.key_metric}, log-prob drop " + ("not measured" if unscored else f"{mean_drop:.3f}"),
    )
