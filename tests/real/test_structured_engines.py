"""Structured-output and tool-call gates on the embedded SmolLM2 demo with real quantized
candidates (slow tier): int8 weights pass; a 2-bit KV cache breaks structure and loses tool
calls, and the report names how. (Text after the JSON, which int4 weights add, is a stop-behaviour
finding the fast tier checks on hand-made answers.)"""

from pathlib import Path

import pytest

import tests.engine_stack  # noqa: E402,F401  (first: one copy of torch/quanto for pytester runs)
from tests import reports
from tests.helpers import demo_config

pytestmark = pytest.mark.slow(minutes=6)


def test_int8_passes_and_kv2_breaks_structure_and_tool_calls(pytester: pytest.Pytester, repo_snapshots: str) -> None:
    pytester.makefile(".toml", quantgate=demo_config(snapshot_dir=repo_snapshots))
    result = pytester.runpytest_inprocess(
        "--quant-candidate=hf-int8,hf-kv2", "--quantgate-suite=only", "-m", "structured_output or tool_call",
        "-k", "not (guided and hf-int8)",  # int8 under constrained decoding: see below
        "--quantgate-report=r.json", "-p", "no:cacheprovider",
    )
    result.stdout.fnmatch_lines(["*quantgate verdicts*", "hf-int8*structured_output ?free?*PASS*", "hf-int8*tool_call*PASS*"])
    report = reports.entries(pytester.path / "r.json")

    for gate in ("structured_output[free]", "tool_call"):
        int8 = report[("hf-int8", gate)]
        assert int8["baseline_source"] == "record" and int8["engines"]["baseline_loaded"] is False
        assert int8["metrics"]["flips_pass_to_fail"] <= 1
        assert int8["verdict"] == "pass", (gate, int8["reason"])
    # Not run here: int8 under constrained decoding. It changes one value of the built-in 30
    # (optional-phone's email), UNDERPOWERED; with the 140 generated cases as well it fails (23
    # vs 0 values changed in 170: README "The demo's verdicts"), so it has no pass to prove.
    # served-fp32 passes guided through vLLM (the vLLM tier) and kv2 fails it below.
    assert ("hf-int8", "structured_output[guided]") not in report

    # 2-bit KV cache: JSON breaks, even under constrained decoding, and tool calls are lost.
    kv2 = report[("hf-kv2", "structured_output[free]")]
    assert kv2["verdict"] == "fail" and "conforming:" in kv2["reason"]
    assert kv2["metrics"]["candidate_strict_json_rate"] < kv2["metrics"]["baseline_strict_json_rate"]
    assert any(p.startswith(("no JSON", "schema:", "JSON wrapped")) for p in reports.problems(kv2))
    assert kv2["metrics"]["stop_behaviour"]["candidate_length_cap_hits"] > kv2["metrics"]["stop_behaviour"]["baseline_length_cap_hits"]
    kv2_guided = report[("hf-kv2", "structured_output[guided]")]
    assert kv2_guided["verdict"] == "fail"
    assert any("did not stop" in p or "no JSON" in p for p in reports.problems(kv2_guided))
    kv2_tools = report[("hf-kv2", "tool_call")]
    assert kv2_tools["verdict"] == "fail"
    differences = {c["details"]["difference_from_baseline"] for c in kv2_tools["cases"] if not c["passed"]}
    assert any(d and (d.startswith("no call") or d == "unparsable call") for d in differences), differences


USER_TEST = '''
import pytest
from pytest_quantgate.gates.tool_call.cases import ExpectedCall, ToolCase, ToolDemonstration
from pytest_quantgate.gates.structured_output.cases import StructuredCase

POINT = {"type": "object", "properties": {"x": {"type": "integer"}, "y": {"type": "integer"}}, "required": ["x", "y"]}
WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Get the current weather for a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
SHOWN = ToolDemonstration("What's the weather in Rome?", (ExpectedCall("get_weather", {"city": "Rome"}),))


@pytest.mark.structured_output
def test_point_json(quantgate):
    case = StructuredCase("point-5-7", 'Give the point with x 5 and y 7 as a JSON object with keys "x" and "y". Only the JSON object.', POINT)
    verdict = quantgate.structured_output([case])
    assert verdict.passed, verdict.explain()


@pytest.mark.tool_call
def test_weather_call(quantgate):
    case = ToolCase("weather-oslo", "What's the weather in Oslo?", (WEATHER,), (ExpectedCall("get_weather", {"city": "Oslo"}),),
                    demonstration=SHOWN)
    verdict = quantgate.tool_call([case])
    assert verdict.passed, verdict.explain()
'''


def test_regression_cases_as_tests_record_once_and_hold_every_case(pytester: pytest.Pytester, tmp_path: Path) -> None:
    records = tmp_path / "records"
    pytester.makefile(".toml", quantgate=demo_config(snapshot_dir=str(records)))
    pytester.makepyfile(test_user=USER_TEST)
    first = pytester.runpytest_inprocess(
        "--quant-candidate=hf-int8", "--quantgate-suite=no", "--snapshot-update", "--quantgate-report=r.json", "-p", "no:cacheprovider"
    )
    first.assert_outcomes(passed=2)
    assert sorted(p.name for p in records.iterdir()) == ["test_point_json--baseline.json", "test_weather_call--baseline.json"]
    report = reports.entries(pytester.path / "r.json")
    point = report[("hf-int8", "structured_output[free]")]
    assert point["thresholds"]["decision"] == "every_case"  # a test's own cases: none may be lost
    assert point["cases"][0]["details"]["baseline_ok"] is True and point["verdict"] == "pass"
    weather = report[("hf-int8", "tool_call")]
    assert weather["cases"][0]["details"]["baseline_calls"] == [{"name": "get_weather", "arguments": {"city": "Oslo"}}]

    kv2 = pytester.runpytest_inprocess("--quant-candidate=hf-kv2", "--quantgate-suite=no", "-p", "no:cacheprovider")
    kv2.assert_outcomes(failed=2)
    kv2.stdout.fnmatch_lines(["*structured_output gate: FAIL*no case may be lost*", "*- point-5-7: *"])
    kv2.stdout.fnmatch_lines(["*tool_call gate: FAIL*no case may be lost*", "*- weather-oslo: *"])
