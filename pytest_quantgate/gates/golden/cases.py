"""Golden prompts: a question, optionally with an expectation checked by code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ...engines.base import GenerationRequest
from ..common import expectations
from ..common.cases import CaseKind, FileCase, common_fields, file_schema
from ..common.expectations import Expectation

GOLDEN_FILE_SCHEMA = file_schema({"expect": expectations.EXPECT_SCHEMA}, required=["prompt"])


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
    return [
        GoldenCase(**common_fields(raw), expect=expectations.read(raw, "golden", where, index) if "expect" in raw else None)
        for index, raw in enumerate(data["cases"])
    ]


GOLDEN = CaseKind("golden", GOLDEN_FILE_SCHEMA, _golden)
