"""Tool calls, checked in the manner of the Berkeley Function Calling Leaderboard's AST
checker (`bfcl_eval/eval_checker/ast_eval/ast_checker.py`): the right function; every required
argument, none it does not declare, none the case did not ask for; types right (an int is a
valid number); each value one of its acceptable values after BFCL's normalisation of strings;
parallel calls matched to the expected ones in whatever order they come; no call where none
should be made. Beyond BFCL, the arguments must be valid against the tool's JSON Schema (its
enums, bounds, nested types). Each model is checked against the expected calls, then the
candidate is paired with the baseline per case (flips) and compared with its calls.
tests/fast/test_bfcl_parity.py runs BFCL's own checker beside this one on BFCL's cases.
"""

from __future__ import annotations

import itertools
import re
from typing import Any, Callable, Mapping, Sequence

from ...engines.base import Generation
from ...sequential import Plan
from ..common import paired
from ..common.cases import must_hold_ids
from ..common.json_answers import schema_errors
from ..verdict import GateVerdict
from .cases import ExpectedCall, ItemsPattern, ObjectPattern, ToolCase, to_json
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
# BFCL's standardize_string: drop spaces and , . / - _ * ^, lower-case, ' -> ".
_BFCL_STRIP = re.compile(r"[ ,./\-_*^]")
# The looser rule (string_match = "loose"): also drops \ ' " ! ? ; : ( ).
_LOOSE_STRIP = re.compile(r"[ ,./\\\-_*^'\"!?;:()]")
STRING_RULES = ("bfcl", "loose")


def normalize_string(text: str, strings: str = "bfcl") -> str:
    """A string as compared. "bfcl" (the default) is exactly BFCL's `standardize_string`:
    spaces and the characters , . / - _ * ^ removed, lower-cased, single quotes made double
    ("April 1, 2024" == "april 1 2024"); "loose" also drops \\ ' " ! ? ; : ( )."""
    if strings == "bfcl":
        return _BFCL_STRIP.sub("", text).lower().replace("'", '"')
    if strings == "loose":
        return _LOOSE_STRIP.sub("", text.lower())
    raise ValueError(f"unknown string_match {strings!r}; allowed: {', '.join(STRING_RULES)}")


def normalize(value: Any, strings: str = "bfcl") -> Any:
    """A value as compared: strings by `normalize_string`, numbers as floats (3 == 3.0),
    lists and objects element by element."""
    if isinstance(value, str):
        return normalize_string(value, strings)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, list):
        return [normalize(v, strings) for v in value]
    if isinstance(value, dict):
        return {k: normalize(v, strings) for k, v in value.items()}
    return value


def same_value(value: Any, expected: Any, strings: str = "bfcl") -> bool:
    """Whether two JSON values are equal after normalisation; true is never 1."""
    if isinstance(expected, str) or isinstance(value, str):
        return isinstance(value, str) and isinstance(expected, str) and normalize_string(value, strings) == normalize_string(expected, strings)
    if isinstance(expected, bool) or isinstance(value, bool):
        return value is expected
    if isinstance(expected, (int, float)) or isinstance(value, (int, float)):
        return isinstance(value, (int, float)) and isinstance(expected, (int, float)) and float(value) == float(expected)
    if isinstance(expected, list) or isinstance(value, list):
        return (
            isinstance(value, list) and isinstance(expected, list) and len(value) == len(expected)
            and all(same_value(v, e, strings) for v, e in zip(value, expected))
        )
    if isinstance(expected, dict) or isinstance(value, dict):
        return (
            isinstance(value, dict) and isinstance(expected, dict) and value.keys() == expected.keys()
            and all(same_value(value[k], expected[k], strings) for k in value)
        )
    return bool(value == expected)


def matches(value: Any, acceptable: Any, strings: str = "bfcl") -> bool:
    """Whether a value is an acceptable value: a plain value (`same_value`) or a pattern
    (cases.ObjectPattern: keys and their alternatives; cases.ItemsPattern: items in order)."""
    if isinstance(acceptable, ObjectPattern):
        if not isinstance(value, dict) or set(value) - set(acceptable.keys):
            return False
        return all(
            (key in acceptable.optional) if key not in value else any(matches(value[key], a, strings) for a in alts)
            for key, alts in acceptable.keys.items()
        )
    if isinstance(acceptable, ItemsPattern):
        return (
            isinstance(value, list) and len(value) == len(acceptable.items)
            and all(any(matches(v, a, strings) for a in alts) for v, alts in zip(value, acceptable.items))
        )
    return same_value(value, acceptable, strings)


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


def _wanted(values: tuple[Any, ...]) -> str:
    if not values:
        return "it left out"
    if len(values) == 1:
        return repr(to_json(values[0]))
    return f"one of {[to_json(v) for v in values]!r}"


