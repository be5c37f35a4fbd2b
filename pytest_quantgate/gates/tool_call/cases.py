"""Tool-call cases: a question, the tools offered (OpenAI `tools`) and the calls expected.

An expected call in a case file:

    {"name": "get_weather",
     "arguments": {"city": "New York"},              the call as it should be made (exact values)
     "accept": {"city": ["NYC"], "unit": ["celsius"]},  further acceptable values per argument
     "optional": ["unit"]}                            arguments that may be left out

`arguments` is the expected call itself (what a demonstration shows); `accept` adds other
acceptable values of an argument, in the manner of BFCL's possible answers
(`"location": ["New York", "NYC"]`); an argument in `optional` may be left out, and when given
must still be one of its acceptable values (BFCL's `["USD", ""]`), or any valid value when the
file gives none (the meaning `optional` always had). Any other argument is an extra argument.

An acceptable value is a JSON value (compared after normalising strings) or a pattern:

    {"$object": {"street": ["1 Main St", "1 Main Street"], "zip": ["0150"]}, "$optional": ["zip"]}
        an object with exactly these keys (those in `$optional` may be missing), each value
        one of its alternatives;
    {"$items": [[<alternatives of item 0>], [<alternatives of item 1>], ...]}
        a list of exactly that many items, in that order, each one of its alternatives
        (BFCL's lists of objects).

Every expected call is checked when the file is read: its arguments are declared by the tool,
and the call itself, each acceptable alternative and each omission of an optional argument is
valid against the tool's JSON Schema (a case that no answer could pass is an error).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, NamedTuple, Sequence

import jsonschema

from ...config import ConfigError
from ..common.cases import CASE_ID, CaseKind, FileCase, common_fields, file_schema

_TOOL = {
    "type": "object",
    "required": ["type", "function"],
    "properties": {
        "type": {"const": "function"},
        "function": {
            "type": "object",
            "required": ["name", "parameters"],
            "properties": {"name": CASE_ID, "description": {"type": "string"}, "parameters": {"type": "object"}},
        },
    },
}
# An acceptable value: any JSON value, or a `$object` / `$items` pattern (recursive).
_PATTERNS = "urn:pytest-quantgate:tool-call-value"
_VALUE = {
    "$id": _PATTERNS,
    "$defs": {
        "alternatives": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/value"}},
        "value": {
            "if": {"type": "object", "anyOf": [{"required": ["$object"]}, {"required": ["$items"]}, {"required": ["$optional"]}]},
            "then": {
                "oneOf": [
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["$object"],
                        "properties": {
                            "$object": {"type": "object", "additionalProperties": {"$ref": "#/$defs/alternatives"}},
                            "$optional": {"type": "array", "items": {"type": "string"}},
                        },
                    },
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["$items"],
                        "properties": {"$items": {"type": "array", "items": {"$ref": "#/$defs/alternatives"}}},
                    },
                ]
            },
        },
    },
    "type": "object",
    "additionalProperties": {"$ref": "#/$defs/alternatives"},
}
_CALL = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": CASE_ID,
        "arguments": {"type": "object"},
        "accept": _VALUE,
        "optional": {"type": "array", "items": {"type": "string"}},
    },
}
TOOL_FILE_SCHEMA = file_schema(
    {
        "tools": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "expect": {"type": "array", "items": _CALL},
    },
    required=["prompt", "tools", "expect"],
    tools={"type": "object", "additionalProperties": _TOOL},
    demonstration={
        "type": "object",
        "additionalProperties": False,
        "required": ["prompt", "calls"],
        "properties": {
            "prompt": {"type": "string"},
            "calls": {"type": "array", "items": _CALL},
        },
    },
)


@dataclass(frozen=True)
class ObjectPattern:
    """An object with exactly `keys` (those in `optional` may be missing), each value one of
    its alternatives. File form: {"$object": {key: [alternatives]}, "$optional": [keys]}."""

    keys: Mapping[str, tuple[Any, ...]]
    optional: tuple[str, ...] = ()

    def example(self) -> dict[str, Any]:
        return {k: example(alts[0]) for k, alts in self.keys.items() if alts and k not in self.optional}

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"$object": {k: [to_json(a) for a in alts] for k, alts in self.keys.items()}}
        return {**body, "$optional": list(self.optional)} if self.optional else body


@dataclass(frozen=True)
class ItemsPattern:
    """A list of exactly len(items) items, in order, item i one of items[i].
    File form: {"$items": [[alternatives of item 0], ...]}."""

    items: tuple[tuple[Any, ...], ...]

    def example(self) -> list[Any]:
        return [example(alts[0]) for alts in self.items]

    def to_json(self) -> dict[str, Any]:
        return {"$items": [[to_json(a) for a in alts] for alts in self.items]}


def example(value: Any) -> Any:
    """A plain JSON value an acceptable value stands for (a pattern's first alternatives)."""
    return value.example() if isinstance(value, (ObjectPattern, ItemsPattern)) else value


def to_json(value: Any) -> Any:
    """An acceptable value in the case-file form."""
    return value.to_json() if isinstance(value, (ObjectPattern, ItemsPattern)) else value


@dataclass(frozen=True)
class ExpectedCall:
    """One call the model should make.

    `arguments` is the call itself (every argument given exactly, after normalising strings);
    `accept` gives further acceptable values per argument (plain values or patterns);
    an argument in `optional` may be left out; given, it must be one of its acceptable values,
    or any valid value when it has none. Any other argument is an extra argument."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    optional: tuple[str, ...] = ()
    accept: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)

    def acceptable(self, argument: str) -> tuple[Any, ...] | None:
        """The acceptable values of an argument; None when any valid value will do (an optional
        argument without values) or when it is not expected at all (see `expects`)."""
        values = ((self.arguments[argument],) if argument in self.arguments else ()) + tuple(self.accept.get(argument, ()))
        if values or argument in self.accept:
            return values
        return None

    def expects(self, argument: str) -> bool:
        return argument in self.arguments or argument in self.accept or argument in self.optional

    @property
    def needed(self) -> tuple[str, ...]:
        """The arguments that must be given."""
        names = dict.fromkeys([*self.arguments, *self.accept])
        return tuple(n for n in names if n not in self.optional)

    def to_json(self) -> dict[str, Any]:
        """The expected call in the case-file form (`accept`/`optional` only when given)."""
        out: dict[str, Any] = {"name": self.name, "arguments": dict(self.arguments)}
        if self.accept:
            out["accept"] = {k: [to_json(v) for v in alts] for k, alts in self.accept.items()}
        if self.optional:
            out["optional"] = list(self.optional)
        return out


@dataclass(frozen=True)
class ToolCase(FileCase):
    """A question with the tools offered (OpenAI `tools` entries) and the calls expected;
    no expected call means the model should answer without calling a tool."""

    id: str
    prompt: str
    tools: tuple[Mapping[str, Any], ...]
    expect: tuple[ExpectedCall, ...]
    system: str | None = None
    category: str = ""
    max_new_tokens: int | None = None
    demonstration: "ToolDemonstration | None" = None

    def tool(self, name: str) -> Mapping[str, Any] | None:
        return next((t["function"] for t in self.tools if t["function"]["name"] == name), None)


@dataclass(frozen=True)
class ToolDemonstration:
    """A worked exchange placed before each question, so a small model sees the call format."""

    prompt: str
    calls: tuple[ExpectedCall, ...]


def pattern(raw: Any) -> Any:
    """An acceptable value from its file form (the file schema has checked the shape)."""
    if isinstance(raw, dict) and "$object" in raw:
        return ObjectPattern({k: tuple(pattern(a) for a in alts) for k, alts in raw["$object"].items()}, tuple(raw.get("$optional", ())))
    if isinstance(raw, dict) and "$items" in raw:
        return ItemsPattern(tuple(tuple(pattern(a) for a in alts) for alts in raw["$items"]))
    return raw


def _calls(raw: Sequence[Mapping[str, Any]]) -> tuple[ExpectedCall, ...]:
    return tuple(
        ExpectedCall(
            c["name"],
            c.get("arguments", {}),
            tuple(c.get("optional", ())),
            {k: tuple(pattern(a) for a in alts) for k, alts in c.get("accept", {}).items()},
        )
        for c in raw
    )


def _tools(data: Mapping[str, Any], names: Sequence[str], where: str) -> tuple[Mapping[str, Any], ...]:
    declared = data.get("tools", {})
    unknown = [n for n in names if n not in declared]
    if unknown:
        raise ConfigError(
            f"invalid tool_call case file {where}: tool(s) {', '.join(unknown)} are not declared in its "
            f"'tools' table; declared: {', '.join(sorted(declared)) or 'none'}"
        )
    return tuple(declared[n] for n in names)


# -- what an expected call allows, as plain calls: each must be valid for the tool ----------------


def _variants(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """(path, plain value) for the value's example and each single departure from it: every
    other alternative of a pattern's key or item, and every optional key left out."""
    if isinstance(value, ObjectPattern):
        keys = value.example()
        yield path, keys
        for key, alts in value.keys.items():
            rest = {k: v for k, v in keys.items() if k != key}
            if key in value.optional:
                yield f"{path}.{key} (left out)", rest
            for i, alt in enumerate(alts):
                for sub, plain in _variants(alt, f"{path}.{key}[{i}]"):
                    if sub != f"{path}.{key}[0]" or key in value.optional:
                        yield sub, {**rest, key: plain}
    elif isinstance(value, ItemsPattern):
        base = value.example()
        yield path, base
        for index, alts in enumerate(value.items):
            for i, alt in enumerate(alts):
                for sub, plain in _variants(alt, f"{path}[{index}][{i}]"):
                    if sub != f"{path}[{index}][0]":
                        yield sub, base[:index] + [plain] + base[index + 1 :]
    else:
        yield path, value


class Variant(NamedTuple):
    """A plain call an expected call allows: `kind` "call" (the call itself), "alternative"
    (`argument` given its acceptable value number `alternative`, or a departure inside it)
    or "left out" (optional `argument` not given)."""

    where: str
    kind: str
    argument: str | None
    alternative: int | None
    arguments: dict[str, Any]


def call_variants(call: ExpectedCall) -> Iterator[Variant]:
    """The expected call itself and each single departure it allows: another acceptable value
    of one argument (or of one key or item inside it), one optional argument left out."""
    base = dict(call.arguments)
    for name, alts in call.accept.items():  # an argument that is only in `accept` takes its first value
        if name not in base and alts and name not in call.optional:
            base[name] = example(alts[0])
    yield Variant("arguments", "call", None, None, base)
    for name in dict.fromkeys([*call.arguments, *call.accept, *call.optional]):
        rest = {k: v for k, v in base.items() if k != name}
        if name in call.optional and name in base:
            yield Variant(f"optional.{name} (left out)", "left out", name, None, rest)
        for i, alt in enumerate(call.accept.get(name, ())):
            for sub, plain in _variants(alt, f"accept.{name}[{i}]"):
                yield Variant(sub, "alternative", name, i, {**rest, name: plain})


class CallError(NamedTuple):
    """Why an expected call cannot be matched: `kind` "tool" (its schema is not valid),
    "undeclared" (`argument` is not the tool's) or a Variant's kind (that variant breaks the
    tool's schema)."""

    where: str
    kind: str
    argument: str | None
    alternative: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


_CHECKED: dict[str, str | None] = {}


def _schema_error(schema: Mapping[str, Any]) -> str | None:
    """Why a schema is not valid JSON Schema (None: it is); each schema is checked once."""
    key = json.dumps(schema, sort_keys=True, default=str)
    if key not in _CHECKED:
        if len(_CHECKED) > 4096:
            _CHECKED.clear()
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
            _CHECKED[key] = None
        except jsonschema.SchemaError as exc:
            _CHECKED[key] = exc.message
    return _CHECKED[key]


def call_problems(call: ExpectedCall, tool: Mapping[str, Any], check_schema: bool = True) -> list[CallError]:
    """Everything that keeps an expected call from being matched by a valid call: arguments
    the tool does not declare, and each allowed variant that breaks the tool's JSON Schema
    (itself checked first, unless `check_schema` is false: a schema built here)."""
    params = tool.get("parameters", {})
    invalid = _schema_error(params) if check_schema else None
    if invalid:
        return [CallError("parameters", "tool", None, None, f"the parameters of {call.name} are not a valid JSON Schema: {invalid}")]
    declared = params.get("properties", {})
    problems = [
        CallError(f"{where}.{name}", "undeclared", name, None, f"{name!r} is not an argument of {call.name} (it declares {', '.join(declared) or 'none'})")
        for where, names in (("arguments", call.arguments), ("accept", call.accept), ("optional", call.optional))
        for name in names
        if name not in declared
    ]
    if problems:
        return problems
    validator = jsonschema.Draft202012Validator(params, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    for variant in call_variants(call):
        for error in itertools.islice(validator.iter_errors(variant.arguments), 3):
            inside = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
            where = variant.where + inside if variant.kind == "call" else variant.where
            problems.append(CallError(where, variant.kind, variant.argument, variant.alternative, error.message))
    return list(dict.fromkeys(problems))


def call_errors(call: ExpectedCall, tool: Mapping[str, Any]) -> list[str]:
    """`call_problems` as 'path: message' lines (empty: every variant is valid)."""
    return [str(p) for p in call_problems(call, tool)]


def _check_calls(calls: Sequence[ExpectedCall], tools: Mapping[str, Mapping[str, Any]], where: str, owner: str) -> None:
    for index, call in enumerate(calls):
        tool = tools.get(call.name)
        if tool is None:
            raise ConfigError(f"invalid tool_call case file {where}: {owner} expects {call.name}, which it does not offer")
        errors = call_errors(call, tool)
        if errors:
            lines = "\n  ".join(f"{owner}: expect[{index}] ({call.name}) {e}" for e in errors)
            raise ConfigError(f"invalid tool_call case file {where}: an expected call no answer could match:\n  {lines}")


def _tool_cases(data: Mapping[str, Any], where: str) -> list[ToolCase]:
    demo = data.get("demonstration")
    demonstration = ToolDemonstration(demo["prompt"], _calls(demo["calls"])) if demo else None
    if demonstration:
        declared = {t["function"]["name"]: t["function"] for t in data.get("tools", {}).values()}
        _check_calls([c for c in demonstration.calls if c.name in declared], declared, where, "the demonstration")
    cases = []
    for raw in data["cases"]:
        case = ToolCase(
            **common_fields(raw), tools=_tools(data, raw["tools"], where), expect=_calls(raw["expect"]), demonstration=demonstration
        )
        _check_calls(case.expect, {t["function"]["name"]: t["function"] for t in case.tools}, where, f"case {case.id}")
        cases.append(case)
    return cases


TOOL_CALLS = CaseKind("tool_call", TOOL_FILE_SCHEMA, _tool_cases)
