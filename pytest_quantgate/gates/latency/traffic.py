"""What the latency gate's load is made of: prompts (the golden prompts, or synthetic ones of
a given token length) and output lengths, drawn once from a seed so that baseline and
candidate get exactly the same requests, turned into OpenAI request bodies per server."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Sequence

from ...engines.base import ChatMessage
from ...engines.serving import ServedModel
from ..common.corpus import builtin_corpus
from ..golden.cases import GoldenCase
from .thresholds import LatencyThresholds

BANNED = -100.0  # logit_bias that keeps a token from being sampled (OpenAI's range is -100..100)


@dataclass(frozen=True)
class LoadRequest:
    messages: tuple[ChatMessage, ...]
    max_tokens: int


def _lengths(mean: int, ratio: float, count: int, rng: random.Random, low: int = 1) -> list[int]:
    """Uniform within +-ratio of `mean` (vllm bench serve's random dataset `range_ratio`)."""
    lo, hi = max(low, round(mean * (1 - ratio))), max(low, round(mean * (1 + ratio)))
    return [rng.randint(lo, hi) for _ in range(count)]


def build(limits: LatencyThresholds, tokenizer: Any, golden: Sequence[GoldenCase]) -> tuple[list[LoadRequest], list[LoadRequest]]:
    """(warm-up requests, measured requests); each run sends the measured ones in order.
    `golden` are the golden cases whose prompts make the "golden" dataset."""
    count = limits.warmup_requests + limits.num_requests
    rng = random.Random(limits.seed)
    outputs = _lengths(limits.output_len, limits.range_ratio, count, rng, low=2)
    if limits.dataset == "golden":
        chats = [golden[i % len(golden)].request(1).messages for i in range(count)]
    else:
        ids = tokenizer.encode(builtin_corpus().text, add_special_tokens=False)
        chats = []
        for length in _lengths(limits.input_len, limits.range_ratio, count, rng):
            length = min(length, len(ids))
            start = rng.randrange(0, len(ids) - length + 1)
            chats.append((ChatMessage("user", tokenizer.decode(ids[start : start + length])),))
    requests = [LoadRequest(tuple(chat), n) for chat, n in zip(chats, outputs)]
    return requests[: limits.warmup_requests], requests[limits.warmup_requests :]


def payload(served: ServedModel, request: LoadRequest, tokenizer: Any, fixed_output_len: bool) -> dict[str, Any]:
    """A streamed, greedy request body. With a fixed output length every special token is
    banned through `logit_bias` (any OpenAI server honours it; `ignore_eos` is vLLM's own),
    so both models write the same number of tokens whatever their stop behaviour."""
    body: dict[str, Any] = {
        "model": served.served_model,
        "max_tokens": request.max_tokens,
        "temperature": 0.0,
        "stream_options": {"include_usage": True},
    }
    chat = [{"role": m.role, "content": m.content} for m in request.messages]
    if served.endpoint.api == "completions":
        body["prompt"] = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    else:
        body["messages"] = chat
    if fixed_output_len:
        body["logit_bias"] = {str(i): BANNED for i in sorted(set(tokenizer.all_special_ids))}
        body["ignore_eos"] = True
    return body


def api_path(served: ServedModel) -> str:
    return "completions" if served.endpoint.api == "completions" else "chat/completions"


def payloads(served: ServedModel, requests: Sequence[LoadRequest], tokenizer: Any, fixed_output_len: bool) -> list[dict[str, Any]]:
    return [payload(served, r, tokenizer, fixed_output_len) for r in requests]
