"""Structured output: does the candidate still answer with clean JSON that conforms to the
schema, stops by itself, and holds the baseline's values?

Per answer: strict JSON (the whole answer), JSON found inside extra text, schema validity
(with the failing path), text after the JSON, finish reason. A case conforms when the answer
is strict, schema-valid JSON that stopped; the candidate must also keep the baseline's field
values where the baseline conformed ("Ann" must not become "Anne").
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

from ...engines.base import Generation
from ...sequential import Plan
from ..common import paired
from ..common.cases import must_hold_ids
from ..common.json_answers import read_json, schema_errors, value_differences
from ..verdict import GateVerdict
from .cases import StructuredCase
from .thresholds import StructuredThresholds

GATE = "structured_output"


def inspect(case: StructuredCase, answer: Generation) -> dict[str, Any]:
    """What one answer is, as JSON, for this case's schema."""
    reading = read_json(answer.text)
    errors = schema_errors(case.schema, reading.document) if reading.found else []
    return {
        "strict_json": reading.strict,
        "json_inside_text": reading.found and not reading.strict,
        "schema_valid": reading.found and not errors,
        "schema_errors": errors,
        "not_found": reading.reason,
        "text_before_json": reading.before.strip()[:80],
        "text_after_json": reading.after.strip()[:80],
        "finish_reason": answer.finish_reason,
        "document": reading.document if reading.found else None,
    }


def _problems(facts: dict[str, Any]) -> list[str]:
    problems = []
    if not facts["strict_json"] and not facts["json_inside_text"]:
        problems.append(f"no JSON: {facts['not_found']}")
    elif not facts["strict_json"]:
        extra = facts["text_after_json"] or facts["text_before_json"]
        problems.append(f"JSON wrapped in other text ({extra!r})")
    if facts["schema_errors"]:
        problems.append("schema: " + "; ".join(facts["schema_errors"]))
    if facts["finish_reason"] != "stop":
        problems.append("did not stop (length cap)")
    return problems


def conforms(facts: dict[str, Any]) -> bool:
    return facts["strict_json"] and facts["schema_valid"] and facts["finish_reason"] == "stop"


def compare_case(case: StructuredCase, baseline: Generation, candidate: Generation) -> Any:
    b, c = inspect(case, baseline), inspect(case, candidate)
    problems = _problems(c)
    diffs: list[str] = []
    if b["schema_valid"] and c["document"] is not None:
        diffs = value_differences(b["document"], c["document"])
        if diffs:
            problems.append("values differ from the baseline's: " + "; ".join(diffs[:4]))
    baseline_ok = conforms(b)
    candidate_ok = conforms(c) and not (baseline_ok and diffs)
    details = {
        "baseline": {k: v for k, v in b.items() if k != "document"},
        "candidate": {k: v for k, v in c.items() if k != "document"},
        "value_differences": diffs,
        "baseline_text": baseline.text,
        "candidate_text": candidate.text,
    }
    return paired.case_outcome(case.id, baseline_ok, candidate_ok, problems, (baseline, candidate), details)


def evaluate(
    cases: Sequence[StructuredCase],
    baseline: Sequence[Generation],
    candidate: Sequence[Generation],
    limits: StructuredThresholds,
    mode: str = "free",
    plan: Plan | None = None,
) -> GateVerdict:
    """`mode` is how the answers were made: "free" (asked in words) or "guided" (the
    engine's constrained decoding); it is reported, the rule is the same."""
    if not (len(cases) == len(baseline) == len(candidate)):
        raise ValueError("structured_output gate: cases, baseline and candidate results differ in length")
    outcomes = [compare_case(case, b, c) for case, b, c in zip(cases, baseline, candidate)]

    def rate(side: str, key: str) -> float:
        return round(sum(bool(o.details[side][key]) for o in outcomes) / max(len(outcomes), 1), 4)

    metrics: dict[str, Any] = {"mode": mode}
    for side in ("baseline", "candidate"):
        for key in ("strict_json", "json_inside_text", "schema_valid"):
            metrics[f"{side}_{key}_rate"] = rate(side, key)
        metrics[f"{side}_text_after_json"] = sum(bool(o.details[side]["text_after_json"]) for o in outcomes)
    metrics["value_mismatches"] = sum(bool(o.details["value_differences"]) for o in outcomes)
    result = paired.verdict(GATE, "conforming", outcomes, limits, metrics, must_hold=must_hold_ids(cases), plan=plan)
    return replace(result, reason=f"[{mode}] {result.reason}")
