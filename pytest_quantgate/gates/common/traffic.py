"""Recorded traffic: JSONL files of OpenAI chat request bodies (what a gateway logs), read as
generation requests (the canary gate replays them live, golden records the baseline's answers), and a sample of them drawn reproducibly."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import jsonschema

from ...config import ConfigError
from ...engines.base import ChatMessage, GenerationRequest

# Real logs carry more (model, temperature, stream, user ...): only what shapes the answer is read.
REQUEST_SCHEMA = {
    "type": "object",
    "required": ["messages"],
    "properties": {
        "messages": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["role", "content"],
                "properties": {"role": {"enum": ["system", "user", "assistant"]}, "content": {"type": "string"}},
            },
        },
        "max_tokens": {"type": "integer", "minimum": 1},
        "max_completion_tokens": {"type": "integer", "minimum": 1},
        "tools": {"type": "array", "items": {"type": "object"}},
        "tool_choice": {
            "anyOf": [
                {"enum": ["auto", "none", "required"]},
                {"type": "object", "required": ["type", "function"], "properties": {"function": {"type": "object", "required": ["name"]}}},
            ]
        },
        "response_format": {"type": "object"},
    },
}


@dataclass(frozen=True)
class RecordedRequest:
    id: str  # file name and line number
    request: GenerationRequest

    @property
    def schema(self) -> Mapping[str, Any] | None:
        return json.loads(self.request.json_schema) if self.request.json_schema else None


def _request(body: Mapping[str, Any], max_new_tokens: int) -> GenerationRequest:
    schema = None
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        schema = json.dumps(response_format.get("json_schema", {}).get("schema", {}), sort_keys=True)
    return GenerationRequest(
        messages=tuple(ChatMessage(m["role"], m["content"]) for m in body["messages"]),
        max_new_tokens=body.get("max_completion_tokens") or body.get("max_tokens") or max_new_tokens,
        tools=tuple(body.get("tools", ())),
        json_schema=schema,
        tool_choice=body.get("tool_choice") if body.get("tools") else None,  # the API ignores it without tools
    )


def load(paths: Iterable[Path], max_new_tokens: int, setting: str = "gates.canary.traffic") -> list[RecordedRequest]:
    """Every request of the files; `setting` (the config key naming them) is what an error says to fix."""
    validator = jsonschema.Draft202012Validator(REQUEST_SCHEMA)
    requests = []
    for path in paths:
        if not path.is_file():
            raise ConfigError(f"recorded traffic file {path} does not exist; fix {setting}")
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                body = json.loads(line)
            except ValueError as exc:
                raise ConfigError(f"recorded traffic {path} line {number}: not JSON ({exc}); one request body per line") from exc
            error = next(iter(sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path)))), None)
            if error is not None:
                at = "/".join(map(str, error.absolute_path)) or "(top level)"
                raise ConfigError(f"recorded traffic {path} line {number}: {at}: {error.message} (an OpenAI chat request body)")
            requests.append(RecordedRequest(where, _request(body, max_new_tokens)))
    return requests


def sample(requests: Sequence[RecordedRequest], size: int, seed: int) -> list[RecordedRequest]:
    """`size` requests drawn without replacement (all of them if fewer), in file order."""
    if size >= len(requests):
        return list(requests)
    chosen = sorted(random.Random(seed).sample(range(len(requests)), size))
    return [requests[i] for i in chosen]
