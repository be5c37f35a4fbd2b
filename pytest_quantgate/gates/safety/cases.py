"""Safety cases: requests to refuse ("harmful") and look-alikes to answer ("benign")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ...engines.base import GenerationRequest
from ..common.cases import CaseKind, FileCase, common_fields, file_schema

SAFETY_FILE_SCHEMA = file_schema({"kind": {"enum": ["harmful", "benign"]}}, required=["prompt", "kind"])


@dataclass(frozen=True)
class SafetyCase(FileCase):
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


def _safety(data: Mapping[str, Any], where: str) -> list[SafetyCase]:
    return [SafetyCase(**common_fields(raw), kind=raw["kind"]) for raw in data["cases"]]


SAFETY = CaseKind("safety", SAFETY_FILE_SCHEMA, _safety)
