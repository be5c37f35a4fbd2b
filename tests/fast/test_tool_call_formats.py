"""How tool calls come back (fast tier): the call styles real models and servers answer in,
the style a chat template tells, the committed demo records read as before, and native
`tool_calls` from an OpenAI-compatible endpoint (streamed deltas and whole messages, over
HTTP from a loopback fake) reaching the gate as `<tool_call>` text. The proof against a real
server that emits tool_calls is tests/real/test_native_tool_calls_engines.py."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from pytest_quantgate import models
from pytest_quantgate.config import CandidateSpec, Endpoint
from pytest_quantgate.engines import load_engine, openai
from pytest_quantgate.engines.base import GenerationRequest
from pytest_quantgate.gates.tool_call import formats
from pytest_quantgate.gates.tool_call.formats import STYLES, parse_calls
from tests.fake_openai import Behaviour, FakeServer
from tests.helpers import DEMO, REPO

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
PARIS = [("get_weather", {"city": "Paris"})]


def calls(text: str, style: str = "hermes") -> list[tuple[str, dict[str, Any]]]:
    parsed = parse_calls(text, style)
    assert parsed.problem is None, parsed.problem
    return [(c.name, dict(c.arguments)) for c in parsed.calls]


# -- the styles ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("style", "text", "expected"),
    [
        # hermes: SmolLM2's list, Hermes/Qwen's object per tag, `parameters`, OpenAI's wrapper
        ("hermes", '<tool_call>[{"name": "get_weather", "arguments": {"city": "Paris"}}]</tool_call>', PARIS),
        ("hermes", '<tool_call>\n{"name": "get_weather", "parameters": {"city": "Paris"}}\n</tool_call>', PARIS),
        ("hermes", '<tool_call>{"type": "function", "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Paris\\"}"}}</tool_call>', PARIS),
        # llama3_json: bare, after <|python_tag|>, several separated by ';', a trailing end token
        ("llama3_json", '{"name": "get_weather", "parameters": {"city": "Paris"}}', PARIS),
        ("llama3_json", '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}<|eom_id|>', PARIS),
        (
            "llama3_json",
            '{"name": "get_weather", "parameters": {"city": "Paris"}}; {"name": "get_weather", "parameters": {"city": "Rome; Italy"}}',
            PARIS + [("get_weather", {"city": "Rome; Italy"})],
        ),
        ("llama3_json", '<|python_tag|>brave_search.call(query="weather")', [("brave_search.call", {"query": "weather"})]),
        # pythonic: a list of keyword calls, literals only (JSON's true/false/null too), dotted names
        ("pythonic", '[get_weather(city="Paris")]', PARIS),
        ("pythonic", 'get_weather(city="Paris")', PARIS),
        (
            "pythonic",
            "[get_weather(city='Paris'), spotify.play(artist=\"A\", n=-2, ok=true, tags=('x',), o={'k': None})]",
            PARIS + [("spotify.play", {"artist": "A", "n": -2, "ok": True, "tags": ["x"], "o": {"k": None}})],
        ),
        ("pythonic", '<|python_start|>[get_weather(city="Paris")]<|python_end|>', PARIS),
        ("llama3_json", '<|python_start|>{"name": "get_weather", "parameters": {"city": "Paris"}}<|python_end|>', PARIS),
        # mistral: [TOOL_CALLS] and a JSON list, the newer name[ARGS]{...}, or the list alone
        ("mistral", '[TOOL_CALLS] [{"name": "get_weather", "arguments": {"city": "Paris"}, "id": "a1b2c3d4e"}]', PARIS),
        ("mistral", '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}', PARIS),
        ("mistral", '[TOOL_CALLS]get_weather[CALL_ID]a1b2c3d4e[ARGS]{"city": "Paris"}[TOOL_CALLS]f[ARGS]{}', PARIS + [("f", {})]),
        ("mistral", '[{"name": "get_weather", "arguments": {"city": "Paris"}}]', PARIS),
        # auto: whichever the answer starts with
        ("auto", '[get_weather(city="Paris")]', PARIS),
        ("auto", '{"name": "get_weather", "arguments": {"city": "Paris"}}', PARIS),
        ("auto", '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}]', PARIS),
        ("auto", '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>', PARIS),
    ],
)
def test_each_style_reads_its_calls(style: str, text: str, expected: list) -> None:
    assert calls(text, style) == expected
    assert parse_calls(text, style).tagged


@pytest.mark.parametrize(
    ("style", "text", "problem"),
    [
        ("hermes", '<tool_call>[{"name": "f"', "unterminated <tool_call>"),
        ("llama3_json", '{"name": "get_weather", "parameters": {"city": "Paris"}', "a JSON call is invalid: Expecting"),
        ("llama3_json", '{"name": "get_weather", "parameters": "{city: Paris}"}', "arguments of get_weather are not JSON"),
        ("llama3_json", "<|python_tag|>search the web", "<|python_tag|> is followed by neither a JSON call nor a Python call"),
        ("pythonic", '[get_weather(city="Paris"', "the Python call list does not parse: '(' was never closed"),
        ("pythonic", "[get_weather(city=Paris)]", "argument 'city' of get_weather() is not a literal: Paris"),
        ("pythonic", '[get_weather("Paris")]', "get_weather() has positional arguments"),
        ("pythonic", "[get_weather(**where)]", "get_weather() unpacks **where"),
        ("pythonic", "[f(x=__import__('os').getcwd())]", "argument 'x' of f() is not a literal"),  # parsed, never run
        ("pythonic", "[f(x={1, 2})]", "argument 'x' of f() is not a literal"),  # a set is no JSON value
        ("pythonic", '[get_weather(city="Paris"), "Rome"]', "not a call: 'Rome'"),
        ("mistral", '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city"', "[TOOL_CALLS] is followed by invalid JSON"),
        ("mistral", '[TOOL_CALLS]get_weather {"city": "Paris"}', "[TOOL_CALLS] is followed by neither a JSON list nor name[ARGS]"),
        ("mistral", "[TOOL_CALLS]get_weather[ARGS]{city: Paris}", "arguments of get_weather are not JSON"),
        ("mistral", '[TOOL_CALLS][{"arguments": {}}]', "a call is not an object with a string 'name'"),
    ],
)
def test_an_unreadable_call_gets_one_reason(style: str, text: str, problem: str) -> None:
    parsed = parse_calls(text, style)
    assert parsed.tagged and parsed.problem is not None and parsed.problem.startswith(problem), parsed.problem
    assert parsed.error == parsed.problem


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize(
    "text",
    [
        "It is sunny in Paris.",
        '{"answer": 4, "unit": "celsius"}',  # a JSON answer is not a call: no name with arguments
        "[1, 2, 3]",
        "<think>I could call get_weather(city='Paris')</think>No call is needed.",
    ],
)
def test_prose_and_plain_json_are_no_call(style: str, text: str) -> None:
    parsed = parse_calls(text, style)
    assert (parsed.calls, parsed.problem, parsed.tagged) == ((), None, False)
    assert "<think>" not in parsed.text


@pytest.mark.parametrize("style", STYLES)
def test_calls_inside_thinking_are_not_calls(style: str) -> None:
    call = '<tool_call>{"name": "get_weather", "arguments": {"city": "Rome"}}</tool_call>'
    assert calls(f"<think>Maybe {call}? No: Paris.</think>\n" + call.replace("Rome", "Paris"), style) == PARIS
    # Qwen3's template opens the block in the generation prompt: the answer has only its end.
    assert calls(f"Maybe {call}.</think>{call.replace('Rome', 'Paris')}", style) == PARIS
    assert calls(f"<think>{call}", style) == []  # still thinking when the budget ran out


def test_unknown_style_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown tool-call style 'qwen'; allowed: hermes, llama3_json"):
        parse_calls("x", "qwen")


def test_a_style_reads_only_its_own_markup_besides_tags() -> None:
    pythonic = '[get_weather(city="Paris")]'
    assert parse_calls(pythonic).calls == ()  # hermes, the default: SmolLM2 answers in tags
    assert parse_calls(pythonic, "llama3_json").calls == ()
    assert parse_calls('{"name": "get_weather", "parameters": {"city": "Paris"}}', "pythonic").calls == ()
    assert parse_calls('get_weather(city="Paris")', "auto").calls == ()  # auto wants the bracketed list


# -- the style a chat template tells ---------------------------------------------------------
TEMPLATES = {
    # A template that does not read `tools`: SmolLM2's prompt, which asks for <tool_call>.
    "hermes-smollm2": "{% for message in messages %}{{ message['content'] }}{% endfor %}",
    "hermes": '{% if tools %}{% for tool in tools %}{{ tool | tojson }}{% endfor %}For each call return <tool_call>{"name": ...}</tool_call>{% endif %}',
    "mistral": '{% for m in messages %}{% if tools %}[AVAILABLE_TOOLS]{{ tools | tojson }}[/AVAILABLE_TOOLS]{% endif %}{% if m.tool_calls %}[TOOL_CALLS]{% endif %}{% endfor %}',
    "pythonic": "{% if tools %}you MUST put it in the format of [func_name1(params_name1=params_value1, params_name2=params_value2...), func_name2(params)]{{ tools | tojson }}{% endif %}",
    "llama3_json": (
        '{% if tools %}Given the following functions, please respond with a JSON for a function call with its proper arguments '
        'that best answers the given prompt.\n\nRespond in the format {"name": function name, "parameters": dictionary of argument '
        "name and its value}.{% for t in tools %}{{ t | tojson }}{% endfor %}{% endif %}{{ '<|python_tag|>' }}"
    ),
    "pythonic-llama4": "{% if tools %}{{ tools | tojson }}{% endif %}{% for m in messages %}{% if m.tool_calls %}<|python_start|>{% endif %}{% endfor %}",
    "auto": "{% if tools %}{{ tools | tojson }}{% endif %}{{ messages[0]['content'] }}",
}


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_the_chat_template_tells_the_style(name: str) -> None:
    assert formats.detect_style(TEMPLATES[name]) == name.split("-")[0]


def test_the_style_follows_the_prompt_format() -> None:
    assert formats.detect_style(None) == "hermes"
    assert formats.style_for("smollm2", TEMPLATES["pythonic"]) == "hermes"  # the system prompt asks for tags
    assert formats.style_for("template", TEMPLATES["pythonic"]) == "pythonic"


def test_tool_choice_goes_with_template_tools_only() -> None:
    from pytest_quantgate.gates.tool_call.cases import TOOL_CALLS

    case = TOOL_CALLS.builtin_cases()[0]
    templated = formats.request(case, "template", 32, tool_choice="auto")
    assert templated.tool_choice == "auto" and templated.record_key()["tool_choice"] == "auto"
    assert "tool_choice" not in formats.request(case, "template", 32).record_key()  # records made before stay valid
    assert formats.request(case, "smollm2", 32).tool_choice is None


# -- the committed demo records keep their meaning ----------------------------------------------
# What each recorded answer meant before styles existed: the calls' names, or "unparsable".
RECORDED = {
    "area-rectangle": "unparsable", "book-table-four": ["get_table_by_id"], "contact-nested": ["get_contact_name"],
    "contact-nested-bob": "unparsable", "currency-usd-eur": ["convert_to_euro"], "email-ann": ["send_email"],
    "no-call-capital": ["capital"], "no-call-greeting": [], "no-call-joke": [], "no-call-math": [], "no-call-poem": "unparsable",
    "no-call-sky": ["get_sky_color"], "no-call-thanks": [], "play-song": ["get_weather"], "search-python": "unparsable",
    "stock-apple": ["get_stock_price"], "stock-choice-msft": ["get_stock_price"], "stock-nvidia-choice": "unparsable",
    "stock-tesla": ["get_stock_price"], "timer-five": ["start_timer"], "timer-ten": ["set_timer"], "todo-high": ["pay_rent"],
    "translate-choice-german": "unparsable", "translate-french": "unparsable", "weather-berlin": ["get_weather"],
    "weather-cairo-choice": ["get_weather"], "weather-choice-rome": ["get_weather"], "weather-london": ["get_weather"],
    "weather-paris": ["get_weather"], "weather-sydney-choice": ["get_weather"], "weather-tokyo-fahrenheit": ["get_weather"],
}


@pytest.mark.parametrize("record", ["baseline", "vllm-fp32"])
def test_committed_demo_records_read_as_before_in_every_style(record: str) -> None:
    recorded = json.loads((REPO / f"golden_snapshots/test_tool_call--{record}.json").read_text())["cases"]
    assert set(RECORDED) <= set(recorded) and all(k.startswith("gen-") for k in set(recorded) - set(RECORDED))
    for case_id, entry in ((k, recorded[k]) for k in RECORDED):  # the built-in cases (generated ones may follow)
        text = entry["result"]["text"]
        for style in STYLES:
            parsed = parse_calls(text, style)
            meaning = "unparsable" if parsed.problem else [c.name for c in parsed.calls]
            assert meaning == RECORDED[case_id], (case_id, style, parsed)
            if meaning != "unparsable" and meaning:  # the arguments are the tag's JSON, as written
                body = json.loads(re.search(r"<tool_call>(.*)</tool_call>", text, re.DOTALL).group(1))  # type: ignore[union-attr]
                assert [dict(c.arguments) for c in parsed.calls] == [item["arguments"] for item in body]


# -- native tool calls from an endpoint --------------------------------------------------------
def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def call_delta(index: int | None, name: str | None = None, arguments: str = "", call_id: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"function": {"arguments": arguments} | ({"name": name} if name else {})}
    entry |= ({"index": index} if index is not None else {}) | ({"id": call_id, "type": "function"} if call_id else {})
    return {"tool_calls": [entry]}


# OpenAI and vLLM: the id and name once, then argument pieces; two parallel calls interleaved.
OPENAI_STREAM = [
    chunk({"role": "assistant", "content": None}),
    chunk(call_delta(0, "get_weather", "", "call_a")),
    chunk(call_delta(0, arguments='{"ci')),
    chunk(call_delta(1, "get_weather", '{"city": "Rome"}', "call_b")),
    chunk(call_delta(0, arguments='ty": "Paris"}')),
    chunk({}, "tool_calls"),
]
# llama-cpp-python: the name (and the legacy function_call) again with every piece.
LLAMACPP_STREAM = [
    chunk({"role": "assistant", "content": None, "function_call": None, "tool_calls": None}),
    *(
        chunk({"function_call": {"name": "get_weather", "arguments": piece}} | call_delta(0, "get_weather", piece, "call__0_x"))
        for piece in ('{"city"', ': "Par', 'is"}')
    ),
    chunk({"tool_calls": None}, "tool_calls"),
]
# A whole message: prose beside the calls, no indexes (a gateway's shape).
MESSAGE = {
    "role": "assistant",
    "content": "Let me check.",
    "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "c2", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome"}}},
    ],
}


class ToolCallServer(FakeServer):
    """tests/fake_openai.py's loopback server, its chat route answering `events` streamed or
    `message` whole; the request bodies are kept."""

    def __init__(
        self, events: list[dict[str, Any]], message: dict[str, Any] | None = None, finish: str = "tool_calls", owner: str = "fake"
    ) -> None:
        super().__init__(Behaviour())
        self.events, self.message, self.finish, self.owner = events, message, finish, owner
        self.server.config.app = Starlette(
            routes=[Route("/v1/chat/completions", self.chat, methods=["POST"]), Route("/v1/models", self.models)]
        )

    async def models(self, request: Request) -> Any:
        return JSONResponse({"data": [{"id": "fake", "owned_by": self.owner}]})

    async def chat(self, request: Request) -> Any:
        body = await request.json()
        self.behaviour.bodies.append(body)
        if not body.get("stream"):
            choice = {"index": 0, "message": self.message, "finish_reason": self.finish}
            return JSONResponse({"choices": [choice], "usage": {"prompt_tokens": 5, "completion_tokens": 9}})

        async def stream() -> AsyncIterator[str]:
            for event in self.events:
                yield f"data: {json.dumps(event)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")


def read(server: ToolCallServer, stream: bool = True) -> openai.StreamedAnswer:
    async def run() -> openai.StreamedAnswer:
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            read_answer = openai.stream_answer if stream else openai.fetch_answer
            return await read_answer(client, "chat/completions", {"model": "fake", "messages": []})

    return asyncio.run(run())


@pytest.mark.parametrize("events", [OPENAI_STREAM, LLAMACPP_STREAM], ids=["openai", "llama-cpp-python"])
def test_streamed_tool_call_deltas_are_gathered_by_index(events: list[dict[str, Any]]) -> None:
    with ToolCallServer(events) as server:
        answer = read(server)
    assert answer.text == "" and answer.finish_reason == "tool_calls"
    first = answer.tool_calls[0]
    assert (first["name"], json.loads(first["arguments"])) == ("get_weather", {"city": "Paris"})
    expected = PARIS + ([("get_weather", {"city": "Rome"})] if len(answer.tool_calls) > 1 else [])
    assert len(answer.tool_calls) == (2 if events is OPENAI_STREAM else 1)
    for style in STYLES:  # rendered as tags, which every style reads
        assert calls(answer.answer_text, style) == expected


def test_a_whole_message_keeps_its_text_beside_its_calls() -> None:
    with ToolCallServer([], MESSAGE) as server:
        answer = read(server, stream=False)
    assert answer.answer_text.startswith("Let me check.\n<tool_call>")
    parsed = parse_calls(answer.answer_text)
    assert [(c.name, dict(c.arguments)) for c in parsed.calls] == PARIS + [("get_weather", {"city": "Rome"})]
    assert parsed.text == "Let me check."


def test_arguments_cut_off_by_the_budget_are_reported_not_dropped() -> None:
    cut = [chunk(call_delta(0, "get_weather", '{"city": "Par', "c1")), chunk({}, "length")]
    with ToolCallServer(cut) as server:
        answer = read(server)
    parsed = parse_calls(answer.answer_text)
    assert parsed.problem == "arguments of get_weather are not JSON: '{\"city\": \"Par'"


def test_the_openai_engine_sends_tool_choice_and_answers_native_calls_as_text() -> None:
    cache = Path(os.environ.get("QUANTGATE_CACHE_DIR") or models.default_cache_dir())
    with ToolCallServer(OPENAI_STREAM, MESSAGE) as server:
        for stream in (True, False):
            endpoint = Endpoint(base_url=server.base_url, model="fake", stream=stream)
            engine = load_engine(CandidateSpec("served", "openai", DEMO, endpoint=endpoint), cache)
            try:
                named = GenerationRequest.chat("Weather in Paris?", 32, tools=(WEATHER,), tool_choice="get_weather")
                plain = GenerationRequest.chat("Weather in Paris?", 32, tools=(WEATHER,))
                answer, _ = engine.generate([named, plain], top_logprobs=1)
                rendered_ids = engine.tokenize(answer.text)
            finally:
                engine.close()
            assert calls(answer.text)[0] == PARIS[0]
            # The ids are the rendered text's (and the stop token), with no sampled log-probs.
            assert answer.finish_reason == "stop" and answer.logprobs == ()
            assert list(answer.token_ids[:-1]) == rendered_ids
        bodies = server.behaviour.bodies
    assert len(bodies) == 4 and all(body["tools"] == [WEATHER] for body in bodies)
    # Sent concurrently: the named requests carry the choice, the others none (the server's default).
    named_choice = {"type": "function", "function": {"name": "get_weather"}}
    assert sorted(json.dumps(body.get("tool_choice")) for body in bodies) == ["null"] * 2 + [json.dumps(named_choice)] * 2


@pytest.mark.parametrize("owner", ["fake", "vllm"])
def test_no_log_probs_asked_means_none_requested_but_from_vllm_the_sampled_ids(owner: str) -> None:
    """The canary compares text: asking top 0 keeps servers from computing log-probs at all
    (llama-cpp-python's sorts the vocabulary for each). vLLM's cost nothing, and they carry
    the sampled ids, which the answer text re-tokenized does not always give back."""
    cache = Path(os.environ.get("QUANTGATE_CACHE_DIR") or models.default_cache_dir())
    with ToolCallServer(OPENAI_STREAM, MESSAGE, owner=owner) as server:
        endpoint = Endpoint(base_url=server.base_url, model="fake")
        engine = load_engine(CandidateSpec("served", "openai", DEMO, endpoint=endpoint), cache)
        try:
            engine.generate([GenerationRequest.chat("Hi", 8)], top_logprobs=0)
            engine.generate([GenerationRequest.chat("Hi", 8)], top_logprobs=2)
        finally:
            engine.close()
        without, with_two = server.behaviour.bodies
    if owner == "vllm":
        assert without["logprobs"] is True and without["top_logprobs"] == 0
    else:
        assert "logprobs" not in without and "top_logprobs" not in without
    assert with_two["logprobs"] is True and with_two["top_logprobs"] == 2


def test_tool_choice_in_the_openai_spelling() -> None:
    assert openai.tool_choice_payload("auto") == "auto"
    assert openai.tool_choice_payload("get_weather") == {"type": "function", "function": {"name": "get_weather"}}
    named = {"type": "function", "function": {"name": "f"}}
    assert openai.tool_choice_payload(named) == named
