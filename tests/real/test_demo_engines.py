"""The golden gate on the embedded SmolLM2 demo with real quantized candidates (slow tier)."""

import json
import shutil
from pathlib import Path

import pytest

import tests.engine_stack  # noqa: E402,F401  (first: one copy of torch/quanto for pytester runs)
from tests import reports
from tests.helpers import demo_config

pytestmark = pytest.mark.slow


SUITE = ("--quantgate-suite=only", "-m", "golden", "-p", "no:cacheprovider")


def test_int8_passes_and_kv2_fails_without_loading_the_baseline(pytester: pytest.Pytester, repo_snapshots: str) -> None:
    pytester.makefile(".toml", quantgate=demo_config(snapshot_dir=repo_snapshots))
    result = pytester.runpytest_inprocess("--quant-candidate=hf-int8,hf-kv2", "--quantgate-report=r.json", *SUITE)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*quantgate verdicts*", "hf-int8*golden*PASS*", "hf-kv2*golden*FAIL*"])
    report = reports.read(pytester.path / "r.json")

    int8 = reports.suite_entry(report, "hf-int8", "golden")
    assert int8["verdict"] == "pass"
    assert int8["metrics"]["flips_pass_to_fail"] <= 1

    kv2 = reports.suite_entry(report, "hf-kv2", "golden")
    assert kv2["verdict"] == "fail"
    assert kv2["metrics"]["flips_pass_to_fail"] >= 14 and kv2["metrics"]["flips_fail_to_pass"] <= 1
    assert "exceeds the 10% margin" in kv2["reason"]
    flipped = {c["case_id"]: c for c in kv2["cases"] if c["details"].get("flip") == "pass->fail"}
    # 2-bit KV cache breaks the JSON answer (DESIGN.md): the report names the case and why.
    assert "json-person" in flipped
    assert any("held for the baseline, not the candidate" in p for p in flipped["json-person"]["problems"])
    assert kv2["metrics"]["candidate_expectation_rate"] < kv2["metrics"]["baseline_expectation_rate"]

    for entry in (int8, kv2):
        assert entry["baseline_source"] == "record"
        assert entry["engines"]["baseline_loaded"] is False
        assert "baseline" not in entry["engines"]["acquired_this_session"]


def test_missing_record_is_a_clear_error(pytester: pytest.Pytester, tmp_path: Path) -> None:
    empty = tmp_path / "records"
    empty.mkdir()
    pytester.makefile(".toml", quantgate=demo_config(snapshot_dir=str(empty)))
    result = pytester.runpytest_inprocess("--quant-candidate=hf-int8", "--quantgate-report=r.json", *SUITE)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*no baseline record test_golden--baseline.json for baseline 'baseline'*"
        "re-record it: pytest --quant-candidate=hf-int8 --quantgate-suite=only -m golden --snapshot-update*"
    ])
    entry = reports.suite_entry(pytester.path / "r.json", "hf-int8", "golden")
    assert entry["verdict"] == "error"
    assert "no baseline record" in entry["reason"]
    assert not list(empty.iterdir()), "a failed read writes nothing"


def test_stale_record_fingerprint_is_a_clear_error(pytester: pytest.Pytester, repo_snapshots: str, tmp_path: Path) -> None:
    records = tmp_path / "records"
    shutil.copytree(repo_snapshots, records)
    path = records / "test_golden--baseline.json"
    data = json.loads(path.read_text())
    data["fingerprint"]["model_sha256"] = "0" * 64
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    pytester.makefile(".toml", quantgate=demo_config(snapshot_dir=str(records)))
    result = pytester.runpytest_inprocess("--quant-candidate=hf-int8", *SUITE)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*test_golden--baseline.json is stale*(model_sha256 changed*"
        "re-record it: pytest --quant-candidate=hf-int8 --quantgate-suite=only -m golden --snapshot-update*"
    ])


USER_TEST = '''
import pytest
from pytest_quantgate.gates.golden.cases import GoldenCase
from pytest_quantgate.gates.common.expectations import Expectation


@pytest.mark.golden
def test_capital_regression(quantgate):
    verdict = quantgate.golden([
        GoldenCase(id="capital-italy", prompt="What is the capital of Italy?", expect=Expectation("contains", "Rome")),
    ])
    assert verdict.passed, verdict.explain()
'''

