"""The adapter gate's verdict. Taught facts (as trained and reworded) are decided with the
paired rule against the same adapter on the float32 base; controls against the base model's
own answers (their expectations), so an adapter that disturbs unrelated answers fails on any
base, the float32 one included; the taught answers' log-probs may drop at most
`max_logprob_drop` nats per token on average."""

from __future__ import annotations

import dataclasses
import statistics
from typing import Sequence

from ...engines.base import Generation
from ...stats import combine
from ..common import paired
from ..common.cases import must_hold_ids
from ..verdict import CaseOutcome, GateVerdict
from .cases import AdapterCase
from .thresholds import AdapterThresholds

GATE = "adapter"


def compare_case(case: AdapterCase, baseline: Generation, candidate: Generation) -> CaseOutcome:
    holds_b, holds_c = case.expect.holds(baseline.text), case.expect.holds(candidate.text)
    control = case.kind == "control"
    problem = (
        "answers an unrelated question unlike the base model" if control else f"lost the taught fact ({case.kind})"
    )
    details = {"kind": case.kind, "baseline_holds": holds_b, "baseline_text": baseline.text, "candidate_text": candidate.text}
    return paired.case_outcome(case.id, True if control else holds_b, holds_c, [problem], (baseline, candidate), details)


def evaluate(
    cases: Sequence[AdapterCase],
    baseline: Sequence[Generation],
    candidate: Sequence[Generation],
    baseline_logprobs: Sequence[float],
    candidate_logprobs: Sequence[float],
    limits: AdapterThresholds,
) -> GateVerdict:
    """`*_logprobs`: the mean log-prob per token of each taught answer, for the cases that
    have one, in order."""
    if not (len(cases) == len(baseline) == len(candidate)):
        raise ValueError("adapter gate: cases, baseline and candidate results differ in length")
    if len(baseline_logprobs) != len(candidate_logprobs):
        raise ValueError("adapter gate: baseline and candidate answer log-probs differ in length")
    outcomes = [compare_case(c, b, k) for c, b, k in zip(cases, baseline, candidate)]
    taught = [i for i, c in enumerate(cases) if c.kind != "control"]
    controls = [i for i, c in enumerate(cases) if c.kind == "control"]

    def share(indices: list[int], key: str) -> float:
        return round(sum(bool(outcomes[i].details[key]) for i in indices) / max(len(indices), 1), 4)

    drops = [b - c for b, c in zip(baseline_logprobs, candidate_logprobs)]
    mean_drop = statistics.fmean(drops) if drops else 0.0
    metrics = {
        "taught_cases": len(taught),
        "control_cases": len(controls),
        "paraphrase_kept_baseline": share([i for i in taught if cases[i].kind == "paraphrase"], "baseline_holds"),
        "paraphrase_kept_candidate": share([i for i in taught if cases[i].kind == "paraphrase"], "candidate_ok"),
        "controls_kept_on_baseline": share(controls, "baseline_holds"),
        "controls_kept_on_candidate": share(controls, "candidate_ok"),
        "answer_logprob_baseline": round(statistics.fmean(baseline_logprobs), 4) if drops else None,
        "answer_logprob_candidate": round(statistics.fmean(candidate_logprobs), 4) if drops else None,
        "answer_logprob_mean_drop": round(mean_drop, 4),
        "answer_logprob_max_drop": round(max(drops), 4) if drops else None,
    }
    groups = {"taught": taught, "controls": controls}
    verdict = paired.verdict(GATE, "kept", outcomes, limits, metrics, {k: v for k, v in groups.items() if v}, must_hold_ids(cases))
    if verdict.verdict not in ("pass", "fail", "underpowered"):
        return verdict
    logprob_ok = mean_drop <= limits.max_logprob_drop
    said = f"taught answers' log-prob drop {mean_drop:.3f} nats/token (limit {limits.max_logprob_drop})"
    disturbed = [outcomes[i].case_id for i in controls if not outcomes[i].details["baseline_holds"]]
    reason = verdict.reason + f"; {said}" + (
        f"; the adapter disturbs {len(disturbed)} control(s) on the baseline too" if disturbed else ""
    )
    return dataclasses.replace(
        verdict,
        verdict=combine([verdict.verdict, "pass" if logprob_ok else "fail"]),
        reason=reason,
        key_metric=f"{verdict.key_metric}, log-prob drop {mean_drop:.3f}",
    )
