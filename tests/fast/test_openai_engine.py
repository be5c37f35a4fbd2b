"""The openai engine's pure parts: reading both APIs' answers, token ids, keys (fast tier).
Its end-to-end proof runs against live servers in the slow tier."""

import asyncio
import json

import httpx
import pytest

from pytest_quantgate.config import CandidateSpec, ConfigError, Endpoint
from pytest_quantgate.engines import openai


def test_completions_logprobs_take_the_chat_shape() -> None:
    choice = {
        "text": " Paris",
        "finish_reason": "stop",
        "logprobs": {"tokens": [" Paris"], "token_logprobs": [-0.1], "top_logprobs": [{" Paris": -0.1, " Lyon": -2.5}]},
    }
    assert openai._choice_text(choice) == " Paris"
    (entry,) = openai._choice_logprobs(choice)
    assert entry == {"token": " Paris", "logprob": -0.1, "top_logprobs": [{"token": " Paris", "logprob": -0.1}, {"token": " Lyon", "logprob": -2.5}]}


def test_chat_chunks_and_messages_read_alike() -> None:
    delta = {"delta": {"content": "Par"}, "logprobs": {"content": [{"token": "token_id:42", "logprob": -0.2, "top_logprobs": []}]}}
    message = {"message": {"content": "Paris."}, "finish_reason": "stop"}
    answer = openai.StreamedAnswer()
    openai._read_choice(answer, delta)
    openai._read_choice(answer, {"delta": {}, "finish_reason": "length"})
    assert (answer.text, answer.finish_reason) == ("Par", "length")
    assert answer.logprobs[0]["token"] == "token_id:42"
    assert openai._choice_text(message) == "Paris."


def test_stream_reader_on_server_sent_events() -> None:
    events = [
        {"choices": [{"delta": {"role": "assistant"}}]},  # an event: vllm bench serve's TTFT starts here
        {"choices": [{"delta": {"content": "The"}}]},
        {"choices": [{"delta": {"content": " end"}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 7}},  # usage only: not a token event
    ]
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"

    def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content)["stream"] is True
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    async def run() -> openai.StreamedAnswer:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://test/v1/") as client:
            return await openai.stream_answer(client, "chat/completions", {"model": "m"})

    answer = asyncio.run(run())
    assert (answer.text, answer.finish_reason, answer.usage) == ("The end", "stop", {"prompt_tokens": 7})
    assert answer.ttft_s >= 0 and len(answer.event_s) == 3


def test_api_key_comes_from_the_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    endpoint = Endpoint(base_url="http://127.0.0.1:1/v1", api_key_env="QG_KEY", headers={"X-Route": "canary"})
    monkeypatch.delenv("QG_KEY", raising=False)
    with pytest.raises(ConfigError, match="QG_KEY, which is not set"):
        openai.headers_for(endpoint)
    monkeypatch.setenv("QG_KEY", "s3cret")
    assert openai.headers_for(endpoint) == {"X-Route": "canary", "Authorization": "Bearer s3cret"}


def test_where_an_endpoint_lives_is_not_part_of_the_fingerprint() -> None:
    spec = CandidateSpec("c", "openai", "m", endpoint=Endpoint(base_url="http://a/v1", model="served", api_key_env="K"))
    moved = CandidateSpec("c", "openai", "m", endpoint=Endpoint(base_url="http://b/v1", model="served"))
    assert spec.flags() == moved.flags() and "http" not in json.dumps(spec.flags())
    assert "endpoint" not in CandidateSpec("c", "hf", "m").flags()  # hf records stay valid
