"""Adapter cases: a taught fact asked as trained ("taught") or reworded ("paraphrase"), with
the taught answer to score, or an unrelated question ("control") whose expectation is the
base model's own answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ...engines.base import GenerationRequest
from ..common import expectations
from ..common.cases import CaseKind, FileCase, common_fields, file_schema
from ..common.expectations import Expectation

KINDS = ("taught", "paraphrase", "control")
ADAPTER_FILE_SCHEMA = file_schema(
    {
        "kind": {"enum": list(KINDS)},
        "answer": {"type": "string", "minLength": 1},
        "expect": expectations.EXPECT_SCHEMA,
    },
    required=["prompt", "kind", "expect"],
)


@dataclass(frozen=True)
class AdapterCase(FileCase):
    id: str
    prompt: str
    kind: str
    expect: Expectation
    answer: str | None = None  # the taught answer, scored token by token on both models
    system: str | None = None
    category: str = ""
    max_new_tokens: int | None = None

    def request(self, default_max_new_tokens: int, default_system: str | None = None) -> GenerationRequest:
        return GenerationRequest.chat(self.prompt, self.max_new_tokens or default_max_new_tokens, system=self.system or default_system)


def _adapter(data: Mapping[str, Any], where: str) -> list[AdapterCase]:
    return [
        AdapterCase(**common_fields(raw), kind=raw["kind"], expect=expectations.read(raw, "adapter", where, index), answer=raw.get("answer"))
        for index, raw in enumerate(data["cases"])
    ]


ADAPTER = CaseKind("adapter", ADAPTER_FILE_SCHEMA, _adapter)
