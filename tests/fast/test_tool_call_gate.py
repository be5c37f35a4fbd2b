"""The tool-call format (SmolLM2's documented prompt and `<tool_call>` answers) and the
BFCL-style checker, on hand-made answers. The proof on real quantized models is in
test_structured_engines.py."""

import json

import pytest

from pytest_quantgate.config import ConfigError

from pytest_quantgate.gates.tool_call.thresholds import ToolCallThresholds
from pytest_quantgate.gates.tool_call import decision as tool_call
from pytest_quantgate.gates.tool_call import formats as tool_format
from pytest_quantgate.gates.tool_call.cases import TOOL_CALLS, ExpectedCall, ToolCase
from pytest_quantgate.gates.tool_call.formats import ToolCall, parse_calls
from tests.helpers import gen

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"], "type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
AREA = {
    "type": "function",
    "function": {
        "name": "area",
        "parameters": {"type": "object", "properties": {"width": {"type": "number"}, "height": {"type": "number"}}, "required": ["width", "height"]},
    },
}
CASE = ToolCase("c", "Weather in New York?", (WEATHER, AREA), (ExpectedCall("get_weather", {"city": "New York"}, ("unit",)),))
NO_CALL = ToolCase("n", "Tell me a joke", (WEATHER,), ())


def answer(*calls: dict) -> str:
    return f"<tool_call>{json.dumps(list(calls))}</tool_call>"


@pytest.mark.parametrize(
    ("text", "calls", "error"),
    [
        (answer({"name": "get_weather", "arguments": {"city": "Paris"}}), [("get_weather", {"city": "Paris"})], None),
        ('<tool_call>{"name": "f", "arguments": "{\\"x\\": 1}"}</tool_call>', [("f", {"x": 1})], None),  # Hermes, string args
        ("<tool_call>[]</tool_call>", [], None),
        ("The weather is nice.", [], None),
        ('<tool_call>[{"name": "f", "arguments": {"x": 1}', [], "unterminated"),
        ('<tool_call>[{"name": "f", "arguments": {"x": 1}}}]</tool_call>', [], "invalid JSON"),
        ('<tool_call>["https://example.com"]</tool_call>', [], "string 'name'"),
    ],
)
def test_parse_calls(text, calls, error) -> None:
    parsed = parse_calls(text)
    assert [(c.name, dict(c.arguments)) for c in parsed.calls] == calls
    assert (parsed.error is None) if error is None else (error in parsed.error)


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"city": "New York"}, None),
        ({"city": "new york"}, None),  # BFCL normalisation: case, spaces, punctuation
        ({"city": "New-York", "unit": "celsius"}, None),  # optional argument given
        ({}, "missing required argument 'city'"),
        ({"city": "Boston"}, "argument 'city' = 'Boston', expected 'New York'"),
        ({"city": "New York", "country": "US"}, "unexpected argument 'country'"),
        ({"city": "New York", "days": 3}, "extra argument 'days'"),
        ({"city": 7}, "argument 'city' has the wrong type"),
        ({"city": "New York", "unit": "kelvin"}, "schema: $.unit: 'kelvin' is not one of"),
    ],
)
def test_ast_check_of_arguments(arguments, problem) -> None:
    problems = tool_call.check_answer(parse_calls(answer({"name": "get_weather", "arguments": arguments})), CASE)
    if problem is None:
        assert problems == []
    else:
        assert any(p.startswith(problem) for p in problems), problems


def test_numbers_int_for_float_and_names() -> None:
    expected = ExpectedCall("area", {"width": 3, "height": 4.5})
    assert tool_call.check_call(ToolCall("area", {"width": 3.0, "height": 4.5}), expected, AREA["function"]) == []
    assert tool_call.check_call(ToolCall("area", {"width": True, "height": 4.5}), expected, AREA["function"])[0].startswith(
        "argument 'width' has the wrong type"
    )
    assert tool_call.check_answer(parse_calls(answer({"name": "area", "arguments": {}})), CASE) == [
        "no call to get_weather (called area)",
        "unexpected extra call to area",
    ]


