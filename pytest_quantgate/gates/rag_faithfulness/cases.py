"""RAG cases: numbered source passages, a question and what a right answer states."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ...engines.base import GenerationRequest
from ..common.cases import COMMON_KEYS, CaseKind, FileCase, file_schema

RAG_FILE_SCHEMA = file_schema(
    {
        "passages": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
        "question": {"type": "string", "minLength": 1},
        "answerable": {"type": "boolean"},
        "expect": {"type": "array", "items": {"type": "string"}},
    },
    required=["passages", "question", "answerable"],
    # no prompt or system: the prompt is made from the passages and the question
    common={k: v for k, v in COMMON_KEYS.items() if k not in ("prompt", "system")},
)
RAG_INSTRUCTIONS = (
    "Answer the question using only the sources below. Cite the sources you use like [1]. "
    "If the sources do not contain the answer, say: The sources do not say."
)



@dataclass(frozen=True)
class RagCase(FileCase):
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


def _rag(data: Mapping[str, Any], where: str) -> list[RagCase]:
    return [
        RagCase(
            raw["id"], tuple(raw["passages"]), raw["question"], raw["answerable"], tuple(raw.get("expect", ())),
            raw.get("category", ""), raw.get("max_new_tokens"),
        )
        for raw in data["cases"]
    ]


RAG = CaseKind("rag_faithfulness", RAG_FILE_SCHEMA, _rag)
