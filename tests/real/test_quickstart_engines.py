"""The README's quickstart in a project of its own (slow tier): from an empty folder, `init`
with the demo model, record the baseline's answers, gate hf-int8 and hf-kv2 (added as a user
would) from the records alone, and read the files the run wrote. The golden gate's real-engine
proof on the demo: int8 weights pass, a 2-bit KV cache fails and the report says where."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests import reports
from tests.helpers import DEMO, REPO

pytestmark = pytest.mark.slow(minutes=4)

HF_KV2 = f'''
[candidates.hf-kv2]                      # added by hand: a 2-bit KV cache
engine = "hf"
model = "{DEMO}"
quantization.kv_cache = {{ method = "quanto", bits = 2 }}
'''


def test_a_new_project_from_init_to_verdicts(pytester: pytest.Pytester) -> None:
    init = subprocess.run([sys.executable, "-m", "pytest_quantgate", "init", "--model", DEMO], cwd=pytester.path, capture_output=True, text=True)
    assert init.returncode == 0, init.stderr
    assert "pytest --quant-candidate=hf-int8 --snapshot-update" in init.stdout
    written = sorted(p.relative_to(pytester.path).as_posix() for p in pytester.path.rglob("*") if p.is_file())
    assert written == ["quantgate.toml", "quantgate_cases/golden.json", "tests/test_quantgate_regressions.py"]
    config = pytester.path / "quantgate.toml"
    # The generated task families switched off (the built-in cases alone) to keep the tier short.
    config.write_text(config.read_text().replace("# families = []", "families = []", 1) + HF_KV2)

    # Step 2 of the printed next steps (golden only, to keep the tier short).
    record = pytester.runpytest_subprocess("--quant-candidate=hf-int8", "-m", "golden", "--snapshot-update", "-p", "no:cacheprovider")
    record.assert_outcomes(passed=2)  # the built-in golden gate and the example test
    record.stdout.fnmatch_lines(["*2 snapshots generated*"])
    snapshots = pytester.path / "golden_snapshots"
    recorded = sorted(p.name for p in snapshots.iterdir())
    assert recorded == ["test_golden--baseline.json", "test_our_facts_survive_quantization--baseline.json"], recorded

    # The baseline recorded here reproduces the repository's committed demo records, case by case.
    fresh = json.loads((snapshots / "test_golden--baseline.json").read_text())
    committed = json.loads((REPO / "golden_snapshots" / "test_golden--baseline.json").read_text())
    assert fresh["fingerprint"] == committed["fingerprint"]
    mine = {"example-capital", "example-arithmetic"}
    assert mine <= set(fresh["cases"]) and set(fresh["cases"]) - mine <= set(committed["cases"])
    assert len(fresh["cases"]) == 58, len(fresh["cases"])  # the 56 built-in cases (families switched off) and the file's 2
    for case_id in set(fresh["cases"]) - mine:
        assert fresh["cases"][case_id]["result"]["text"] == committed["cases"][case_id]["result"]["text"], case_id

    # Step 3, for two candidates: the baseline comes from the records and is never loaded.
    gate = pytester.runpytest_subprocess("--quant-candidate=hf-int8,hf-kv2", "-m", "golden", "--quantgate-report=reports/run.json", "-p", "no:cacheprovider")
    gate.stdout.fnmatch_lines(["*quantgate verdicts*", "hf-int8*golden*PASS*", "hf-kv2*golden*FAIL*", "*2 snapshots passed*"])
    report = reports.read(pytester.path / "reports" / "run.json")
    assert report["complete"] is True
    int8, kv2 = (reports.suite_entry(report, name, "golden") for name in ("hf-int8", "hf-kv2"))
    for entry in (int8, kv2):
        assert entry["baseline_source"] == "record" and entry["engines"]["baseline_loaded"] is False
        assert "baseline" not in entry["engines"]["acquired_this_session"]
    assert int8["verdict"] == "pass", int8["reason"]
    assert int8["metrics"]["flips_pass_to_fail"] <= 1
    # The file's cases are regression cases: they were run (and must hold) beside the built-in ones.
    assert {"example-capital", "example-arithmetic"} <= {c["case_id"] for c in int8["cases"]}
    assert "must-hold cases" in int8["reason"] or "must_hold_lost" in int8["metrics"]

    # 2-bit KV cache: answers the baseline got right go wrong; the JSON answer breaks (DESIGN.md).
    assert kv2["verdict"] == "fail", kv2["reason"]
    assert kv2["metrics"]["flips_pass_to_fail"] >= 14 and kv2["metrics"]["flips_fail_to_pass"] <= 1
    assert kv2["metrics"]["candidate_expectation_rate"] < kv2["metrics"]["baseline_expectation_rate"]
    flipped = {c["case_id"]: c for c in kv2["cases"] if c["details"].get("flip") == "pass->fail"}
    assert any("held for the baseline, not the candidate" in p for p in flipped["json-person"]["problems"])
    for name in ("run.md", "run.html", "run-hf-int8-manifest.json", "run-hf-kv2-manifest.json"):
        assert (pytester.path / "reports" / name).is_file(), name
