"""The lm_eval gate on the embedded SmolLM2 demo with real quantized candidates (slow tier):
lm-evaluation-harness runs the project's local task (`quantgate_people`, a generative task over
a local data file) through its own HFLM model on each candidate's loaded engine. int8 weights
pass; a 2-bit KV cache loses the answers; the gate's rates are lm-eval's own reported scores."""

from pathlib import Path

import pytest

import tests.engine_stack  # noqa: F401  (first: one copy of torch/quanto for pytester runs)
from pytest_quantgate.errors import UsageError
from pytest_quantgate.gates.lm_eval.runner import TaskSet
from pytest_quantgate.gates.lm_eval.thresholds import LmEvalThresholds
from tests import reports
from tests.helpers import GGUF, demo_config

pytestmark = pytest.mark.slow(minutes=2)
TASKS = '[gates.lm_eval]\ntasks = ["quantgate_people"]\n'


def test_int8_passes_and_kv2_fails_the_local_lm_eval_task(pytester: pytest.Pytester, repo_snapshots: str) -> None:
    pytester.makefile(".toml", quantgate=demo_config(snapshot_dir=repo_snapshots, extra=TASKS))
    result = pytester.runpytest_inprocess(
        "--quant-candidate=hf-int8,hf-kv2", "--quantgate-suite=only", "-m", "lm_eval",
        "--quantgate-report=r.json", "-p", "no:cacheprovider",
    )
    result.assert_outcomes(passed=1, failed=1)
    report = reports.entries(pytester.path / "r.json")

    int8 = report[("hf-int8", "lm_eval")]
    assert int8["verdict"] == "pass", int8["reason"]
    assert int8["baseline_source"] == "record" and int8["engines"]["baseline_loaded"] is False
    task = int8["metrics"]["tasks"]["quantgate_people"]
    assert task["samples"] == 128 and task["metric"] == "answered,none"
    assert 0.3 <= task["baseline_score_rate"] <= 0.7  # a useful share for the demo model
    # The rates decided on are lm-eval's own: its results table reports the same scores.
    assert task["lm_eval_reported"]["baseline"] == pytest.approx(task["baseline_score_rate"], abs=1e-4)
    assert task["lm_eval_reported"]["candidate"] == pytest.approx(task["candidate_score_rate"], abs=1e-4)

    kv2 = report[("hf-kv2", "lm_eval")]
    assert kv2["verdict"] == "fail" and "quantgate_people (answered,none):" in kv2["reason"]
    kv2_task = kv2["metrics"]["tasks"]["quantgate_people"]
    assert kv2_task["candidate_score_rate"] < 0.2 < kv2_task["baseline_score_rate"]
    lost = [c for c in kv2["cases"] if not c["passed"]]
    assert len(lost) == kv2_task["flips_pass_to_fail"] and lost[0]["problems"][0].startswith("scored 0 (baseline 1)")
    result.stdout.fnmatch_lines(["*hf-kv2*lm_eval*FAIL*quantgate_people*"])


def test_a_served_candidate_runs_through_lm_evals_chat_completions_model(pytester: pytest.Pytester, repo_snapshots: str) -> None:
    """A llama.cpp candidate: lm-eval's local-chat-completions model against its server (the
    server applies the GGUF's chat template), 24 samples, the F32 baseline's scores from its
    committed record. What Q2_K does to these 24 answers depends on the llama.cpp build that
    quantized it (one machine's build lost 4 more than it gained; a fresh machine's lost 4 and
    gained 6), so this test holds the served path to the gate's rule, not to one verdict; the
    FAIL and PASS on real candidates are the test above."""
    pytest.importorskip("llama_cpp")
    from pytest_quantgate.stats import PairedOutcomes, decide

    extra = GGUF + TASKS + "limit = 24\n"
    pytester.makefile(".toml", quantgate=demo_config(snapshot_dir=repo_snapshots, extra=extra))
    pytester.runpytest_inprocess(
        "--quant-candidate=gguf-q2_k", "--quantgate-suite=only", "-m", "lm_eval", "--quantgate-report=r.json", "-p", "no:cacheprovider",
    )
    q2 = reports.entries(pytester.path / "r.json")[("gguf-q2_k", "lm_eval")]
    assert q2["baseline"] == "gguf-f32" and q2["baseline_source"] == "record"
    task = q2["metrics"]["tasks"]["quantgate_people"]
    assert task["samples"] == 24 and task["lm_eval_reported"]["candidate"] == pytest.approx(task["candidate_score_rate"], abs=1e-4)
    pairs = [(c["details"]["baseline_ok"], c["details"]["candidate_ok"]) for c in q2["cases"]]
    assert len(pairs) == 24
    paired = PairedOutcomes.from_pairs([b for b, _ in pairs], [c for _, c in pairs])
    assert (paired.pass_to_fail, paired.fail_to_pass) == (task["flips_pass_to_fail"], task["flips_fail_to_pass"])
    limits = LmEvalThresholds()
    assert q2["verdict"] == decide(paired, limits.decision, limits.margin, limits.confidence).decision


def test_an_unknown_task_name_says_how_to_find_one(tmp_path: Path) -> None:
    """lm-eval's own ~15,000 tasks are indexed only when a name is not a local task (seconds)."""
    with pytest.raises(UsageError, match="lm-eval knows no task 'gsm9k'; check the name"):
        TaskSet.resolve(LmEvalThresholds(tasks=("gsm9k",)), tmp_path)
