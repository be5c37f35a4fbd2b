"""Canary plumbing (fast tier): recorded traffic files, sampling, the gate's decision on
hand-made answers. The proof against two real loopback servers is in test_canary_engines.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_quantgate.gates.canary.thresholds import CanaryThresholds

from pytest_quantgate.config import ConfigError
from pytest_quantgate.gates.canary import decision as canary
from pytest_quantgate.gates.common import traffic as recorded_traffic

from tests.helpers import gen

SCHEMA = {"type": "object", "required": ["city"], "properties": {"city": {"type": "string"}}}


def write(path: Path, bodies: list) -> Path:
    path.write_text("".join((b if isinstance(b, str) else json.dumps(b)) + "\n" for b in bodies))
    return path


def test_recorded_requests_keep_what_shapes_the_answer(tmp_path: Path) -> None:
    logged = {"model": "prod", "stream": True, "temperature": 0.7, "max_tokens": 40,
              "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Capital of Peru?"}],
              "response_format": {"type": "json_schema", "json_schema": {"name": "a", "schema": SCHEMA}}}
    path = write(tmp_path / "t.jsonl", [logged, "", {"messages": [{"role": "user", "content": "Hi"}]}])
    first, second = recorded_traffic.load([path], max_new_tokens=64)
    assert first.id == "t.jsonl:1" and second.id == "t.jsonl:3"
    assert [m.role for m in first.request.messages] == ["system", "user"] and first.request.max_new_tokens == 40
    assert first.schema == SCHEMA and second.schema is None and second.request.max_new_tokens == 64


def test_recorded_tool_requests_keep_their_tool_choice(tmp_path: Path) -> None:
    tool = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}
    named = {"type": "function", "function": {"name": "get_time"}}
    ask = [{"role": "user", "content": "Time?"}]
    path = write(tmp_path / "t.jsonl", [
        {"messages": ask, "tools": [tool], "tool_choice": "required"},
        {"messages": ask, "tools": [tool], "tool_choice": named},
        {"messages": ask, "tool_choice": "auto"},  # no tools: the API ignores it, so does the replay
    ])
    required, by_name, no_tools = (r.request for r in recorded_traffic.load([path], 64))
    assert required.tool_choice == "required" and by_name.tool_choice == named and no_tools.tool_choice is None
    assert required.record_key()["tool_choice"] == "required" and "tool_choice" not in no_tools.record_key()
    with pytest.raises(ConfigError, match="line 1: tool_choice"):
        recorded_traffic.load([write(tmp_path / "bad.jsonl", [{"messages": ask, "tools": [tool], "tool_choice": "always"}])], 64)


def test_bad_traffic_lines_say_where_and_what(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="line 2: not JSON"):
        recorded_traffic.load([write(tmp_path / "a.jsonl", [{"messages": [{"role": "user", "content": "x"}]}, "{oops"])], 64)
    with pytest.raises(ConfigError, match="line 1: messages/0/role: 'robot' is not one of"):
        recorded_traffic.load([write(tmp_path / "b.jsonl", [{"messages": [{"role": "robot", "content": "x"}]}])], 64)
    with pytest.raises(ConfigError, match="line 1: \\(top level\\): 'messages' is a required property"):
        recorded_traffic.load([write(tmp_path / "c.jsonl", [{"prompt": "x"}])], 64)
    with pytest.raises(ConfigError, match="does not exist; fix gates.canary.traffic"):
        recorded_traffic.load([tmp_path / "missing.jsonl"], 64)


def test_a_sample_is_reproducible_and_in_file_order(tmp_path: Path) -> None:
    path = write(tmp_path / "t.jsonl", [{"messages": [{"role": "user", "content": f"q{i}"}]} for i in range(50)])
    requests = recorded_traffic.load([path], 64)
    a, b = recorded_traffic.sample(requests, 10, 3), recorded_traffic.sample(requests, 10, 3)
    assert a == b and len(a) == 10 and [r.id for r in a] == sorted((r.id for r in a), key=lambda i: int(i.split(":")[1]))
    assert recorded_traffic.sample(requests, 80, 0) == requests


def requests(tmp_path: Path, n: int, schema: bool = False) -> list[recorded_traffic.RecordedRequest]:
    body = {"messages": [{"role": "user", "content": "q"}]}
    if schema:
        body["response_format"] = {"type": "json_schema", "json_schema": {"name": "a", "schema": SCHEMA}}
    return recorded_traffic.load([write(tmp_path / "r.jsonl", [body] * n)], 32)


def test_a_canary_that_serves_like_the_baseline_passes(tmp_path: Path) -> None:
    cases = requests(tmp_path, 40)
    baseline = [gen("The capital of Peru is Lima.")] * 40
    close = [gen("The capital of Peru is Lima, a coastal city.")] * 38 + [gen("Lima.")] * 2
    verdict = canary.evaluate(cases, baseline, close, CanaryThresholds())
    assert verdict.verdict == "pass", verdict.reason
    assert verdict.metrics["agreement_rate"] == 0.95 and verdict.metrics["exact_match_rate"] == 0.0
    # "Lima." alone drops "Peru": counted against the canary, within the margin here.
    assert verdict.failed_cases[0].details["dropped_facts"] == ["Peru"]


def test_a_canary_that_changes_a_fact_in_a_similar_sentence_fails(tmp_path: Path) -> None:
    cases = requests(tmp_path, 30)
    baseline = [gen("The capital of Spain is Madrid.")] * 30
    wrong = [gen("The capital of Spain is Barcelona.")] * 30
    verdict = canary.evaluate(cases, baseline, wrong, CanaryThresholds())
    assert verdict.verdict == "fail" and verdict.metrics["mean_similarity"] > 0.7
    assert verdict.failed_cases[0].problems == ("drops what the baseline states: 'Madrid'",)


def test_a_canary_that_answers_otherwise_or_runs_on_fails(tmp_path: Path) -> None:
    cases = requests(tmp_path, 40)
    baseline = [gen("The capital of Peru is Lima.")] * 40
    other = [gen("Bananas grow in tropical climates all year.")] * 20 + [gen("The capital of Peru is Lima.")] * 20
    verdict = canary.evaluate(cases, baseline, other, CanaryThresholds())
    assert verdict.verdict == "fail" and verdict.metrics["agreement_rate"] == 0.5
    assert "answers differently (similarity" in verdict.failed_cases[0].problems[0]
    running = [gen("Lima " * 30, finish="length")] * 40
    cut = canary.evaluate(cases, baseline, running, CanaryThresholds())
    assert cut.verdict == "fail" and any("hit the length cap" in p for p in cut.failed_cases[0].problems)


def test_schema_requests_must_stay_valid_json(tmp_path: Path) -> None:
    cases = requests(tmp_path, 30, schema=True)
    baseline = [gen('{"city": "Lima"}')] * 30
    wrapped = [gen('{"city": "Lima"} is the answer')] * 30
    verdict = canary.evaluate(cases, baseline, wrapped, CanaryThresholds(min_similarity=0.0))
    assert verdict.verdict == "fail" and "no clean JSON answer" in verdict.failed_cases[0].problems[0]
    assert canary.evaluate(cases, baseline, baseline, CanaryThresholds()).verdict == "pass"
