"""RAG faithfulness: answers grounded in the numbered sources given with the question.

Per answer (gates/grounding.py): citations name existing sources; the numbers, dates and
names it states are in the cited sources; unanswerable questions are answered as such; and
for answerable ones, the expected facts are there. A case is faithful when all hold."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ...engines.base import Generation
from ...sequential import Plan
from ..common import paired
from ..common.cases import must_hold_ids
from ..common.grounding import check
from ..long_context.haystack import string_match_all
from ..verdict import GateVerdict
from .cases import RagCase
from .thresholds import RagThresholds

GATE = "rag_faithfulness"


def inspect(case: RagCase, answer: Generation, entails: Callable[[str, str], float] | None = None, threshold: float = 0.5) -> dict[str, Any]:
    grounding = check(answer.text, case.passages, case.answerable, entails, threshold)
    found = string_match_all(answer.text, case.expect) if case.answerable else 1.0
    problems = list(grounding.problems)
    if case.answerable and found < 1.0:
        missing = [e for e in case.expect if e.casefold() not in answer.text.casefold()]
        problems.append(f"does not state {', '.join(map(repr, missing))} from the sources")
    return {
        "grounded": grounding.grounded,
        "faithful": not problems,
        "cited": list(grounding.cited),
        "invalid_citations": list(grounding.invalid_citations),
        "unsupported": list(grounding.unsupported),
        "abstained": grounding.abstained,
        "problems": problems,
    }


def compare_case(
    case: RagCase, baseline: Generation, candidate: Generation, entails: Callable[[str, str], float] | None = None, threshold: float = 0.5
) -> Any:
    b, c = inspect(case, baseline, entails, threshold), inspect(case, candidate, entails, threshold)
    details = {
        "answerable": case.answerable,
        "baseline": b,
        "candidate": c,
        "baseline_text": baseline.text,
        "candidate_text": candidate.text,
    }
    return paired.case_outcome(case.id, b["faithful"], c["faithful"], c["problems"], (baseline, candidate), details)


def evaluate(
    cases: Sequence[RagCase],
    baseline: Sequence[Generation],
    candidate: Sequence[Generation],
    limits: RagThresholds,
    entails: Callable[[str, str], float] | None = None,
    plan: Plan | None = None,
) -> GateVerdict:
    """`entails` is the optional NLI scorer (premise, hypothesis) -> probability."""
    if not (len(cases) == len(baseline) == len(candidate)):
        raise ValueError("rag_faithfulness gate: cases, baseline and candidate results differ in length")
    outcomes = [compare_case(c, b, k, entails, limits.nli_threshold) for c, b, k in zip(cases, baseline, candidate)]
    answerable = [o for o in outcomes if o.details["answerable"]]
    unanswerable = [o for o in outcomes if not o.details["answerable"]]

    def rate(items: list[Any], side: str, test: Any) -> float:
        return round(sum(bool(test(o.details[side])) for o in items) / max(len(items), 1), 4)

    metrics: dict[str, Any] = {"nli": limits.nli}
    for side in ("baseline", "candidate"):
        metrics[f"{side}_grounded_rate"] = rate(outcomes, side, lambda d: d["grounded"])
        metrics[f"{side}_citation_rate"] = rate(answerable, side, lambda d: d["cited"])
        metrics[f"{side}_unsupported_claims"] = sum(len(o.details[side]["unsupported"]) for o in outcomes)
        metrics[f"{side}_invalid_citations"] = sum(len(o.details[side]["invalid_citations"]) for o in outcomes)
        metrics[f"{side}_abstention_rate_unanswerable"] = rate(unanswerable, side, lambda d: d["abstained"])
        metrics[f"{side}_abstention_rate_answerable"] = rate(answerable, side, lambda d: d["abstained"])
    return paired.verdict(GATE, "faithful", outcomes, limits, metrics, must_hold=must_hold_ids(cases), plan=plan)
