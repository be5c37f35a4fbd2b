"""The tool-call format (SmolLM2's documented prompt and `<tool_call>` answers) and the
BFCL-style checker, on hand-made answers. The proof on real quantized models is in
test_structured_engines.py."""

import dataclasses
import json

import pytest

from pytest_quantgate.config import ConfigError

from pytest_quantgate.gates.tool_call.thresholds import ToolCallThresholds
from pytest_quantgate.gates.tool_call import decision as tool_call
from pytest_quantgate.gates.tool_call import formats as tool_format
from pytest_quantgate.gates.tool_call.cases import TOOL_CALLS, ExpectedCall, ItemsPattern, ObjectPattern, ToolCase
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


def test_accuracy_and_flips_per_category() -> None:
    right = gen(answer({"name": "get_weather", "arguments": {"city": "New York"}}))
    wrong = gen(answer({"name": "get_weather", "arguments": {"city": "Boston"}}))
    cases = [dataclasses.replace(CASE, id=f"s{i}", category="simple_python") for i in range(4)] + [dataclasses.replace(CASE, id="own")]
    verdict = tool_call.evaluate(cases, [right, right, right, wrong, right], [right, wrong, wrong, right, right], ToolCallThresholds())
    assert verdict.metrics["by_category"] == {
        "own": {"cases": 1, "baseline_correct": 1, "candidate_correct": 1, "lost": 0, "gained": 0, "baseline_accuracy": 1.0, "candidate_accuracy": 1.0},
        "simple_python": {
            "cases": 4, "baseline_correct": 3, "candidate_correct": 2, "lost": 2, "gained": 1,
            "baseline_accuracy": 0.75, "candidate_accuracy": 0.5,
        },
    }


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


PLAY = {
    "type": "function",
    "function": {
        "name": "play",
        "parameters": {
            "type": "object",
            "properties": {"artist": {"type": "string"}, "shuffle": {"type": "boolean"}, "volume": {"type": "integer", "maximum": 10}},
            "required": ["artist"],
        },
    },
}


def calls(*made: tuple[str, dict]) -> str:
    return answer(*({"name": n, "arguments": a} for n, a in made))


def test_parallel_calls_are_matched_in_any_order_as_a_best_assignment() -> None:
    case = ToolCase("p", "Play Taylor Swift and Maroon 5", (PLAY,), (ExpectedCall("play", {"artist": "Taylor Swift"}), ExpectedCall("play", {"artist": "Maroon 5"})))
    assert tool_call.check_answer(parse_calls(calls(("play", {"artist": "Maroon 5"}), ("play", {"artist": "Taylor Swift"}))), case) == []
    assert tool_call.check_answer(parse_calls(calls(("play", {"artist": "Maroon 5"}), ("play", {"artist": "Adele"}))), case) == [
        "argument 'artist' = 'Adele', expected 'Taylor Swift'"
    ]
    assert tool_call.check_answer(parse_calls(calls(("play", {"artist": "maroon 5"}))), case) == ["no call to play (called nothing more)"]
    # Greedy matching (BFCL's) gives the first call to the first expected call and then fails;
    # the best assignment finds the matching that exists.
    either = ToolCase("g", "q", (PLAY,), (ExpectedCall("play", {"artist": "A"}, accept={"artist": ("B",)}), ExpectedCall("play", {"artist": "A"})))
    assert tool_call.check_answer(parse_calls(calls(("play", {"artist": "A"}), ("play", {"artist": "B"}))), either) == []


def test_many_parallel_calls_are_assigned_alike_by_search_and_by_scipy() -> None:
    artists = [f"Artist {i}" for i in range(9)]
    case = ToolCase("many", "q", (PLAY,), tuple(ExpectedCall("play", {"artist": a}) for a in artists))
    assert tool_call.check_answer(parse_calls(calls(*(("play", {"artist": a}) for a in reversed(artists)))), case) == []
    one_off = [("play", {"artist": a}) for a in reversed(artists[1:])] + [("play", {"artist": "Artist 0", "volume": 3})]
    assert tool_call.check_answer(parse_calls(calls(*one_off)), case) == ["extra argument 'volume' = 3"]
    table = [[abs(i - j) + (i == 2) for j in range(5)] for i in range(4)]
    few = tool_call.best_pairs(4, 5, lambda i, j: table[i][j])
    many = tool_call.best_pairs(8, 9, lambda i, j: abs(i - j) + (i == 2))
    assert few == [(0, 0), (1, 1), (2, 2), (3, 3)] and many == [(i, i) for i in range(8)]
    assert tool_call.best_pairs(3, 2, lambda i, j: 0 if i == j + 1 else 1) == [(1, 0), (2, 1)]


