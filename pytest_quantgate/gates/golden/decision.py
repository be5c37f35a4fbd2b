"""Golden prompts: the candidate's greedy answers against the baseline's recorded ones.

Per case: exact match; the first token where greedy output diverges and whether the
candidate's token was inside the baseline's top-k there (a near-tie the baseline itself
considered, as vLLM's own model tests accept); a text-similarity score; and whether the
case's own expectation still holds where it held for the baseline.
"""

from __future__ import annotations

from typing import Any, Sequence

from ...engines.base import Generation
from ...sequential import Plan, decide_at
from ...stats import PairedOutcomes, bootstrap_mean_ci, paired_summary, wilson_lower
from ..common import stops
from ..common.cases import must_hold_ids
from ..common.grounding import Agreement, similarity
from ..common.paired import must_hold_rule
from ..verdict import CaseOutcome, GateVerdict
from .cases import GoldenCase
from .thresholds import GoldenThresholds

GATE = "golden"


def first_divergence(baseline: Sequence[int], candidate: Sequence[int]) -> int | None:
    """Index of the first differing token, or None when the sequences are identical."""
    for pos, (b, c) in enumerate(zip(baseline, candidate)):
        if b != c:
            return pos
    return None if len(baseline) == len(candidate) else min(len(baseline), len(candidate))


def compare_case(
    case: GoldenCase, baseline: Generation, candidate: Generation, limits: GoldenThresholds
) -> CaseOutcome:
    problems: list[str] = []
    # The same text and stop is the same answer, whatever ids it was spelt with (an endpoint
    # that returns text alone is re-tokenized, and BPE has more than one path to a text).
    same_answer = baseline.text == candidate.text and baseline.finish_reason == candidate.finish_reason
    diverged_at = None if same_answer else first_divergence(baseline.token_ids, candidate.token_ids)
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
    if case.recorded is not None:  # recorded traffic: agreement with the baseline's own answer
        agreement = Agreement.of(baseline.text, candidate.text, limits.traffic_min_similarity)
        details.update(expectation="agrees with the baseline", baseline_expectation=True,
                       candidate_expectation=agreement.agrees, dropped_facts=list(agreement.dropped))
        if not agreement.agrees:
            details["flip"] = "pass->fail"
            problems.extend(agreement.problems())
    elif case.expect is not None:
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
    plan: Plan | None = None,
) -> GateVerdict:
    """The gate's verdict over these cases (at `plan`'s look of a staged run, when staged)."""
    if not (len(cases) == len(baseline) == len(candidate)):
        raise ValueError("golden gate: cases, baseline and candidate results differ in length")
    thresholds = {
        "top_k": limits.top_k,
        "diverge_outside_top_k_before": limits.diverge_outside_top_k_before,
        "max_early_divergence_rate": limits.max_early_divergence_rate,
        "decision": limits.decision,
        "margin": limits.margin,
        "confidence": limits.confidence,
        "min_similarity": limits.min_similarity,
        "stage": limits.stage,
        "spending": limits.spending,
    }
    if not cases:
        return GateVerdict(GATE, "error", "no golden cases to compare", thresholds=thresholds)
    outcomes = tuple(compare_case(c, b, k, limits) for c, b, k in zip(cases, baseline, candidate))
    details = [o.details for o in outcomes]
    with_expect = [d for d in details if "baseline_expectation" in d]
    paired = PairedOutcomes.from_pairs(
        [d["baseline_expectation"] for d in with_expect], [d["candidate_expectation"] for d in with_expect]
    )
    rule, lost, held = must_hold_rule(outcomes, must_hold_ids(cases), limits.decision)
    decision = decide_at(paired, rule, limits.margin, limits.confidence, plan)
    early = sum(any(p.startswith(("diverged", "stopped")) for p in o.problems) for o in outcomes)
    similarities = [d["similarity"] for d in details]
    metrics = {
        "cases": len(outcomes),
        "exact_match_rate": round(sum(d["exact_match"] for d in details) / len(details), 4),
        "mean_similarity": round(sum(similarities) / len(details), 4),
        "mean_similarity_ci": [round(x, 4) for x in bootstrap_mean_ci(similarities)],
        **paired_summary(paired, "expectation"),
        "expectations": decision.to_dict(),
        **({"must_hold_lost": lost} if held else {}),
        "early_divergences_outside_top_k": early,
        "length_cap_hits_baseline": sum(d["baseline_finish"] == "length" for d in details),
        "length_cap_hits_candidate": sum(d["candidate_finish"] == "length" for d in details),
        # Reported, not decided here: golden decides on expectations and early divergence.
        "stop_behaviour": stops.summarize(baseline, candidate, limits.decision, limits.margin, limits.confidence).metrics,
    }
    hard_failures = []
    guard = early_divergence_guard(early, len(outcomes), limits, plan)
    if guard == "fail":
        hard_failures.append(
            f"{early} case(s) of {len(outcomes)} diverged outside the baseline's top-{limits.top_k} "
            f"before token {limits.diverge_outside_top_k_before} (at most {limits.max_early_divergence_rate:.0%} tolerated)"
        )
    low_sim = sum(s < limits.min_similarity for s in similarities)
    if low_sim:
        hard_failures.append(f"{low_sim} case(s) below similarity {limits.min_similarity}")
    if lost:
        hard_failures.insert(0, held)
    key = (
        f"exact {metrics['exact_match_rate']:.0%}, expectations "
        f"{paired.candidate_rate:.0%} vs {paired.baseline_rate:.0%}"
    )
    expectations = f"expectations: {decision.reason}"
    if hard_failures or decision.decision == "fail":
        reasons = hard_failures + ([expectations] if decision.decision == "fail" else [])
        return GateVerdict(GATE, "fail", "; ".join(reasons), metrics, thresholds, key, outcomes)
    if guard == "undecided" and decision.decision == "pass":  # an interim look: the next stage decides
        why = f"{early} early divergence(s) in {len(outcomes)} cases, above the {limits.max_early_divergence_rate:.0%} tolerated so far"
        return GateVerdict(GATE, "underpowered", f"{expectations}; {why}", metrics, thresholds, key, outcomes)
    return GateVerdict(GATE, decision.decision, expectations, metrics, thresholds, key, outcomes)


def early_divergence_guard(early: int, n: int, limits: GoldenThresholds, plan: Plan | None) -> str:
    """"ok", "fail", or "undecided" (at an interim look whose share is above the tolerated
    one but whose lower bound, at the look's alpha, is not: the next stage decides). The last
    look, or a fixed-size run, fails on the observed share."""
    tolerated = limits.max_early_divergence_rate
    if not early or early / n <= tolerated:
        return "ok"
    if plan is None or plan.look == len(plan.levels):
        return "fail"
    return "fail" if wilson_lower(early, n, 1 - plan.levels[plan.look - 1]) > tolerated else "undecided"
