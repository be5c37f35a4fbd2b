"""Golden prompts: the candidate's greedy answers against the baseline's recorded ones.

Per case: exact match; the first token where greedy output diverges and whether the
candidate's token was inside the baseline's top-k there (a near-tie the baseline itself
considered, as vLLM's own model tests accept); a text-similarity score; and whether the
case's own expectation still holds where it held for the baseline.
"""

from __future__ import annotations

from difflib import SequenceMatcher
from typing import Any, Sequence

from ..cases import GoldenCase
from ..config import GoldenThresholds
from ..engines.base import Generation
from ..verdict import CaseOutcome, GateVerdict

GATE = "golden"


def first_divergence(baseline: Sequence[int], candidate: Sequence[int]) -> int | None:
    """Index of the first differing token, or None when the sequences are identical."""
    for pos, (b, c) in enumerate(zip(baseline, candidate)):
        if b != c:
            return pos
    return None if len(baseline) == len(candidate) else min(len(baseline), len(candidate))


def similarity(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


def compare_case(
    case: GoldenCase, baseline: Generation, candidate: Generation, limits: GoldenThresholds
) -> CaseOutcome:
    problems: list[str] = []
    diverged_at = first_divergence(baseline.token_ids, candidate.token_ids)
    details: dict[str, Any] = {
        "exact_match": diverged_at is None,
        "similarity": round(similarity(baseline.text, candidate.text), 4),
        "first_divergence": diverged_at,
        "baseline_text": baseline.text,
        "candidate_text": candidate.text,
        "baseline_finish": baseline.finish_reason,
        "candidate_finish": candidate.finish_reason,
    }
    if diverged_at is not None and diverged_at < min(len(baseline.logprobs), len(candidate.token_ids)):
        chosen = candidate.token_ids[diverged_at]
        rank = baseline.logprobs[diverged_at].rank_of(chosen)
        within = rank is not None and rank < limits.top_k
        details.update(candidate_token=chosen, rank_in_baseline_top_k=rank, within_top_k=within)
        if not within and diverged_at < limits.diverge_outside_top_k_before:
            problems.append(
                f"diverged at token {diverged_at} with a token outside the baseline's top-{limits.top_k} "
                f"(limit: not before token {limits.diverge_outside_top_k_before})"
            )
    elif diverged_at is not None:
        # One answer is a prefix of the other: a stop-behaviour change, not a near-tie.
        details.update(within_top_k=False)
        if diverged_at < limits.diverge_outside_top_k_before:
            problems.append(f"stopped differently at token {diverged_at} ({baseline.finish_reason} -> {candidate.finish_reason})")
    if case.expect is not None:
        held_b, held_c = case.expect.holds(baseline.text), case.expect.holds(candidate.text)
        details.update(expectation=case.expect.kind, baseline_expectation=held_b, candidate_expectation=held_c)
        if held_b and not held_c:
            details["flip"] = "pass->fail"
            problems.append(f"expectation {case.expect.kind} {case.expect.value!r} held for the baseline, not the candidate")
        elif held_c and not held_b:
            details["flip"] = "fail->pass"
    if details["similarity"] < limits.min_similarity:
        problems.append(f"similarity {details['similarity']} < {limits.min_similarity}")
    return CaseOutcome(case_id=case.id, passed=not problems, problems=tuple(problems), details=details)


def evaluate(
    cases: Sequence[GoldenCase],
    baseline: Sequence[Generation],
    candidate: Sequence[Generation],
    limits: GoldenThresholds,
) -> GateVerdict:
    if not (len(cases) == len(baseline) == len(candidate)):
        raise ValueError("golden gate: cases, baseline and candidate results differ in length")
    thresholds = {
        "top_k": limits.top_k,
        "diverge_outside_top_k_before": limits.diverge_outside_top_k_before,
        "max_expectation_flips": limits.max_expectation_flips,
        "min_similarity": limits.min_similarity,
    }
    if not cases:
        return GateVerdict(GATE, "error", "no golden cases to compare", thresholds=thresholds)
    outcomes = tuple(compare_case(c, b, k, limits) for c, b, k in zip(cases, baseline, candidate))
    details = [o.details for o in outcomes]
    flips_down = sum(d.get("flip") == "pass->fail" for d in details)
    flips_up = sum(d.get("flip") == "fail->pass" for d in details)
    with_expect = [d for d in details if "baseline_expectation" in d]
    early = sum(
        any(p.startswith(("diverged", "stopped")) for p in o.problems) for o in outcomes
    )
    metrics = {
        "cases": len(outcomes),
        "exact_match_rate": round(sum(d["exact_match"] for d in details) / len(details), 4),
        "mean_similarity": round(sum(d["similarity"] for d in details) / len(details), 4),
        "baseline_expectation_rate": _rate(d["baseline_expectation"] for d in with_expect),
        "candidate_expectation_rate": _rate(d["candidate_expectation"] for d in with_expect),
        "flips_pass_to_fail": flips_down,
        "flips_fail_to_pass": flips_up,
        "early_divergences_outside_top_k": early,
        "length_cap_hits_baseline": sum(d["baseline_finish"] == "length" for d in details),
        "length_cap_hits_candidate": sum(d["candidate_finish"] == "length" for d in details),
    }
    reasons = []
    if flips_down > limits.max_expectation_flips:
        reasons.append(f"{flips_down} expectation flip(s) pass->fail (allowed {limits.max_expectation_flips})")
    if early:
        reasons.append(
            f"{early} case(s) diverged outside the baseline's top-{limits.top_k} "
            f"before token {limits.diverge_outside_top_k_before}"
        )
    low_sim = sum(d["similarity"] < limits.min_similarity for d in details)
    if low_sim:
        reasons.append(f"{low_sim} case(s) below similarity {limits.min_similarity}")
    key = (
        f"exact {metrics['exact_match_rate']:.0%}, expectations "
        f"{metrics['candidate_expectation_rate']:.0%} vs {metrics['baseline_expectation_rate']:.0%}"
    )
    if reasons:
        return GateVerdict(GATE, "fail", "; ".join(reasons), metrics, thresholds, key, outcomes)
    reason = f"{len(outcomes)} cases: no expectation flips, no early divergence outside top-{limits.top_k}"
    return GateVerdict(GATE, "pass", reason, metrics, thresholds, key, outcomes)


def _rate(values: Any) -> float:
    items = list(values)
    return round(sum(items) / len(items), 4) if items else 1.0