def test_difference_from_baseline_is_order_free() -> None:
    base = parse_calls(calls(("play", {"artist": "A"}), ("play", {"artist": "B"})))
    assert tool_call.difference_from_baseline(base, parse_calls(calls(("play", {"artist": "b"}), ("play", {"artist": "A"})))) is None
    assert tool_call.difference_from_baseline(base, parse_calls(calls(("play", {"artist": "C"}), ("play", {"artist": "A"})))) == "play: value of ['artist']"
    assert tool_call.difference_from_baseline(base, parse_calls(calls(("play", {"artist": "A"})))) == "name: ['play', 'play'] -> ['play']"
    assert tool_call.difference_from_baseline(
        base, parse_calls(calls(("play", {"artist": "B", "shuffle": True}), ("play", {"artist": "A"})))
    ) == "play: extra argument(s) ['shuffle']"


@pytest.mark.parametrize(
    ("given", "expected", "bfcl", "loose"),
    [
        ("new york", "New York", True, True),
        ("April 1,2024", "april 1 2024", True, True),  # BFCL drops spaces and , . / - _ * ^
        ("new_york-city", "NewYork.City", True, True),
        ("'quoted'", '"quoted"', True, True),  # BFCL reads ' as "
        ("Luigis", "Luigi's", False, True),  # only the loose rule drops quotes
        ("Hello!", "hello", False, True),  # and ! ? ; : ( )
        ("(555)", "555", False, True),
        ("Paris", "Pariss", False, False),
    ],
)
def test_strings_compare_as_bfcl_by_default_and_loosely_on_request(given: str, expected: str, bfcl: bool, loose: bool) -> None:
    assert tool_call.same_value(given, expected) is bfcl
    assert tool_call.same_value(given, expected, "loose") is loose
    assert tool_call.normalize_string("April 1, 2024") == "april12024"
    case = ToolCase("s", "q", (PLAY,), (ExpectedCall("play", {"artist": expected}),))
    right, wrong = gen(calls(("play", {"artist": given}))), gen(calls(("play", {"artist": "nobody"})))
    for rule, same in (("bfcl", bfcl), ("loose", loose)):
        verdict = tool_call.evaluate([case] * 4, [right] * 4, [wrong] * 4, ToolCallThresholds(string_match=rule, decision="every_case"))
        assert verdict.metrics["flips_pass_to_fail"] == (4 if same else 0), rule


def test_numbers_booleans_and_nested_values_compare_by_kind() -> None:
    assert tool_call.same_value(3, 3.0) and tool_call.same_value([1, "A b"], [1.0, "ab"])
    assert not tool_call.same_value(True, 1) and not tool_call.same_value(1, True) and not tool_call.same_value([True], [1])
    assert tool_call.same_value({"k": "X-Y"}, {"k": "xy"}) and not tool_call.same_value({"k": 1}, {"k": 1, "j": 2})
    assert not tool_call.same_value("1", 1) and tool_call.same_value(None, None)


