"""Golden prompts: a question, optionally with an expectation checked by code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ...engines.base import GenerationRequest
from ..common.cases import CaseKind, common_fields, file_schema
from ..common.expectations import EXPECT_KINDS, Expectation

GOLDEN_FILE_SCHEMA = file_schema(
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


def _golden(data: Mapping[str, Any], where: str) -> list[GoldenCase]:
    return [
        GoldenCase(**common_fields(raw), expect=Expectation(**raw["expect"]) if "expect" in raw else None)
        for raw in data["cases"]
    ]


GOLDEN = CaseKind("golden", GOLDEN_FILE_SCHEMA, _golden)
