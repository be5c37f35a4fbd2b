"""Golden prompts: a question, optionally with an expectation checked by code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ...engines.base import GenerationRequest
from ...errors import ConfigError
from ..common.cases import CaseKind, FileCase, common_fields, file_schema
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
class GoldenCase(FileCase):
    id: str
    prompt: str
    system: str | None = None
    category: str = ""
    expect: Expectation | None = None
    max_new_tokens: int | None = None
    # A request from recorded traffic (gates.golden.traffic), sent as it was recorded; the
    # candidate must agree with the baseline's answer to it rather than meet an expectation.
    recorded: GenerationRequest | None = None

    def request(self, default_max_new_tokens: int) -> GenerationRequest:
        if self.recorded is not None:
            return self.recorded
        return GenerationRequest.chat(self.prompt, self.max_new_tokens or default_max_new_tokens, system=self.system)


def _golden(data: Mapping[str, Any], where: str) -> list[GoldenCase]:
    cases = []
    for index, raw in enumerate(data["cases"]):
        expect = Expectation(**raw["expect"]) if "expect" in raw else None
        problem = expect.problem() if expect is not None else None
        if problem:
            raise ConfigError(f"invalid golden case file {where}:\n  cases/{index}/expect ({raw['id']}): {problem}")
        cases.append(GoldenCase(**common_fields(raw), expect=expect))
    return cases


GOLDEN = CaseKind("golden", GOLDEN_FILE_SCHEMA, _golden)
