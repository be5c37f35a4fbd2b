"""The golden gate on the embedded SmolLM2 demo (slow tier): records that are missing or stale
are clear errors, and recorded traffic becomes golden cases. int8 passing and a 2-bit KV cache
failing the built-in cases are in test_quickstart_engines.py, from a freshly recorded baseline."""

import json
import shutil
from pathlib import Path

import pytest

import tests.engine_stack  # noqa: E402,F401  (first: one copy of torch/quanto for pytester runs)
from tests import reports
from tests.helpers import demo_config

pytestmark = pytest.mark.slow(minutes=1)


SUITE = ("--quantgate-suite=only", "-m", "golden", "-p", "no:cacheprovider")


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


def test_recorded_traffic_becomes_golden_cases_int8_agrees_and_kv2_does_not(pytester: pytest.Pytester) -> None:
    """gates.golden.traffic: the canary's recorded requests, the baseline's answers recorded
    once (tests/data/traffic_records/), the candidate held to agreement with them."""
    from tests.helpers import DATA

    extra = f'[gates.golden]\nbuiltin_cases = false\nfamilies = []\ntraffic = ["{DATA / "canary_traffic.jsonl"}"]\nmargin = 0.2\n'
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
