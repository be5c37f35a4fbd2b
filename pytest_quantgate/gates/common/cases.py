"""Case files, the machinery every case-driven gate shares: the built-in set shipped in the
gate's folder (`cases.json`) plus users' files, validated with a JSON Schema so that a bad
file says which case and key is wrong. Each gate's own case type lives in its folder."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import (
    Any,
    Callable,
    Generic,
    Iterable,
    Mapping,
    Protocol,
    Sequence,
    TypeVar,
)

import jsonschema

from ...config import ConfigError

CASE_ID = {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"}
COMMON_KEYS = {
    "id": CASE_ID,
    "prompt": {"type": "string", "minLength": 1},
    "system": {"type": "string"},
    "category": {"type": "string"},
    "max_new_tokens": {"type": "integer", "minimum": 1},
}


# A regression case (or, at a file's top level, every case of the file): none that held for
# the baseline may be lost, whatever the paired rule says about the rest.
MUST_HOLD = {"type": "boolean"}


@dataclass(frozen=True)
class FileCase:
    """What every case read from a case file has besides its gate's own keys."""

    must_hold: bool = field(default=False, kw_only=True)


def must_hold_ids(cases: Iterable[Any]) -> frozenset[str]:
    return frozenset(c.id for c in cases if getattr(c, "must_hold", False))


def file_schema(
    case_properties: Mapping[str, Any], required: Sequence[str], common: Mapping[str, Any] = COMMON_KEYS, **top: Any
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
            "must_hold": MUST_HOLD,
            **top,
            "cases": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["id", *required],
                    "properties": {**common, "must_hold": MUST_HOLD, **case_properties},
                },
            },
        },
    }


class HasId(Protocol):
    @property
    def id(self) -> str: ...


Case = TypeVar("Case", bound=HasId)


@dataclass(frozen=True)
class CaseKind(Generic[Case]):
    """A gate's case files: the file schema, the built-in file and how cases are built."""

    gate: str
    schema: Mapping[str, Any]
    build: Callable[[Mapping[str, Any], str], list[Case]]

    @property
    def builtin_file(self) -> str:
        return f"pytest_quantgate/gates/{self.gate}/cases.json"

    def builtin_data(self) -> Any:
        """The built-in file as JSON (its shared tables too, e.g. tool_call's `tools`)."""
        package = f"pytest_quantgate.gates.{self.gate}"
        return json.loads(resources.files(package).joinpath("cases.json").read_text("utf-8"))

    def builtin_cases(self) -> list[Case]:
        return self.parse(self.builtin_data(), self.builtin_file)

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
        file_default = bool(data.get("must_hold", False))
        held = {raw["id"] for raw in data["cases"] if raw.get("must_hold", file_default)}
        return [replace(c, must_hold=True) if c.id in held else c for c in cases]  # type: ignore[type-var]

    def collect(self, builtin: bool, files: Sequence[str], root: Path) -> list[Case]:
        """The built-in set (unless switched off) plus the configured files, ids unique."""
        cases = (self.builtin_cases() if builtin else []) + self.load(root / f for f in files)
        if not cases:
            raise ConfigError(f"gates.{self.gate} has no cases (builtin_cases = false and no case files)")
        check_unique(cases, f"{self.gate} cases (built-in + {', '.join(files) or 'none'})")
        return cases


def common_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": raw["id"],
        "prompt": raw["prompt"],
        "system": raw.get("system"),
        "category": raw.get("category", ""),
        "max_new_tokens": raw.get("max_new_tokens"),
    }


def check_unique(cases: Sequence[Any], where: str) -> None:
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise ConfigError(f"{where}: case id {case.id!r} appears twice; ids must be unique")
        seen.add(case.id)
