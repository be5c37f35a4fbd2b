"""Tool-call cases: a question, the tools offered (OpenAI `tools`) and the calls expected."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ...config import ConfigError
from ..common.cases import CASE_ID, CaseKind, common_fields, file_schema

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
_CALL = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": CASE_ID,
        "arguments": {"type": "object"},
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
class ExpectedCall:
    """One call the model should make; `optional` arguments may be given with any valid value."""

    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    optional: tuple[str, ...] = ()


@dataclass(frozen=True)
class ToolCase:
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


def _calls(raw: Sequence[Mapping[str, Any]]) -> tuple[ExpectedCall, ...]:
    return tuple(ExpectedCall(c["name"], c.get("arguments", {}), tuple(c.get("optional", ()))) for c in raw)


def _tools(data: Mapping[str, Any], names: Sequence[str], where: str) -> tuple[Mapping[str, Any], ...]:
    declared = data.get("tools", {})
    unknown = [n for n in names if n not in declared]
    if unknown:
        raise ConfigError(
            f"invalid tool_call case file {where}: tool(s) {', '.join(unknown)} are not declared in its "
            f"'tools' table; declared: {', '.join(sorted(declared)) or 'none'}"
        )
    return tuple(declared[n] for n in names)


def _tool_cases(data: Mapping[str, Any], where: str) -> list[ToolCase]:
    demo = data.get("demonstration")
    demonstration = (
        ToolDemonstration(demo["prompt"], _calls(demo["calls"])) if demo else None
    )
    cases = []
    for raw in data["cases"]:
        case = ToolCase(
            **common_fields(raw), tools=_tools(data, raw["tools"], where), expect=_calls(raw["expect"]), demonstration=demonstration
        )
        for call in case.expect:
            if case.tool(call.name) is None:
                raise ConfigError(f"invalid tool_call case file {where}: case {case.id} expects {call.name}, which it does not offer")
        cases.append(case)
    return cases


TOOL_CALLS = CaseKind("tool_call", TOOL_FILE_SCHEMA, _tool_cases)
