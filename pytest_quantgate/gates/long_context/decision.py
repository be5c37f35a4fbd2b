"""Long-context retrieval: recall of needles at growing lengths and depths, baseline and
candidate side by side. Fails when the candidate loses recall the baseline has: over all
cases with the paired rule, and at any one length where it clearly falls behind."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from typing import Any, Sequence

from ...engines.base import Generation
from ...sequential import Plan, look_level
from ...stats import PairedOutcomes, decide, significant_loss
from ..common import paired
from ..verdict import GateVerdict
from .haystack import RetrievalCase, string_match_all
from .thresholds import LongContextThresholds

GATE = "long_context"


def compare_case(case: RetrievalCase, baseline: Generation, candidate: Generation) -> Any:
    score_b, score_c = string_match_all(baseline.text, case.expected), string_match_all(candidate.text, case.expected)
    missing = [e for e in case.expected if e.casefold() not in candidate.text.casefold()]
    details = {
        "task": case.task,
        "length": case.length,
        "depth": case.depth,
        "expected": list(case.expected),
        "baseline_recall": score_b,
        "candidate_recall": score_c,
        "baseline_text": baseline.text,
        "candidate_text": candidate.text,
    }
    problem = f"{case.task} at {case.length} tokens, depth {case.depth:.0%}: missed {', '.join(missing)}"
    return paired.case_outcome(case.id, score_b == 1.0, score_c == 1.0, [problem], (baseline, candidate), details)


def _table(outcomes: Sequence[Any], key: str) -> dict[str, dict[str, float]]:
    sums: dict[Any, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for o in outcomes:
        cell = sums[o.details[key]]
        cell[0] += o.details["baseline_recall"]
        cell[1] += o.details["candidate_recall"]
        cell[2] += 1
    return {
        str(k): {"baseline": round(b / n, 4), "candidate": round(c / n, 4), "cases": n}
        for k, (b, c, n) in sorted(sums.items())
    }


def evaluate(
    cases: Sequence[RetrievalCase],
    baseline: Sequence[Generation],
    candidate: Sequence[Generation],
    limits: LongContextThresholds,
    plan: Plan | None = None,
) -> GateVerdict:
    if not (len(cases) == len(baseline) == len(candidate)):
        raise ValueError("long_context gate: cases, baseline and candidate results differ in length")
    outcomes = [compare_case(c, b, k) for c, b, k in zip(cases, baseline, candidate)]
    by_length = _table(outcomes, "length")
    single = [o for o in outcomes if o.details["task"] == "single"]
    per_length: dict[int, Any] = {}
    failing: list[int] = []  # lengths that fail on their own: only with a significant loss
    for length in sorted({c.length for c in cases}):
        chosen = [o for o in outcomes if o.details["length"] == length]
        pairs = PairedOutcomes.from_pairs([o.details["baseline_ok"] for o in chosen], [o.details["candidate_ok"] for o in chosen])
        per_length[length] = decide(pairs, limits.decision, limits.margin, limits.confidence)
        if significant_loss(pairs, per_length[length], 1 - look_level(plan, limits.confidence)):
            failing.append(length)
    behind = [
        length for length in per_length
        if by_length[str(length)]["baseline"] - by_length[str(length)]["candidate"] > limits.margin
    ]
    metrics = {
        "recall_by_length": by_length,
        "recall_by_depth": _table(single, "depth"),
        "recall_by_task": _table(outcomes, "task"),
        "first_length_behind_baseline": behind[0] if behind else None,
        "per_length": {str(k): d.to_dict() for k, d in per_length.items()},
        "lengths_failing": failing,
    }
    result = paired.verdict(GATE, "retrieved", outcomes, limits, metrics, plan=plan)
    if failing and result.verdict != "fail":
        reason = f"recall at {', '.join(map(str, failing))} tokens: {per_length[failing[0]].reason}; {result.reason}"
        return replace(result, verdict="fail", reason=reason)
    return result
