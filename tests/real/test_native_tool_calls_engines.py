"""Native tool calls from a real server (slow tier): llama-cpp-python's server, with its
`chatml-function-calling` chat format, serves the demo's Q8_0 GGUF and answers OpenAI
`message.tool_calls` (content null), streamed as deltas and whole. The openai engine passes
`tool_choice` with the tools and renders the calls as `<tool_call>` text, which the tool-call
gate's parser reads in every style.

What that chat format does (llama-cpp-python 0.3.x): a named `tool_choice` constrains the
arguments to the tool's JSON Schema, streamed or not; "auto" lets the model choose between a
message and calls, but only without streaming (streamed, a chosen call is a server error);
no `tool_choice` renders no tools at all."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

import pytest

import tests.engine_stack  # noqa: F401  (first: one copy of torch/quanto for pytester runs)
from pytest_quantgate import models
from pytest_quantgate.config import CandidateSpec, Endpoint
from pytest_quantgate.engines import Engine, load_engine
from pytest_quantgate.engines.base import Generation
from pytest_quantgate.gates.tool_call import formats
from pytest_quantgate.gates.tool_call.cases import TOOL_CALLS
from pytest_quantgate.gates.tool_call.formats import STYLES, parse_calls
from tests.helpers import DEMO

pytest.importorskip("llama_cpp")
pytestmark = pytest.mark.slow(minutes=3)

MODEL = f"{DEMO}@gguf-q8_0"
CASE = next(c for c in TOOL_CALLS.builtin_cases() if c.id == "weather-paris")


@pytest.fixture(scope="module")
def engines() -> Iterator[tuple[Engine, Engine]]:
    """The engine that starts the server (streaming), and one more on its endpoint that
    does not stream."""
    cache = Path(os.environ.get("QUANTGATE_CACHE_DIR") or models.default_cache_dir())
    spec = CandidateSpec(
        "fc-q8", "openai", MODEL, server="llamacpp", server_args=("--chat_format", "chatml-function-calling")
    )
    served = load_engine(spec, cache)
    try:
        endpoint = Endpoint(base_url=served.served.base_url, model="fc-q8", stream=False)  # type: ignore[attr-defined]
        whole = load_engine(CandidateSpec("fc-q8-whole", "openai", MODEL, endpoint=endpoint), cache)
        try:
            yield served, whole
        finally:
            whole.close()
    finally:
        served.close()


def raw_message(engine: Engine, tool_choice: str) -> dict:
    """What the server itself answers (no engine in between): its tool_calls, not text."""
    import httpx

    payload = engine._payload(formats.request(CASE, "template", 96, tool_choice=tool_choice), 1)  # type: ignore[attr-defined]
    response = httpx.post(engine.served.base_url + "chat/completions", json={**payload, "stream": False}, timeout=120)  # type: ignore[attr-defined]
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    print(f"tool_choice={tool_choice!r}: the server answered {json.dumps(choice)[:600]}")  # shown with -s
    return {"finish_reason": choice["finish_reason"], **choice["message"]}


def read_in_every_style(answer: Generation) -> list[tuple[str, dict]]:
    readings = {style: parse_calls(answer.text, style) for style in STYLES}
    for style, parsed in readings.items():
        assert parsed.problem is None, (style, parsed.problem, answer.text)
    calls = [[(c.name, dict(c.arguments)) for c in parsed.calls] for parsed in readings.values()]
    assert all(c == calls[0] for c in calls), calls
    return calls[0]


def test_the_server_answers_native_tool_calls_and_the_engine_renders_them_for_the_gate(engines) -> None:
    served, whole = engines
    message = raw_message(served, "get_weather")
    assert message["content"] is None and message["finish_reason"] == "tool_calls", message
    (native,) = message["tool_calls"]
    assert native["function"]["name"] == "get_weather"
    native_arguments = json.loads(native["function"]["arguments"])
    assert isinstance(native_arguments.get("city"), str)  # the grammar keeps to the tool's schema

    request = formats.request(CASE, "template", 96, tool_choice="get_weather")
    (streamed,) = served.generate([request], top_logprobs=1)
    (fetched,) = whole.generate([request], top_logprobs=1)
    for answer in (streamed, fetched):
        assert answer.text.startswith("<tool_call>") and answer.text.endswith("</tool_call>"), answer.text
        assert answer.finish_reason == "stop" and answer.token_ids
        assert read_in_every_style(answer) == [("get_weather", native_arguments)]
    print(f"rendered for the gate: {streamed.text}")
    assert streamed.text == fetched.text  # deltas gathered into what the whole message says


def test_auto_tool_choice_passes_through_and_reads_as_the_server_answered(engines) -> None:
    _, whole = engines
    message = raw_message(whole, "auto")
    (answer,) = whole.generate([formats.request(CASE, "template", 96, tool_choice="auto")], top_logprobs=1)
    if message.get("tool_calls"):  # the model chose to call
        expected = [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in message["tool_calls"]]
        assert read_in_every_style(answer) == expected
    else:  # it chose to answer: text, no call
        assert answer.text == message["content"] and parse_calls(answer.text).calls == ()


# The baseline's server and the same weights on a server of their own (a twin). (The tool-call
# gate's FAIL on broken candidates is shown on in-process engines in test_structured_engines.py.)
GATE_SERVERS = {
    "fc-f32": (f"{DEMO}@gguf-f32", ("--chat_format", "chatml-function-calling")),
    "fc-f32-twin": (f"{DEMO}@gguf-f32", ("--chat_format", "chatml-function-calling")),
}


@pytest.fixture(scope="module")
def gate_servers() -> Iterator[dict[str, str]]:
    """One llama.cpp server per route: their base URLs."""
    cache = Path(os.environ.get("QUANTGATE_CACHE_DIR") or models.default_cache_dir())
    started: list[Engine] = []
    try:
        for name, (model, args) in GATE_SERVERS.items():
            started.append(load_engine(CandidateSpec(name, "openai", model, server="llamacpp", server_args=args), cache))
        yield {engine.spec.name: engine.served.base_url for engine in started}  # type: ignore[attr-defined]
    finally:
        for engine in started:
            engine.close()


def test_the_tool_call_gate_decides_on_native_tool_calls_from_live_servers(pytester: pytest.Pytester, gate_servers: dict[str, str]) -> None:
    """The whole gate over native tool calls: tools and tool_choice = "auto" in the request
    (prompt_format "template"), the servers' message.tool_calls read by the openai engine, the
    baseline asked live. The same weights on their own server PASS with the same calls."""
    from tests import reports

    tables = "".join(
        f'[candidates.{name}]\nengine = "openai"\nmodel = "{GATE_SERVERS[name][0]}"\n'
        f'endpoint = {{ base_url = "{url}", model = "{name}", stream = false }}\n'
        + ('baseline = "fc-f32"\n' if name != "fc-f32" else "") + "\n"
        for name, url in gate_servers.items()
    )
    pytester.makefile(".toml", quantgate=f'baseline = "fc-f32"\n\n{tables}[gates.tool_call]\nprompt_format = "template"\ntool_choice = "auto"\n')
    result = pytester.runpytest_subprocess(
        "--quant-candidate=fc-f32-twin", "--quant-live-baseline", "--quantgate-suite=only", "-m", "tool_call",
        "--quantgate-report=r.json", "-p", "no:cacheprovider",
    )
    entries = reports.entries(pytester.path / "r.json")
    twin = entries[("fc-f32-twin", "tool_call")]
    print(twin["verdict"], twin["reason"], twin["metrics"]["by_category"])
    native = [c for c in twin["cases"] if c["details"]["baseline_text"].startswith("<tool_call>")]
    assert len(native) >= len(twin["cases"]) // 2, "most of the baseline's answers are the server's native calls"
    assert twin["verdict"] == "pass", twin["reason"]
    assert twin["metrics"]["same_calls_as_baseline"] == twin["metrics"]["cases"]
    result.stdout.fnmatch_lines(["*fc-f32-twin*tool_call*PASS*"])