def check_call(call: ToolCall, expected: ExpectedCall, tool: Mapping[str, Any], strings: str = "bfcl") -> list[str]:
    """What is wrong with one call against the call expected of it (empty when right)."""
    if call.name != expected.name:
        return [f"called {call.name} instead of {expected.name}"]
    params = tool.get("parameters", {})
    properties = params.get("properties", {})
    required = params.get("required", [])
    problems = [f"missing required argument {name!r}" for name in required if name not in call.arguments]
    problems += [f"missing argument {name!r}" for name in expected.needed if name not in call.arguments and name not in required]
    for name, value in call.arguments.items():
        if name not in properties:
            problems.append(f"unexpected argument {name!r} (not declared by {call.name})")
        elif not type_ok(value, properties[name]):
            problems.append(f"argument {name!r} has the wrong type: {value!r} is not {properties[name].get('type')}")
        elif not expected.expects(name):
            problems.append(f"extra argument {name!r} = {value!r}")
        else:
            values = expected.acceptable(name)
            if values is not None and not any(matches(value, v, strings) for v in values):
                problems.append(f"argument {name!r} = {value!r}, expected {_wanted(values)}")
    problems += [f"schema: {e}" for e in schema_errors(params, dict(call.arguments))] if not problems else []
    return problems


def best_pairs(rows: int, columns: int, cost: Callable[[int, int], float]) -> list[tuple[int, int]]:
    """The pairing of rows with columns (min(rows, columns) pairs) of least total cost:
    exhaustive for a few calls, scipy's linear_sum_assignment beyond."""
    if not rows or not columns:
        return []
    table = [[cost(i, j) for j in range(columns)] for i in range(rows)]
    if min(rows, columns) <= 6 and max(rows, columns) <= 7:
        def total(pairs: list[tuple[int, int]]) -> float:
            return sum(table[i][j] for i, j in pairs)

        candidates: list[list[tuple[int, int]]] = (
            [list(zip(range(rows), p)) for p in itertools.permutations(range(columns), rows)]
            if rows <= columns
            else [sorted(zip(p, range(columns))) for p in itertools.permutations(range(rows), columns)]
        )
        best = min(candidates, key=total)
        return sorted(best)
    from scipy.optimize import linear_sum_assignment

    found_rows, found_columns = linear_sum_assignment(table)
    return sorted(zip(map(int, found_rows), map(int, found_columns)))


def check_answer(parsed: ParsedCalls, case: ToolCase, strings: str = "bfcl") -> list[str]:
    """Everything wrong with one answer for this case (empty when it is right). The calls are
    matched to the expected calls as a best assignment, in any order: BFCL's parallel checker
    tries every unmatched call against each expected one."""
    if parsed.problem:
        return [f"unparsable call: {parsed.problem}"]
    if not case.expect:
        return [f"called {', '.join(c.name for c in parsed.calls)} where no call was expected"] if parsed.calls else []
    if not parsed.calls:
        return [f"no call (answered {parsed.text[:60]!r})" if parsed.text else "no call"]
    calls, expect = parsed.calls, case.expect
    checked = {
        (i, j): check_call(calls[j], e, case.tool(e.name) or {}, strings)
        for i, e in enumerate(expect) for j in range(len(calls)) if calls[j].name == e.name
    }
    # Lexicographic costs: most pairs of the same name, then most right calls, then fewest problems.
    pairs = min(len(expect), len(calls))
    wrong_call = 100.0 * (pairs + 1)
    wrong_name = (wrong_call + 100.0) * (pairs + 1)

    def cost(i: int, j: int) -> float:
        if (i, j) not in checked:
            return wrong_name
        return wrong_call + min(len(checked[i, j]), 99) if checked[i, j] else 0.0

    matched = {i: j for i, j in best_pairs(len(expect), len(calls), cost) if (i, j) in checked}
    spare = [c.name for j, c in enumerate(calls) if j not in matched.values()]
    problems: list[str] = []
    for i, expected in enumerate(expect):
        if i in matched:
            problems += checked[i, matched[i]]
        else:
            problems.append(f"no call to {expected.name} (called {', '.join(spare) or 'nothing more'})")
    problems += [f"unexpected extra call to {name}" for name in spare]
    return problems


def _calls(parsed: ParsedCalls) -> list[dict[str, Any]]:
    return [{"name": c.name, "arguments": dict(c.arguments)} for c in parsed.calls]


def _differences(args_b: Mapping[str, Any], args_c: Mapping[str, Any], strings: str) -> tuple[list[str], list[str], list[str]]:
    missing = sorted(set(args_b) - set(args_c))
    extra = sorted(set(args_c) - set(args_b))
    changed = sorted(k for k in args_b if k in args_c and not same_value(args_c[k], args_b[k], strings))
    return missing, extra, changed