ADDRESS = {
    "type": "function",
    "function": {
        "name": "ship",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "currency": {"type": "string", "enum": ["USD", "EUR"]},
                "note": {"type": "string"},
                "address": {"type": "object", "properties": {"street": {"type": "string"}, "zip": {"type": "string"}}},
                "items": {"type": "array", "items": {"type": "object", "properties": {"sku": {"type": "string"}, "qty": {"type": "integer"}}}},
            },
            "required": ["city"],
        },
    },
}
RICH_FILE = {
    "tools": {"ship": ADDRESS},
    "cases": [
        {
            "id": "ship-1",
            "prompt": "Ship two A1 and one B2 to 1 Main St, New York",
            "tools": ["ship"],
            "expect": [
                {
                    "name": "ship",
                    "arguments": {"city": "New York"},
                    "accept": {
                        "city": ["NYC"],
                        "currency": ["USD"],
                        "address": [{"$object": {"street": ["1 Main St", "1 Main Street"], "zip": ["10001"]}, "$optional": ["zip"]}],
                        "items": [{"$items": [[{"$object": {"sku": ["A1"], "qty": [2]}}], [{"$object": {"sku": ["B2"], "qty": [1]}, "$optional": ["qty"]}]]}],
                    },
                    "optional": ["currency", "note"],
                }
            ],
        }
    ],
}
ITEMS = [{"sku": "A1", "qty": 2}, {"sku": "B2"}]


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"city": "NYC", "address": {"street": "1 Main Street"}, "items": ITEMS}, None),  # alternatives, an optional key left out
        ({"city": "New York", "address": {"street": "1 main st", "zip": "10001"}, "items": ITEMS, "currency": "USD"}, None),
        # 'usd' is 'USD' to BFCL's normalisation, but not one of the schema's enum: we enforce it
        ({"city": "NYC", "address": {"street": "1 Main St"}, "items": ITEMS, "currency": "usd"}, "schema: $.currency: 'usd' is not one of"),
        ({"city": "New York", "address": {"street": "1 Main St"}, "items": ITEMS, "note": "anything"}, None),  # optional, no values
        ({"city": "Boston", "address": {"street": "1 Main St"}, "items": ITEMS}, "argument 'city' = 'Boston', expected one of ['New York', 'NYC']"),
        ({"city": "NYC", "address": {"street": "1 Main St"}, "items": ITEMS, "currency": "EUR"}, "argument 'currency' = 'EUR', expected 'USD'"),
        ({"city": "NYC", "address": {"street": "2 Main St"}, "items": ITEMS}, "argument 'address' = "),
        ({"city": "NYC", "address": {"street": "1 Main St", "floor": "2"}, "items": ITEMS}, "argument 'address' = "),  # a key not asked for
        ({"city": "NYC", "address": {"zip": "10001"}, "items": ITEMS}, "argument 'address' = "),  # a key that must be there
        ({"city": "NYC", "address": {"street": "1 Main St"}, "items": ITEMS[::-1]}, "argument 'items' = "),  # items in order
        ({"city": "NYC", "address": {"street": "1 Main St"}, "items": ITEMS[:1]}, "argument 'items' = "),
        ({"city": "NYC", "items": ITEMS}, "missing argument 'address'"),
    ],
)
def test_acceptable_values_optional_arguments_and_patterns(tmp_path, arguments, problem) -> None:
    path = tmp_path / "ship.json"
    path.write_text(json.dumps(RICH_FILE))
    (case,) = TOOL_CALLS.load([path])
    problems = tool_call.check_answer(parse_calls(calls(("ship", arguments))), case)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_the_file_form_reads_back_and_old_files_mean_what_they_meant(tmp_path) -> None:
    path = tmp_path / "ship.json"
    path.write_text(json.dumps(RICH_FILE))
    (case,) = TOOL_CALLS.load([path])
    (call,) = case.expect
    assert call.to_json() == RICH_FILE["cases"][0]["expect"][0]  # type: ignore[index]
    assert call.acceptable("city") == ("New York", "NYC") and call.acceptable("note") is None
    assert call.needed == ("city", "address", "items")
    assert isinstance(call.accept["address"][0], ObjectPattern) and isinstance(call.accept["items"][0], ItemsPattern)
    email = next(c for c in TOOL_CALLS.builtin_cases() if c.id == "email-ann").expect[0]
    assert email == ExpectedCall("send_email", {"to": "ann@example.com", "subject": "Lunch"}, ("body",))
    assert email.acceptable("body") is None and email.acceptable("to") == ("ann@example.com",)


def _file(tmp_path, expect: dict, tool: dict = ADDRESS) -> object:
    path = tmp_path / "cases.json"
    path.write_text(json.dumps({"tools": {"t": tool}, "cases": [{"id": "bad-case", "prompt": "p", "tools": ["t"], "expect": [expect]}]}))
    return path


@pytest.mark.parametrize(
    ("expect", "message"),
    [
        ({"name": "ship", "arguments": {"city": "X", "currency": "GBP"}}, r"case bad-case: expect\[0\] \(ship\) arguments\.currency: 'GBP' is not one of \['USD', 'EUR'\]"),
        ({"name": "ship", "arguments": {"city": "X", "colour": "red"}}, r"arguments\.colour: 'colour' is not an argument of ship \(it declares city, currency"),
        ({"name": "ship", "arguments": {"city": "X"}, "optional": ["speed"]}, r"optional\.speed: 'speed' is not an argument of ship"),
        ({"name": "ship", "arguments": {"city": "X"}, "accept": {"currency": ["USD", "CHF"]}}, r"accept\.currency\[1\]: 'CHF' is not one of"),
        ({"name": "ship", "arguments": {"city": "X"}, "optional": ["city"]}, r"optional\.city \(left out\): 'city' is a required property"),
        ({"name": "ship", "arguments": {"currency": "USD"}}, r"arguments: 'city' is a required property"),
        ({"name": "ship", "arguments": {"city": 7}}, r"arguments\.city: 7 is not of type 'string'"),
        (
            {"name": "ship", "arguments": {"city": "X"}, "accept": {"items": [{"$items": [[{"$object": {"qty": ["two"]}}]]}]}},
            r"arguments\.items\[0\]\.qty: 'two' is not of type 'integer'",
        ),
    ],
)
def test_case_files_are_checked_against_their_tools_when_read(tmp_path, expect, message) -> None:
    path = _file(tmp_path, expect)
    with pytest.raises(ConfigError, match=message) as caught:
        TOOL_CALLS.load([path])
    assert str(path) in str(caught.value) and "no answer could match" in str(caught.value)


