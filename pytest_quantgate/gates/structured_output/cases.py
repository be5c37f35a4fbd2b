"""Structured-output prompts: a question and the JSON Schema its answer must meet."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

import jsonschema

from ...config import ConfigError
from ...engines.base import GenerationRequest
from ..common.cases import CaseKind, FileCase, common_fields, file_schema

STRUCTURED_FILE_SCHEMA = file_schema({"schema": {"type": "object"}}, required=["prompt", "schema"])


@dataclass(frozen=True)
class StructuredCase(FileCase):
    """A prompt asking for a JSON document that must conform to `schema`."""

    id: str
    prompt: str
    schema: Mapping[str, Any]
    system: str | None = None
    category: str = ""
    max_new_tokens: int | None = None

    def request(self, default_max_new_tokens: int, guided: bool = False) -> GenerationRequest:
        """Free mode asks in words; guided mode also hands the schema to the engine's
        constrained decoding, as a server's `response_format` does: with its properties in the
        case's own order, which the grammar enforces (sorted, they forced "in_stock" before
        "product" where the prompt named them the other way round, and the demo's float32 and
        int8 answers drifted apart on 29 of 170 values)."""
        schema = json.dumps(self.schema, separators=(",", ":")) if guided else None
        return GenerationRequest.chat(
            self.prompt, self.max_new_tokens or default_max_new_tokens, system=self.system, json_schema=schema
        )


def _structured(data: Mapping[str, Any], where: str) -> list[StructuredCase]:
    cases = []
    for index, raw in enumerate(data["cases"]):
        try:
            jsonschema.Draft202012Validator.check_schema(raw["schema"])
        except jsonschema.SchemaError as exc:
            raise ConfigError(f"invalid structured_output case file {where}:\n  cases/{index}/schema: {exc.message}") from exc
        cases.append(StructuredCase(**common_fields(raw), schema=raw["schema"]))
    return cases


STRUCTURED = CaseKind("structured_output", STRUCTURED_FILE_SCHEMA, _structured)
