"""Golden cases: the built-in set shipped with the package and users' own case files."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Sequence

import jsonschema

from .config import ConfigError
from .engines.base import GenerationRequest
from .gates.expectations import EXPECT_KINDS, Expectation

BUILTIN_GOLDEN = "golden_cases.json"

CASE_FILE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "required": ["cases"],
    "properties": {
        "description": {"type": "string"},
        "cases": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "prompt"],
                "properties": {
                    "id": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"},
                    "prompt": {"type": "string", "minLength": 1},
                    "system": {"type": "string"},
                    "category": {"type": "string"},
                    "max_new_tokens": {"type": "integer", "minimum": 1},
                    "expect": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["kind", "value"],
                        "properties": {
                            "kind": {"enum": list(EXPECT_KINDS)},
                            "value": {},
                            "case_sensitive": {"type": "boolean"},
                        },
                    },
                },
            },
        },
    },
}


@dataclass(frozen=True)
class GoldenCase:
    id: str
    prompt: str
    system: str | None = None
    category: str = ""
    expect: Expectation | None = None
    max_new_tokens: int | None = None

    def request(self, default_max_new_tokens: int) -> GenerationRequest:
        return GenerationRequest.chat(
            self.prompt, self.max_new_tokens or default_max_new_tokens, system=self.system
        )


def builtin_golden_cases() -> list[GoldenCase]:
    text = resources.files("pytest_quantgate.suite").joinpath(BUILTIN_GOLDEN).read_text("utf-8")
    return parse_case_file(json.loads(text), f"pytest_quantgate/suite/{BUILTIN_GOLDEN}")


def load_case_files(paths: Iterable[Path]) -> list[GoldenCase]:
    cases: list[GoldenCase] = []
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"golden case file {path} does not exist; fix gates.golden.cases")
        try:
            data = json.loads(path.read_text("utf-8"))
        except ValueError as exc:
            raise ConfigError(f"golden case file {path}: not valid JSON: {exc}") from exc
        cases.extend(parse_case_file(data, str(path)))
    return cases


def parse_case_file(data: Any, where: str) -> list[GoldenCase]:
    errors = list(jsonschema.Draft202012Validator(CASE_FILE_SCHEMA).iter_errors(data))
    if errors:
        lines = "\n  ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}" for e in errors
        )
        raise ConfigError(f"invalid golden case file {where}:\n  {lines}")
    cases = [
        GoldenCase(
            id=raw["id"],
            prompt=raw["prompt"],
            system=raw.get("system"),
            category=raw.get("category", ""),
            expect=Expectation(**raw["expect"]) if "expect" in raw else None,
            max_new_tokens=raw.get("max_new_tokens"),
        )
        for raw in data["cases"]
    ]
    check_unique(cases, where)
    return cases


def check_unique(cases: Sequence[GoldenCase], where: str) -> None:
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise ConfigError(f"{where}: golden case id {case.id!r} appears twice; ids must be unique")
        seen.add(case.id)
