"""Canary: the live canary route against the live baseline route, on recorded requests.

Needs no log-probs, so it runs against any OpenAI-compatible endpoint. A case holds for a
model when its answer is usable: it stops by itself, is not empty, does not loop, and is
schema-valid JSON where the request asked for a schema. For the candidate it must also agree
with the baseline's answer: close in wording (difflib ratio >= min_similarity) and stating
every number, date and name the baseline's answer states (gates/grounding.py's claims):
"The capital of Spain is Barcelona" reads much like "... is Madrid" but drops the fact.
Decided with the paired rule."""

from __future__ import annotations

from typing import Any, Sequence

from ...engines.base import Generation
from ..common import paired
from ..common.grounding import Agreement
from ..common.json_answers import read_json, schema_errors
from ..common.stops import StopFacts
from ..verdict import GateVerdict
from .thresholds import CanaryThresholds
from ..common.traffic import RecordedRequest

GATE = "canary"


def usable(answer: Generation, schema: Any) -> list[str]:
    """What makes an answer unusable (nothing when it is fine)."""
    problems = StopFacts.of(answer).problems()
    if schema is not None:
        reading = read_json(answer.text)
        if not reading.strict:
            problems.append("no clean JSON answer" + (f": {reading.reason}" if reading.reason else ""))
        elif errors := schema_errors(schema, reading.document):
            problems.append("schema: " + "; ".join(errors))
    return problems


def compare_case(case: RecordedRequest, baseline: Generation, candidate: Generation, limits: CanaryThresholds) -> Any:
    schema = case.schema
    b_problems, c_problems = usable(baseline, schema), usable(candidate, schema)
    agreement = Agreement.of(baseline.text, candidate.text, limits.min_similarity)
    problems = list(c_problems) + agreement.problems()
    agrees = agreement.agrees
    details = {
        "similarity": agreement.similarity,
        "dropped_facts": list(agreement.dropped),
        "exact_match": baseline.text == candidate.text,
        "agrees": agrees,
        "schema": schema is not None,
        "baseline_problems": b_problems,
        "baseline_text": baseline.text,
        "candidate_text": candidate.text,
    }
    return paired.case_outcome(case.id, not b_problems, not c_problems and agrees, problems, (baseline, candidate), details)


def evaluate(
    cases: Sequence[RecordedRequest], baseline: Sequence[Generation], candidate: Sequence[Generation], limits: CanaryThresholds
) -> GateVerdict:
    if not (len(cases) == len(baseline) == len(candidate)):
        raise ValueError("canary gate: cases, baseline and candidate answers differ in length")
    outcomes = [compare_case(c, b, k, limits) for c, b, k in zip(cases, baseline, candidate)]
    n = max(len(outcomes), 1)
    metrics = {
        "agreement_rate": round(sum(o.details["agrees"] for o in outcomes) / n, 4),
        "exact_match_rate": round(sum(o.details["exact_match"] for o in outcomes) / n, 4),
        "mean_similarity": round(sum(o.details["similarity"] for o in outcomes) / n, 4),
        "schema_requests": sum(o.details["schema"] for o in outcomes),
    }
    return paired.verdict(GATE, "served", outcomes, limits, metrics)
