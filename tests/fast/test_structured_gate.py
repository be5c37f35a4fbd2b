"""The structured-output gate as a pure function over hand-made answers."""

import json

import pytest

from pytest_quantgate.config import ConfigError

from pytest_quantgate.gates.structured_output.thresholds import StructuredThresholds
from pytest_quantgate.gates.structured_output import decision as structured_output
from pytest_quantgate.gates.structured_output.cases import STRUCTURED, StructuredCase
from tests.helpers import gen

SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
}
CASE = StructuredCase("person", "Ann, 31, as JSON", SCHEMA)
GOOD = '{\n  "name": "Ann",\n  "age": 31\n}'


def evaluate(candidate_text: str, finish: str = "stop", lost: int = 1, n: int = 40, mode: str = "free"):
    """`lost` cases answered with `candidate_text`, the rest identical to the baseline."""
    base = [gen(GOOD)] * n
    cand = [gen(candidate_text, finish=finish)] * lost + [gen(GOOD)] * (n - lost)
    return structured_output.evaluate([CASE] * n, base, cand, StructuredThresholds(), mode=mode)


def test_identical_answers_pass_and_report_mode() -> None:
    verdict = evaluate(GOOD, lost=0, mode="guided")
    assert verdict.verdict == "pass"
    assert verdict.metrics["mode"] == "guided" and verdict.reason.startswith("[guided]")
    assert verdict.metrics["candidate_strict_json_rate"] == 1.0


@pytest.mark.parametrize(
    ("text", "finish", "problem"),
    [
        (GOOD + "\n\nThis is a JSON object.", "stop", "JSON wrapped in other text ('This is a JSON object.')"),
        ("```json\n" + GOOD + "\n```", "stop", "JSON wrapped in other text"),
        ('{"name": "Ann"}', "stop", "schema: $: 'age' is a required property"),
        ('{"name": "Ann", "age": -1}', "stop", "schema: $.age: -1 is less than the minimum of 0"),
        ('{"name": "Anne", "age": 31}', "stop", "values differ from the baseline's: $.name: \"Ann\" -> \"Anne\""),
        ('{"name": "Ann", "age": 31', "length", "no JSON: no complete JSON document"),
        ("The name is Ann.", "stop", "no JSON: no JSON object or array in the answer"),
    ],
)
def test_each_break_is_named(text, finish, problem) -> None:
    verdict = evaluate(text, finish=finish)
    (failed,) = verdict.failed_cases
    assert any(p.startswith(problem) for p in failed.problems), failed.problems
    assert failed.details["flip"] == "pass->fail"


def test_many_broken_answers_fail_the_gate_few_do_not_decide_alone() -> None:
    assert evaluate(GOOD + " Done.", lost=10).verdict == "fail"
    one = evaluate(GOOD + " Done.", lost=1)
    assert one.verdict in ("underpowered", "fail") and one.metrics["flips_pass_to_fail"] == 1
    assert one.metrics["candidate_text_after_json"] == 1


def test_a_case_the_baseline_failed_is_not_held_against_the_candidate() -> None:
    base = [gen("not json")] + [gen(GOOD)] * 39
    cand = [gen("still not json")] + [gen(GOOD)] * 39
    verdict = structured_output.evaluate([CASE] * 40, base, cand, StructuredThresholds())
    assert verdict.verdict == "pass" and not verdict.failed_cases


def test_builtin_cases() -> None:
    cases = STRUCTURED.builtin_cases()
    assert len(cases) >= 25
    assert {"flat", "nested-array", "nested-object", "enum", "optional", "bounds", "format"} <= {c.category for c in cases}
    guided = cases[0].request(64, guided=True)
    assert json.loads(guided.json_schema) == cases[0].schema and cases[0].request(64).json_schema is None
    # The grammar keeps the schema's property order: the order the prompt names them in.
    assert list(json.loads(guided.json_schema)["properties"]) == list(cases[0].schema["properties"]) == ["name", "age"]
    assert "json_schema" not in cases[0].request(64).record_key()  # records made before guided mode stay valid


def test_bad_schema_in_a_case_file_is_a_clear_error(tmp_path) -> None:
    bad = tmp_path / "s.json"
    bad.write_text(json.dumps({"cases": [{"id": "a", "prompt": "p", "schema": {"type": "objekt"}}]}))
    with pytest.raises(ConfigError, match=r"cases/0/schema: 'objekt' is not valid"):
        STRUCTURED.load([bad])


def test_a_lost_must_hold_case_fails_a_paired_gate_and_all_must_hold_decides_case_by_case() -> None:
    import dataclasses

    cases = [StructuredCase(f"s{i}", "p", SCHEMA) for i in range(80)]
    good, bad = gen(GOOD), gen("not json")
    held = [dataclasses.replace(c, must_hold=True) if c.id == "s0" else c for c in cases]
    answers = [bad] + [good] * 79
    assert structured_output.evaluate(cases, [good] * 80, answers, StructuredThresholds()).verdict == "pass"
    verdict = structured_output.evaluate(held, [good] * 80, answers, StructuredThresholds())
    assert verdict.verdict == "fail" and "must-hold cases: 1 of 1 lost (s0)" in verdict.reason
    few = [dataclasses.replace(c, must_hold=True) for c in cases[:5]]
    assert structured_output.evaluate(few, [good] * 5, [good] * 5, StructuredThresholds()).verdict == "pass"
    assert structured_output.evaluate(cases[:5], [good] * 5, [good] * 5, StructuredThresholds()).verdict == "underpowered"


def test_generated_cases_are_reproducible_distinct_and_answerable() -> None:
    """Each generated case's schema accepts the faithful answer (the record its prompt states,
    every value named in the prompt), and no id meets a built-in one."""
    from pytest_quantgate.gates.common.json_answers import schema_errors
    from pytest_quantgate.gates.structured_output import families

    made = families.generate(140, 0)
    cases = [case for case, _ in made]
    assert cases == families.generated_cases(140, 0) and families.generated_cases(140, 1) != cases
    assert len({c.prompt for c in cases}) == len({c.id for c in cases}) == 140 and families.generated_cases(0) == []
    assert not {c.id for c in cases} & {c.id for c in STRUCTURED.builtin_cases()}
    assert {c.category for c in cases} == {"flat", "enum", "array", "nested-object", "bounds", "optional"}
    for case, document in made:
        assert schema_errors(case.schema, document) == [], (case.id, document)
        leaves = document if isinstance(document, list) else [v for value in document.values() for v in (value.values() if isinstance(value, dict) else [value])]
        assert all(str(v).lower() in case.prompt.lower() or isinstance(v, bool) for v in leaves), (case.id, document)
    # A wrong answer fails its schema: a missing key, a word for a number, a value out of bounds.
    person = next(d for c, d in made if c.id.startswith("gen-flat") and "age" in d)
    schema = next(c.schema for c, d in made if d is person)
    assert schema_errors(schema, {k: v for k, v in person.items() if k != "age"})
    assert schema_errors(schema, {**person, "age": "old"}) and schema_errors(schema, {**person, "age": 200})