USER_CASES = {"cases": [{"id": "user-spain", "prompt": "What is the capital of Spain?", "expect": {"kind": "contains", "value": "Madrid"}}]}


def test_snapshot_update_records_the_baseline_then_candidates_reuse_it(
    pytester: pytest.Pytester, repo_snapshots: str, tmp_path: Path
) -> None:
    records = tmp_path / "records"
    extra = '[gates.golden]\ncases = ["my_cases.json"]\n'
    pytester.makefile(".toml", quantgate=demo_config(snapshot_dir=str(records), extra=extra))
    pytester.makefile(".json", my_cases=json.dumps(USER_CASES))
    pytester.makepyfile(test_user=USER_TEST)

    first = pytester.runpytest_inprocess("--quant-candidate=hf-int8", "--snapshot-update", "-m", "golden", "--quantgate-report=r1.json", "-p", "no:cacheprovider")
    first.assert_outcomes(passed=2)
    first.stdout.fnmatch_lines(["*2 snapshots generated*"])
    assert sorted(p.name for p in records.iterdir()) == ["test_capital_regression--baseline.json", "test_golden--baseline.json"]
    recorded = json.loads((records / "test_golden--baseline.json").read_text())
    assert "user-spain" in recorded["cases"] and len(recorded["cases"]) == 57  # 56 built-in + 1
    entry = reports.suite_entry(pytester.path / "r1.json", "hf-int8", "golden")
    assert entry["baseline_source"] == "engine"

    # The baseline reproduces the committed demo records on this machine.
    committed = json.loads((Path(repo_snapshots) / "test_golden--baseline.json").read_text())
    assert recorded["fingerprint"] == committed["fingerprint"]
    for case_id, record in committed["cases"].items():
        assert recorded["cases"][case_id]["result"]["text"] == record["result"]["text"], case_id

    second = pytester.runpytest_inprocess("--quant-candidate=hf-int8", "-m", "golden", "--quantgate-report=r2.json", "-p", "no:cacheprovider")
    second.assert_outcomes(passed=2)
    second.stdout.fnmatch_lines(["*2 snapshots passed*"])
    for e in reports.candidates(pytester.path / "r2.json")["hf-int8"]["gates"]:
        assert e["baseline_source"] == "record"
        assert e["engines"]["baseline_loaded"] is False


def test_recorded_traffic_becomes_golden_cases_int8_agrees_and_kv2_does_not(pytester: pytest.Pytester) -> None:
    """gates.golden.traffic: the canary's recorded requests, the baseline's answers recorded
    once (tests/data/traffic_records/), the candidate held to agreement with them."""
    from tests.helpers import DATA

    extra = f'[gates.golden]\nbuiltin_cases = false\ntraffic = ["{DATA / "canary_traffic.jsonl"}"]\nmargin = 0.2\n'
    pytester.makefile(".toml", quantgate=demo_config(snapshot_dir=str(DATA / "traffic_records"), extra=extra))
    result = pytester.runpytest_inprocess("--quant-candidate=hf-int8,hf-kv2", "--quantgate-report=r.json", *SUITE)
    result.assert_outcomes(passed=1, failed=1)
    report = reports.entries(pytester.path / "r.json")
    int8, kv2 = report[("hf-int8", "golden")], report[("hf-kv2", "golden")]
    assert int8["baseline_source"] == "record" and int8["engines"]["baseline_loaded"] is False
    assert int8["verdict"] == "pass" and int8["metrics"]["cases"] == 36, int8["reason"]
    assert all(c["case_id"].startswith("traffic:canary_traffic.jsonl:") for c in int8["cases"])
    assert int8["metrics"]["candidate_expectation_rate"] >= 0.9  # agreeing with the baseline's answers
    assert kv2["verdict"] == "fail" and kv2["metrics"]["candidate_expectation_rate"] < 0.5
    assert any("drops what the baseline states" in p for c in kv2["cases"] for p in c["problems"])