def difference_from_baseline(baseline: ParsedCalls, candidate: ParsedCalls, strings: str = "bfcl") -> str | None:
    """How the candidate's calls differ from the baseline's, in one line (None: the same
    calls, in any order, values equal after normalisation)."""
    if bool(baseline.problem) != bool(candidate.problem):
        return "unparsable call" if candidate.problem else "call now parses"
    b, c = baseline.calls, candidate.calls
    if not c and not b:
        return None
    if not c:
        return "no call (the baseline called " + ", ".join(x.name for x in b) + ")"
    if not b:
        return "called " + ", ".join(x.name for x in c) + " (the baseline made no call)"
    if len(b) != len(c) or sorted(x.name for x in b) != sorted(x.name for x in c):
        return f"name: {[x.name for x in b]} -> {[x.name for x in c]}"
    differences = {
        (i, j): _differences(b[i].arguments, c[j].arguments, strings)
        for i in range(len(b)) for j in range(len(c)) if b[i].name == c[j].name
    }

    def cost(i: int, j: int) -> float:
        found = differences.get((i, j))
        return 1e6 if found is None else float(sum(map(len, found)))

    for i, j in best_pairs(len(b), len(c), cost):
        missing, extra, changed = differences[i, j]
        if missing:
            return f"{b[i].name}: missing argument(s) {missing}"
        if extra:
            return f"{b[i].name}: extra argument(s) {extra}"
        if changed:
            return f"{b[i].name}: value of {changed}"
    return None


def compare_case(case: ToolCase, baseline: Generation, candidate: Generation, strings: str = "bfcl", style: str = "hermes") -> Any:
    parsed_b, parsed_c = parse_calls(baseline.text, style), parse_calls(candidate.text, style)
    problems_b, problems_c = check_answer(parsed_b, case, strings), check_answer(parsed_c, case, strings)
    details = {
        "expected": [e.to_json() for e in case.expect],
        "baseline_calls": _calls(parsed_b),
        "candidate_calls": _calls(parsed_c),
        "baseline_problems": problems_b,
        "candidate_problems": problems_c,
        "difference_from_baseline": difference_from_baseline(parsed_b, parsed_c, strings),
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
    style: str = "hermes",
    plan: Plan | None = None,
) -> GateVerdict:
    """`style`: the call format answers are parsed in (formats.style_for the candidate)."""
    if not (len(cases) == len(baseline) == len(candidate)):
        raise ValueError("tool_call gate: cases, baseline and candidate results differ in length")
    outcomes = [compare_case(case, b, c, limits.string_match, style) for case, b, c in zip(cases, baseline, candidate)]
    kinds: dict[str, int] = {}
    for o in outcomes:
        for problem in o.details["candidate_problems"]:
            kind = next((k for prefix, k in _PROBLEM_KINDS if problem.startswith(prefix)), "other")
            kinds[kind] = kinds.get(kind, 0) + 1
    metrics = {
        "prompt_format": prompt_format,
        "call_style": style,
        "same_calls_as_baseline": sum(o.details["difference_from_baseline"] is None for o in outcomes),
        "candidate_unparsable": sum(any(p.startswith("unparsable") for p in o.details["candidate_problems"]) for o in outcomes),
        "baseline_unparsable": sum(any(p.startswith("unparsable") for p in o.details["baseline_problems"]) for o in outcomes),
        "candidate_problem_kinds": kinds,
        "by_category": by_category(cases, outcomes),
    }
    return paired.verdict(GATE, "correct_calls", outcomes, limits, metrics, must_hold=must_hold_ids(cases), plan=plan)


def by_category(cases: Sequence[ToolCase], outcomes: Sequence[Any]) -> dict[str, dict[str, Any]]:
    """Accuracy of both models and the flips per case category (BFCL's, or "own" for the
    built-in and file cases): where a candidate loses calls is as telling as how many."""
    table: dict[str, dict[str, Any]] = {}
    for case, outcome in zip(cases, outcomes):
        row = table.setdefault(case.category or "own", {"cases": 0, "baseline_correct": 0, "candidate_correct": 0, "lost": 0, "gained": 0})
        base_ok, cand_ok = not outcome.details["baseline_problems"], not outcome.details["candidate_problems"]
        row["cases"] += 1
        row["baseline_correct"] += base_ok
        row["candidate_correct"] += cand_ok
        row["lost"] += base_ok and not cand_ok
        row["gained"] += cand_ok and not base_ok
    for row in table.values():
        row["baseline_accuracy"] = round(row["baseline_correct"] / row["cases"], 4)
        row["candidate_accuracy"] = round(row["candidate_correct"] / row["cases"], 4)
    return dict(sorted(table.items()))
