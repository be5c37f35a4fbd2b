"""The README's quickstart in a project of its own (slow tier): from an empty folder, `init`
with the demo model, record the baseline's answers, gate hf-int8 and hf-kv2 (added as a user
would), and read the files the run wrote."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests import reports
from tests.helpers import DEMO

pytestmark = pytest.mark.slow

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
    with open(pytester.path / "quantgate.toml", "a") as config:
        config.write(HF_KV2)

    # Step 2 of the printed next steps (golden only, to keep the tier short).
    record = pytester.runpytest_subprocess("--quant-candidate=hf-int8", "-m", "golden", "--snapshot-update", "-p", "no:cacheprovider")
    record.assert_outcomes(passed=2)  # the built-in golden gate and the example test
    recorded = sorted(p.name for p in (pytester.path / "golden_snapshots").iterdir())
    assert recorded == ["test_golden--baseline.json", "test_our_facts_survive_quantization--baseline.json"], recorded

    # Step 3, for two candidates: the baseline comes from the records.
    gate = pytester.runpytest_subprocess("--quant-candidate=hf-int8,hf-kv2", "-m", "golden", "--quantgate-report=reports/run.json", "-p", "no:cacheprovider")
    gate.stdout.fnmatch_lines(["*quantgate verdicts*"])
    report = reports.read(pytester.path / "reports" / "run.json")
    assert report["complete"] is True
    # Two golden entries per candidate (the suite's and the example test's): pick the suite's by test id.
    suite = {name: next(g for g in c["gates"] if g["test"].startswith("quantgate-suite/")) for name, c in reports.candidates(report).items()}
    suite_int8, suite_kv2 = suite["hf-int8"], suite["hf-kv2"]
    assert suite_int8["baseline_source"] == "record" and suite_kv2["baseline_source"] == "record"
    assert suite_int8["verdict"] == "pass", suite_int8["reason"]
    assert suite_kv2["verdict"] == "fail", suite_kv2["reason"]
    # The file's cases are regression cases: they were run (and must hold) beside the built-in ones.
    ids = {c["case_id"] for c in suite_int8["cases"]}
    assert {"example-capital", "example-arithmetic"} <= ids
    assert "must-hold cases" in suite_int8["reason"] or "must_hold_lost" in suite_int8["metrics"]
    for name in ("run.md", "run.html", "run-hf-int8-manifest.json", "run-hf-kv2-manifest.json"):
        assert (pytester.path / "reports" / name).is_file(), name
