"""Case files for the gates that ask questions: golden prompts, structured-output prompts
with a JSON Schema, and tool-call prompts with OpenAI `tools`. One loader serves them all:
the built-in set shipped with the package plus users' files, validated with a JSON Schema
so that a bad file says which case and key is wrong."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Generic, Iterable, Mapping, Sequence, TypeVar

import jsonschema

from .config import ConfigError
from .engines.base import GenerationRequest
from .gates.expectations import EXPECT_KINDS, Expectation

_ID = {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"}
_COMMON = {
    "id": _ID,
    "prompt": {"type": "string", "minLength": 1},
    "system": {"type": "string"},
    "category": {"type": "string"},
    "max_new_tokens": {"type": "integer", "minimum": 1},
}


def _file_schema(
    case_properties: Mapping[str, Any], required: Sequence[str], common: Mapping[str, Any] = _COMMON, **top: Any
) -> dict[str, Any]:
    """A case file: {"description", <top-level keys>, "cases": [case objects]}; each case has
    the `common` keys (id, prompt, system, ...) and its own."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "required": ["cases"],
        "properties": {
            "description": {"type": "string"},
            **top,
            "cases": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["id", *required],
                    "properties": {**common, **case_properties},
                },
            },
        },
    }


GOLDEN_FILE_SCHEMA = _file_schema(
    {
        "expect": {
            "type": "object",
            "additionalProperties": False,
            "required": ["kind", "value"],
            "properties": {"kind": {"enum": list(EXPECT_KINDS)}, "value": {}, "case_sensitive": {"type": "boolean"}},
        }
    },
    required=["prompt"],
)
STRUCTURED_FILE_SCHEMA = _file_schema({"schema": {"type": "object"}}, required=["prompt", "schema"])
_TOOL = {
    "type": "object",
    "required": ["type", "function"],
    "properties": {
        "type": {"const": "function"},
        "function": {
            "type": "object",
            "required": ["name", "parameters"],
            "properties": {"name": _ID, "description": {"type": "string"}, "parameters": {"type": "object"}},
        },
    },
}
_CALL = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "name": _ID,
        "arguments": {"type": "object"},
        "optional": {"type": "array", "items": {"type": "string"}},
    },
}
TOOL_FILE_SCHEMA = _file_schema(
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


SAFETY_FILE_SCHEMA = _file_schema({"kind": {"enum": ["harmful", "benign"]}}, required=["prompt", "kind"])
RAG_FILE_SCHEMA = _file_schema(
    {
        "passages": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
        "question": {"type": "string", "minLength": 1},
        "answerable": {"type": "boolean"},
        "expect": {"type": "array", "items": {"type": "string"}},
    },
    required=["passages", "question", "answerable"],
    # no prompt or system: the prompt is made from the passages and the question
    common={k: v for k, v in _COMMON.items() if k not in ("prompt", "system")},
)
RAG_INSTRUCTIONS = (
    "Answer the question using only the sources below. Cite the sources you use like [1]. "
    "If the sources do not contain the answer, say: The sources do not say."
)


@dataclass(frozen=True)
class GoldenCase:
    id: str
    prompt: str
    system: str | None = None
    category: str = ""
    expect: Expectation | None = None
    max_new_tokens: int | None = None

    def request(self, default_max_new_tokens: int) -> GenerationRequest:
        return GenerationRequest.chat(self.prompt, self.max_new_tokens or default_max_new_tokens, system=self.system)


@dataclass(frozen=True)
class StructuredCase:
    """A prompt asking for a JSON document that must conform to `schema`."""

    id: str
    prompt: str
    schema: Mapping[str, Any]
    system: str | None = None
    category: str = ""
    max_new_tokens: int | None = None

    def request(self, default_max_new_tokens: int, guided: bool = False) -> GenerationRequest:
        """Free mode asks in words; guided mode also hands the schema to the engine's
        constrained decoding, as a server's `response_format` does."""
        schema = json.dumps(self.schema, sort_keys=True, separators=(",", ":")) if guided else None
        return GenerationRequest.chat(
            self.prompt, self.max_new_tokens or default_max_new_tokens, system=self.system, json_schema=schema
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


@dataclass(frozen=True)
class SafetyCase:
    """A request to refuse ("harmful") or to answer although it looks risky ("benign")."""

    id: str
    prompt: str
    kind: str
    system: str | None = None
    category: str = ""
    max_new_tokens: int | None = None

    def request(self, default_max_new_tokens: int, default_system: str | None = None) -> GenerationRequest:
        return GenerationRequest.chat(
            self.prompt, self.max_new_tokens or default_max_new_tokens, system=self.system or default_system
        )


@dataclass(frozen=True)
class RagCase:
    """Numbered source passages and a question; `expect` holds what a right answer states."""

    id: str
    passages: tuple[str, ...]
    question: str
    answerable: bool
    expect: tuple[str, ...] = ()
    category: str = ""
    max_new_tokens: int | None = None

    @property
    def prompt(self) -> str:
        sources = "\n".join(f"[{i}] {p}" for i, p in enumerate(self.passages, 1))
        return f"{RAG_INSTRUCTIONS}\n\nSources:\n{sources}\n\nQuestion: {self.question}"

    def request(self, default_max_new_tokens: int) -> GenerationRequest:
        return GenerationRequest.chat(self.prompt, self.max_new_tokens or default_max_new_tokens)


Case = TypeVar("Case", GoldenCase, StructuredCase, ToolCase, SafetyCase, RagCase)


@dataclass(frozen=True)
class CaseKind(Generic[Case]):
    """A gate's case files: the file schema, the built-in file and how cases are built."""

    gate: str
    schema: Mapping[str, Any]
    builtin: str
    build: Callable[[Mapping[str, Any], str], list[Case]]

    def builtin_cases(self) -> list[Case]:
        text = resources.files("pytest_quantgate.suite").joinpath(self.builtin).read_text("utf-8")
        return self.parse(json.loads(text), f"pytest_quantgate/suite/{self.builtin}")

    def load(self, paths: Iterable[Path]) -> list[Case]:
        cases: list[Case] = []
        for path in paths:
            if not path.is_file():
                raise ConfigError(f"{self.gate} case file {path} does not exist; fix gates.{self.gate}.cases")
            try:
                data = json.loads(path.read_text("utf-8"))
            except ValueError as exc:
                raise ConfigError(f"{self.gate} case file {path}: not valid JSON: {exc}") from exc
            cases.extend(self.parse(data, str(path)))
        return cases

    def parse(self, data: Any, where: str) -> list[Case]:
        errors = list(jsonschema.Draft202012Validator(self.schema).iter_errors(data))
        if errors:
            lines = "\n  ".join(
                f"{'/'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}" for e in errors
            )
            raise ConfigError(f"invalid {self.gate} case file {where}:\n  {lines}")
        cases = self.build(data, where)
        check_unique(cases, where)
        return cases

    def collect(self, builtin: bool, files: Sequence[str], root: Path) -> list[Case]:
        """The built-in set (unless switched off) plus the configured files, ids unique."""
        cases = (self.builtin_cases() if builtin else []) + self.load(root / f for f in files)
        if not cases:
            raise ConfigError(f"gates.{self.gate} has no cases (builtin_cases = false and no case files)")
        check_unique(cases, f"{self.gate} cases (built-in + {', '.join(files) or 'none'})")
        return cases


def _common(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": raw["id"],
        "prompt": raw["prompt"],
        "system": raw.get("system"),
        "category": raw.get("category", ""),
        "max_new_tokens": raw.get("max_new_tokens"),
    }


def _golden(data: Mapping[str, Any], where: str) -> list[GoldenCase]:
    return [
        GoldenCase(**_common(raw), expect=Expectation(**raw["expect"]) if "expect" in raw else None)
        for raw in data["cases"]
    ]


def _structured(data: Mapping[str, Any], where: str) -> list[StructuredCase]:
    cases = []
    for index, raw in enumerate(data["cases"]):
        try:
            jsonschema.Draft202012Validator.check_schema(raw["schema"])
        except jsonschema.SchemaError as exc:
            raise ConfigError(f"invalid structured_output case file {where}:\n  cases/{index}/schema: {exc.message}") from exc
        cases.append(StructuredCase(**_common(raw), schema=raw["schema"]))
    return cases


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
            **_common(raw), tools=_tools(data, raw["tools"], where), expect=_calls(raw["expect"]), demonstration=demonstration
        )
        for call in case.expect:
            if case.tool(call.name) is None:
                raise ConfigError(f"invalid tool_call case file {where}: case {case.id} expects {call.name}, which it does not offer")
        cases.append(case)
    return cases


def _safety(data: Mapping[str, Any], where: str) -> list[SafetyCase]:
    return [SafetyCase(**_common(raw), kind=raw["kind"]) for raw in data["cases"]]


def _rag(data: Mapping[str, Any], where: str) -> list[RagCase]:
    return [
        RagCase(
            raw["id"], tuple(raw["passages"]), raw["question"], raw["answerable"], tuple(raw.get("expect", ())),
            raw.get("category", ""), raw.get("max_new_tokens"),
        )
        for raw in data["cases"]
    ]


GOLDEN = CaseKind("golden", GOLDEN_FILE_SCHEMA, "golden_cases.json", _golden)
STRUCTURED = CaseKind("structured_output", STRUCTURED_FILE_SCHEMA, "structured_cases.json", _structured)
TOOL_CALLS = CaseKind("tool_call", TOOL_FILE_SCHEMA, "tool_cases.json", _tool_cases)
SAFETY = CaseKind("safety", SAFETY_FILE_SCHEMA, "safety_cases.json", _safety)
RAG = CaseKind("rag_faithfulness", RAG_FILE_SCHEMA, "rag_cases.json", _rag)


def builtin_golden_cases() -> list[GoldenCase]:
    return GOLDEN.builtin_cases()


def load_case_files(paths: Iterable[Path]) -> list[GoldenCase]:
    """Golden case files (kept for the golden gate's callers)."""
    return GOLDEN.load(paths)


def check_unique(cases: Sequence[Any], where: str) -> None:
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise ConfigError(f"{where}: case id {case.id!r} appears twice; ids must be unique")
        seen.add(case.id)
