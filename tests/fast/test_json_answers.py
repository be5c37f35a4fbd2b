"""Reading answers as JSON and validating them: examples, then properties on generated
schemas and documents (hypothesis, hypothesis-jsonschema)."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from pytest_quantgate.gates.common.json_answers import (
    read_json,
    schema_errors,
    value_differences,
)
from pytest_quantgate.gates.structured_output.cases import STRUCTURED


@pytest.mark.parametrize(
    ("text", "strict", "found", "document", "after"),
    [
        ('{"a": 1}', True, True, {"a": 1}, ""),
        ('  \n{"a": 1}\n\n', True, True, {"a": 1}, ""),
        ('{"a": 1}\n\nThis is a JSON object.', False, True, {"a": 1}, "\n\nThis is a JSON object."),
        ('Sure! Here it is: [1, 2] hope it helps', False, True, [1, 2], " hope it helps"),
        ('```json\n{"a": [1, {"b": null}]}\n```\nDone.', False, True, {"a": [1, {"b": None}]}, "```\nDone."),
        ('{"a": 1', False, False, None, ""),
        ("no json here", False, False, None, ""),
        ("", False, False, None, ""),
    ],
)
def test_read_json(text, strict, found, document, after) -> None:
    reading = read_json(text)
    assert (reading.strict, reading.found, reading.after) == (strict, found, after)
    assert reading.document == document
    if not found:
        assert reading.reason


def test_schema_errors_name_the_failing_path() -> None:
    schema = {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}, "required": ["tags", "id"]}
    errors = schema_errors(schema, {"tags": ["a", 3]})
    assert "$.tags[1]: 3 is not of type 'string'" in errors
    assert any(e.startswith("$: 'id' is a required property") for e in errors)
    assert schema_errors({"type": "string", "format": "date"}, "2025-13-45") == ["$: '2025-13-45' is not a 'date'"]


def test_value_differences() -> None:
    assert value_differences({"name": "Ann", "age": 31}, {"age": 31.0, "name": "Ann"}) == []
    assert value_differences({"name": "Ann"}, {"name": "Anne"}) == ['$.name: "Ann" -> "Anne"']
    assert value_differences({"a": [1, 2]}, {"a": [1, 2], "b": True}) == ["$.b: extra key (candidate true)"]
    assert value_differences({"ok": 1}, {"ok": True}) == ["$.ok: 1 -> true"]


# -- properties -------------------------------------------------------------------------------
_SCALARS = st.sampled_from(
    [
        {"type": "string"},
        {"type": "integer", "minimum": -5, "maximum": 500},
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "boolean"},
        {"enum": ["low", "medium", "high"]},
        {"type": "string", "format": "date"},
    ]
)


def _schemas() -> st.SearchStrategy[dict]:
    def extend(inner: st.SearchStrategy[dict]) -> st.SearchStrategy[dict]:
        objects = st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), inner, min_size=1, max_size=4).flatmap(
            lambda props: st.lists(st.sampled_from(sorted(props)), unique=True).map(
                lambda req: {"type": "object", "properties": props, "required": req}
            )
        )
        arrays = inner.map(lambda items: {"type": "array", "items": items, "maxItems": 4})
        return objects | arrays

    return st.recursive(_SCALARS, extend, max_leaves=8)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data(), schema=_schemas())
def test_an_instance_generated_from_a_schema_validates(data, schema) -> None:
    instance = data.draw(from_schema(schema))
    assert schema_errors(schema, instance) == []


BUILTIN_SCHEMAS = [case.schema for case in STRUCTURED.builtin_cases()]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data(), index=st.integers(0, len(BUILTIN_SCHEMAS) - 1))
def test_builtin_schemas_accept_their_generated_instances(data, index) -> None:
    schema = BUILTIN_SCHEMAS[index]
    instance = data.draw(from_schema(schema))
    assert schema_errors(schema, instance) == []
    assert read_json(json.dumps(instance, indent=2)).strict


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10,
)
_DOCUMENTS = st.one_of(st.lists(_JSON, max_size=3), st.dictionaries(st.text(max_size=5), _JSON, max_size=3))
_PROSE = st.text(alphabet=st.characters(blacklist_characters="{}[]\"", blacklist_categories=("Cs",)), max_size=40)


@given(document=_DOCUMENTS, before=_PROSE, after=st.text(max_size=40), indent=st.sampled_from([None, 2]))
def test_a_document_wrapped_in_text_is_recovered(document, before, after, indent) -> None:
    body = json.dumps(document, indent=indent)
    reading = read_json(before + body + after)
    assert reading.found
    assert reading.document == document
    assert reading.strict == (not before.strip() and not after.strip()) or reading.strict is False


@given(text=st.text(max_size=80))
def test_any_text_is_read_or_refused_with_a_reason(text) -> None:
    reading = read_json(text)
    if reading.found:
        assert json.loads(text[reading.start : reading.end]) == reading.document or reading.strict
    else:
        assert reading.reason and reading.document is None
