"""Tool calls, checked in the manner of the Berkeley Function Calling Leaderboard's AST
checker: the right function; every required argument, none it does not declare, none the
case did not ask for; types right (an int is a valid number); values equal after the usual
normalisation of strings; the arguments valid against the tool's JSON Schema; and no call
where none should be made. Each model is checked against the expected calls, then the
candidate is paired with the baseline per case (flips) and compared with its calls.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from ...engines.base import Generation
from ..common import paired
from ..common.json_answers import schema_errors
from ..verdict import GateVerdict
from .cases import ExpectedCall, ToolCase
from .formats import ParsedCalls, ToolCall, parse_calls
from .thresholds import ToolCallThresholds

GATE = "tool_call"

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),  # an int is a valid float, as BFCL accepts
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
    "null": (type(None),),
}
_PROBLEM_KINDS = (
    ("unparsable", "unparsable call"),
    ("no call", "no call"),
    ("called", "wrong function or unwanted call"),
    ("missing", "missing argument"),
    ("unexpected", "undeclared argument or extra call"),
    ("extra", "extra argument"),
    ("argument", "argument value or type"),
    ("schema", "schema violation"),
)
_STRIP = re.compile(r"[ ,./\\\-_*^'\"!?;:()]")


def normalize(value: Any) -> Any:
    """BFCL's normalisation: strings lower-cased without spaces and punctuation; numbers as
    floats (3 == 3.0); lists and objects element by element."""
    if isinstance(value, str):
        return _STRIP.sub("", value.lower())
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, list):
        return [normalize(v) for v in value]
    if isinstance(value, dict):
        return {k: normalize(v) for k, v in value.items()}
    return value


def type_ok(value: Any, schema: Mapping[str, Any]) -> bool:
    declared = schema.get("type")
    if declared is None:
        return True
    kinds = declared if isinstance(declared, list) else [declared]
    for kind in kinds:
        allowed = _JSON_TYPES.get(kind, (object,))
        if isinstance(value, bool) and bool not in allowed:
            continue  # True is an int to Python, never to JSON Schema
        if isinstance(value, allowed):
            return True
    return False


def check_call(call: ToolCall, expected: ExpectedCall, tool: Mapping[str, Any]) -> list[str]:
    """What is wrong with one call against the call expected of it (empty when right)."""
    if call.name != expected.name:
        return [f"called {call.name} instead of {expected.name}"]
    params = tool.get("parameters", {})
    properties = params.get("properties", {})
    problems = [f"missing required argument {name!r}" for name in params.get("required", []) if name not in call.arguments]
    problems += [f"missing argument {name!r}" for name in expected.arguments if name not in call.arguments and name not in params.get("required", [])]
    for name, value in call.arguments.items():
        if name not in properties:
            problems.append(f"unexpected argument {name!r} (not declared by {call.name})")
        elif not type_ok(value, properties[name]):
            problems.append(f"argument {name!r} has the wrong type: {value!r} is not {properties[name].get('type')}")
        elif name in expected.arguments:
            if normalize(value) != normalize(expected.arguments[name]):
                problems.append(f"argument {name!r} = {value!r}, expected {expected.arguments[name]!r}")
        elif name not in expected.optional:
            problems.append(f"extra argument {name!r} = {value!r}")
    problems += [f"schema: {e}" for e in schema_errors(params, dict(call.arguments))] if not problems else []
    return problems


def check_answer(parsed: ParsedCalls, case: ToolCase) -> list[str]:
    """Everything wrong with one answer for this case (empty when it is right)."""
    if parsed.error:
        return [f"unparsable call: {parsed.error}"]
    if not case.expect:
        return [f"called {', '.join(c.name for c in parsed.calls)} where no call was expected"] if parsed.calls else []
    if not parsed.calls:
        return [f"no call (answered {parsed.text[:60]!r})" if parsed.text else "no call"]
    problems: list[str] = []
    remaining = list(parsed.calls)
    for expected in case.expect:  # order-free: each expected call takes the first call of its name
        match = next((c for c in remaining if c.name == expected.name), None)
        if match is None:
            names = ", ".join(c.name for c in remaining) or "nothing more"
            problems.append(f"no call to {expected.name} (called {names})")
            continue
        remaining.remove(match)
        problems += check_call(match, expected, case.tool(expected.name) or {})
    problems += [f"unexpected extra call to {c.name}" for c in remaining]
    return problems


def _calls(parsed: ParsedCalls) -> list[dict[str, Any]]:
    return [{"name": c.name, "arguments": dict(c.arguments)} for c in parsed.calls]


def difference_from_baseline(baseline: ParsedCalls, candidate: ParsedCalls) -> str | None:
    """How the candidate's calls differ from the baseline's, in one line (None: the same)."""
    if bool(baseline.error) != bool(candidate.error):
        return "unparsable call" if candidate.error else "call now parses"
    b = [(c.name, normalize(dict(c.arguments))) for c in baseline.calls]
    c = [(c.name, normalize(dict(c.arguments))) for c in candidate.calls]
    if b == c:
        return None
    if not c:
        return "no call (the baseline called " + ", ".join(n for n, _ in b) + ")"
    if not b:
        return "called " + ", ".join(n for n, _ in c) + " (the baseline made no call)"
    if [n for n, _ in b] != [n for n, _ in c]:
        return f"name: {[n for n, _ in b]} -> {[n for n, _ in c]}"
    for (name, args_b), (_, args_c) in zip(b, c):
        missing = sorted(set(args_b) - set(args_c))
        extra = sorted(set(args_c) - set(args_b))
        if missing:
            return f"{name}: missing argument(s) {missing}"
        if extra:
            return f"{name}: extra argument(s) {extra}"
        changed = sorted(k for k in args_b if args_b[k] != args_c[k])
        if changed:
            return f"{name}: value of {changed}"
    return "calls differ"


def compare_case(case: ToolCase, baseline: Generation, candidate: Generation) -> Any:
    parsed_b, parsed_c = parse_calls(baseline.text), parse_calls(candidate.text)
    problems_b, problems_c = check_answer(parsed_b, case), check_answer(parsed_c, case)
    details = {
        "expected": [{"name": e.name, "arguments": dict(e.arguments)} for e in case.expect],
        "baseline_calls": _calls(parsed_b),
        "candidate_calls": _calls(parsed_c),
        "baseline_problems": problems_b,
        "candidate_problems": problems_c,
        "difference_from_baseline": difference_from_baseline(parsed_b, parsed_c),
        "baseline_text": baseline.text,
        "candidate_text": candidate.text,
    }
    return paired.case_outcome(case.id, not problems_b, not problems_c, problems_c, (baseline, candidate), details)


def evaluate(
    cases: Sequence[ToolCase],
    baseline: Sequence[Generation],
    candidate: Sequence[Generation],
    limits: ToolCallThresholds,
    prompt_format: str = "smollm2",
) -> GateVerdict:
    if not (len(cases) == len(baseline) == len(candidate)):
        raise ValueError("tool_call gate: cases, baseline and candidate results differ in length")
    outcomes = [compare_case(case, b, c) for case, b, c in zip(cases, baseline, candidate)]
    kinds: dict[str, int] = {}
    for o in outcomes:
        for problem in o.details["candidate_problems"]:
            kind = next((k for prefix, k in _PROBLEM_KINDS if problem.startswith(prefix)), "other")
            kinds[kind] = kinds.get(kind, 0) + 1
    metrics = {
        "prompt_format": prompt_format,
        "same_calls_as_baseline": sum(o.details["difference_from_baseline"] is None for o in outcomes),
        "candidate_unparsable": sum(any(p.startswith("unparsable") for p in o.details["candidate_problems"]) for o in outcomes),
        "baseline_unparsable": sum(any(p.startswith("unparsable") for p in o.details["baseline_problems"]) for o in outcomes),
        "candidate_problem_kinds": kinds,
    }
    return paired.verdict(GATE, "correct_calls", outcomes, limits, metrics)