def test_case_file_patterns_and_tool_schemas_are_checked_in_shape(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"cases/0/expect/0/accept/city/0"):
        TOOL_CALLS.load([_file(tmp_path, {"name": "ship", "arguments": {"city": "X"}, "accept": {"city": [{"$object": {"a": "b"}}]}})])
    with pytest.raises(ConfigError, match=r"cases/0/expect/0/accept/city"):
        TOOL_CALLS.load([_file(tmp_path, {"name": "ship", "arguments": {"city": "X"}, "accept": {"city": []}})])
    broken = {"type": "function", "function": {"name": "ship", "parameters": {"type": "object", "properties": {"city": {"type": "text"}}}}}
    with pytest.raises(ConfigError, match=r"the parameters of ship are not a valid JSON Schema"):
        TOOL_CALLS.load([_file(tmp_path, {"name": "ship", "arguments": {"city": "X"}}, broken)])


def test_settings_schema_names_the_bfcl_categories() -> None:
    import jsonschema

    from pytest_quantgate.config.schema import schema_of

    schema = schema_of(ToolCallThresholds)
    jsonschema.validate({"bfcl": ["simple_python", "live_simple"], "bfcl_sample": 5, "bfcl_seed": 3, "string_match": "loose"}, schema)
    for bad in ({"bfcl": ["simple_java"]}, {"string_match": "exact"}, {"bfcl_sample": -1}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
    assert ToolCallThresholds().bfcl == () and ToolCallThresholds().string_match == "bfcl"


def test_generated_cases_are_reproducible_distinct_and_answerable() -> None:
    """Each generated case offers the tool it expects (with up to two others), every argument
    of its expected call is stated in its prompt, and that call passes the gate's own check;
    no id meets a built-in one."""
    from pytest_quantgate.gates.tool_call import families

    cases = families.generated_cases(240, 0)
    assert cases == families.generated_cases(240, 0) and families.generated_cases(240, 1) != cases
    assert len({c.id for c in cases}) == 240 and families.generated_cases(0) == []
    assert not {c.id for c in cases} & {c.id for c in TOOL_CALLS.builtin_cases()}
    assert {c.category for c in cases} == {"single", "choice", "no-call"}
    assert {call.name for c in cases for call in c.expect} == {t for c in cases for t in (x["function"]["name"] for x in c.tools)} - {"create_contact"}
    for case in cases:
        offered = [t["function"]["name"] for t in case.tools]
        assert 1 <= len(offered) <= 3 and len(set(offered)) == len(offered), case
        for call in case.expect:
            assert call.name in offered and all(str(v).lower() in case.prompt.lower() for v in call.arguments.values()), case
            assert tool_call.check_call(ToolCall(call.name, dict(call.arguments)), call, case.tool(call.name)) == []
        answer_text = answer(*({"name": c.name, "arguments": dict(c.arguments)} for c in case.expect)) if case.expect else "Sure."
        assert tool_call.check_answer(parse_calls(answer_text), case) == [], case
    # A wrong value, a missing argument or a call where none is due fails.
    timer = next(c for c in cases if c.expect and c.expect[0].name == "set_timer")
    minutes = timer.expect[0].arguments["minutes"]
    assert tool_call.check_answer(parse_calls(answer({"name": "set_timer", "arguments": {"minutes": minutes + 1}})), timer)
    assert tool_call.check_answer(parse_calls(answer({"name": "set_timer", "arguments": {}})), timer)
    quiet = next(c for c in cases if not c.expect)
    due = quiet.tools[0]["function"]["name"]
    assert tool_call.check_answer(parse_calls(answer({"name": due, "arguments": {}})), quiet)