def test_no_call_cases() -> None:
    assert tool_call.check_answer(parse_calls("Why did the chicken..."), NO_CALL) == []
    assert tool_call.check_answer(parse_calls("<tool_call>[]</tool_call>"), NO_CALL) == []
    assert tool_call.check_answer(parse_calls(answer({"name": "get_weather", "arguments": {"city": "x"}})), NO_CALL) == [
        "called get_weather where no call was expected"
    ]
    assert tool_call.check_answer(parse_calls("It is sunny."), CASE) == ["no call (answered 'It is sunny.')"]


def test_difference_from_baseline_names_what_changed() -> None:
    base = parse_calls(answer({"name": "get_weather", "arguments": {"city": "Ann"}}))
    for text, expected in [
        (answer({"name": "get_weather", "arguments": {"city": "ANN"}}), None),
        (answer({"name": "get_weather", "arguments": {"city": "Anne"}}), "get_weather: value of ['city']"),
        (answer({"name": "get_weather", "arguments": {}}), "get_weather: missing argument(s) ['city']"),
        (answer({"name": "area", "arguments": {}}), "name: ['get_weather'] -> ['area']"),
        ("sunny", "no call (the baseline called get_weather)"),
        ("<tool_call>[", "unparsable call"),
    ]:
        assert tool_call.difference_from_baseline(base, parse_calls(text)) == expected


def test_gate_pairs_cases_and_names_reasons() -> None:
    right = gen(answer({"name": "get_weather", "arguments": {"city": "New York"}}))
    cases = [CASE] * 40
    same = tool_call.evaluate(cases, [right] * 40, [right] * 40, ToolCallThresholds())
    assert same.verdict == "pass" and same.metrics["same_calls_as_baseline"] == 40
    broken = [gen("<tool_call>[{\"name\": \"get_weather\"", finish="length")] * 8 + [right] * 32
    verdict = tool_call.evaluate(cases, [right] * 40, broken, ToolCallThresholds())
    assert verdict.verdict == "fail"
    assert verdict.metrics["flips_pass_to_fail"] == 8 and verdict.metrics["candidate_unparsable"] == 8
    assert verdict.failed_cases[0].problems[0].startswith("unparsable call: unterminated")
    assert verdict.metrics["candidate_problem_kinds"] == {"unparsable call": 8}
    assert "correct_calls" in verdict.reason


def test_smollm2_prompt_and_template_detection() -> None:
    smollm2_template = "{% for message in messages %}{{ message['content'] }}{% endfor %}"
    hermes_like = "{% if tools %}{% for t in tools %}{{ t | tojson }}{% endfor %}{% endif %}{{ messages[0]['content'] }}"
    assert tool_format.resolve_format("auto", smollm2_template) == "smollm2"
    assert tool_format.resolve_format("auto", hermes_like) == "template"
    assert tool_format.resolve_format("auto", None) == "smollm2"
    case = TOOL_CALLS.builtin_cases()[0]
    request = tool_format.request(case, "smollm2", 32)
    system, demo_user, demo_answer, user = request.messages
    assert "<tools>" in system.content and '"get_weather"' in system.content and request.tools == ()
    assert demo_answer.role == "assistant" and parse_calls(demo_answer.content).calls[0].name == "get_weather"
    assert user.content == case.prompt
    templated = tool_format.request(case, "template", 32)
    assert templated.tools == case.tools and len(templated.messages) == 1


def test_builtin_cases_cover_the_kinds_the_gate_needs() -> None:
    cases = TOOL_CALLS.builtin_cases()
    assert len(cases) >= 20
    categories = {c.category for c in cases}
    assert {"single", "choice", "nested", "enum", "number", "no-call"} <= categories
    for case in cases:  # every expected call is itself valid for its tool
        for call in case.expect:
            assert tool_call.check_call(ToolCall(call.name, call.arguments), call, case.tool(call.name)) == []


def test_case_file_errors_are_clear(tmp_path) -> None:
    bad = tmp_path / "tools.json"
    bad.write_text(json.dumps({"tools": {}, "cases": [{"id": "a", "prompt": "p", "tools": ["nope"], "expect": []}]}))
    with pytest.raises(ConfigError, match=r"tool\(s\) nope are not declared"):
        TOOL_CALLS.load([bad])
    bad.write_text(json.dumps({"tools": {"get_weather": WEATHER}, "cases": [{"id": "a", "prompt": "p", "tools": ["get_weather"], "expect": [{"name": "area"}]}]}))
    with pytest.raises(ConfigError, match="expects area, which it does not offer"):
        TOOL_CALLS.load([bad])
