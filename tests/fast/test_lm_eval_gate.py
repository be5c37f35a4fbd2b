"""The lm_eval gate's decision as a pure function, how it reads lm-eval's logged samples, and
how it finds tasks (fast tier; the real engines run in tests/real/test_lm_eval_engines.py)."""

from dataclasses import replace
from pathlib import Path

import pytest

from pytest_quantgate.errors import UsageError
from pytest_quantgate.gates.lm_eval import decision
from pytest_quantgate.gates.lm_eval.decision import SampleScore, TaskScores
from pytest_quantgate.gates.lm_eval.runner import TaskSet, _task_scores
from pytest_quantgate.gates.lm_eval.tasks import people
from pytest_quantgate.gates.lm_eval.thresholds import LmEvalThresholds


def scores(task: str, passed: list[bool]) -> TaskScores:
    return TaskScores(task, "acc,none", tuple(SampleScore(i, float(p), f"d{i}", f"t{i}", "x") for i, p in enumerate(passed)))


def test_each_task_is_decided_by_the_paired_rule_and_the_worst_task_wins() -> None:
    base_ok = [True] * 150 + [False] * 50
    kept = scores("kept", base_ok)
    lost = scores("lost", [i % 4 != 0 and ok for i, ok in enumerate(base_ok)])  # a quarter of the passes lost
    verdict = decision.evaluate([scores("kept", base_ok), scores("lost", base_ok)], [kept, lost], LmEvalThresholds())
    assert verdict.verdict == "fail"
    assert verdict.metrics["tasks"]["kept"]["decision"]["decision"] == "pass"
    assert verdict.metrics["tasks"]["lost"]["decision"]["decision"] == "fail"
    assert verdict.metrics["tasks"]["lost"]["flips_pass_to_fail"] == 38
    assert verdict.key_metric == "kept 75% vs 75%, lost 56% vs 75%"
    failed = verdict.failed_cases
    assert len(failed) == 38 and failed[0].case_id == "lost/0" and "scored 0 (baseline 1)" in failed[0].problems[0]


def test_few_samples_cannot_decide_a_margin_and_must_hold_decides_every_sample() -> None:
    base = scores("t", [True] * 10)
    cand = scores("t", [True] * 9 + [False])
    assert decision.evaluate([base], [cand], LmEvalThresholds()).verdict == "underpowered"
    assert decision.evaluate([base], [base], LmEvalThresholds(decision="every_case")).verdict == "pass"
    assert decision.evaluate([base], [cand], LmEvalThresholds(decision="every_case")).verdict == "fail"


def test_samples_of_other_documents_are_refused_not_compared() -> None:
    base = scores("t", [True] * 4)
    with pytest.raises(decision.MismatchedSamples, match="4 samples by acc,none, the candidate on 3"):
        decision.evaluate([base], [replace(base, samples=base.samples[:3])], LmEvalThresholds())
    changed = replace(base, samples=(replace(base.samples[0], target_hash="other"), *base.samples[1:]))
    with pytest.raises(decision.MismatchedSamples, match=r"targets changed .*doc ids \[0\]"):
        decision.evaluate([base], [changed], LmEvalThresholds())
    assert TaskScores.from_dict(base.to_dict()) == base


def logged(doc_id: int, filter_name: str, **metrics: float) -> dict:
    return {"doc_id": doc_id, "filter": filter_name, "metrics": list(metrics), "doc_hash": "d", "target_hash": "t",
            "filtered_resps": ["42"], **metrics}


def test_a_task_is_scored_by_its_first_metric_and_filter_unless_one_is_named() -> None:
    samples = [logged(0, "strict-match", exact_match=1.0), logged(0, "flexible-extract", exact_match=0.0),
               logged(1, "strict-match", exact_match=0.0), logged(1, "flexible-extract", exact_match=1.0)]
    default = _task_scores("gsm8k", samples, None)
    assert default.metric == "exact_match,strict-match" and [s.score for s in default.samples] == [1.0, 0.0]
    named = _task_scores("gsm8k", samples, "exact_match,flexible-extract")
    assert [s.score for s in named.samples] == [0.0, 1.0]
    with pytest.raises(UsageError, match="no metric acc,strict-match; it has exact_match,flexible-extract, exact_match,strict-match"):
        _task_scores("gsm8k", samples, "acc,strict-match")


def test_a_metric_that_is_not_pass_or_fail_per_sample_is_refused() -> None:
    with pytest.raises(UsageError, match="scored sample 0 0.37, not 0 or 1"):
        _task_scores("wmt", [logged(0, "none", bleu=0.37)], None)


def test_tasks_are_found_in_the_built_in_folder_in_yaml_files_or_refused(tmp_path: Path) -> None:
    found = TaskSet.resolve(LmEvalThresholds(tasks=("quantgate_people",)), tmp_path)
    assert found.names == ["quantgate_people"] and found.yaml_paths["quantgate_people"].name == "quantgate_people.yaml"
    keys = found.record_keys(LmEvalThresholds(tasks=("quantgate_people",), limit=8))
    assert keys["quantgate_people"]["limit"] == 8 and len(keys["quantgate_people"]["yaml_sha256"]) == 64

    (tmp_path / "mine.yaml").write_text("task: my_task\ndataset_path: json\noutput_type: generate_until\n")
    assert TaskSet.resolve(LmEvalThresholds(tasks=("mine.yaml",)), tmp_path).names == ["my_task"]
    with pytest.raises(UsageError, match="no task file .*other.yaml"):
        TaskSet.resolve(LmEvalThresholds(tasks=("other.yaml",)), tmp_path)
    (tmp_path / "bad.yaml").write_text("dataset_path: json\n")
    with pytest.raises(UsageError, match="names no task"):
        TaskSet.resolve(LmEvalThresholds(tasks=("bad.yaml",)), tmp_path)
    with pytest.raises(UsageError, match="include_path: no folder"):
        TaskSet.resolve(LmEvalThresholds(tasks=("quantgate_people",), include_path=("nowhere",)), tmp_path)


def test_the_demo_task_data_is_the_seeded_generator_output_and_its_check_reads_the_first_line() -> None:
    assert [line for line in people.DATA.read_text().splitlines()] == [
        __import__("json").dumps(row) for row in people.generate()
    ]
    doc = {"question": "q", "answer": "Lyon"}
    assert people.process_results(doc, ["Tom is from lyon."]) == {"answered": 1}
    assert people.process_results(doc, ["Tom is from Paris.\nNot Lyon."]) == {"answered": 0}
    assert people.process_results(doc, ["Lyonnais"]) == {"answered": 0}


def test_a_served_candidate_is_asked_through_its_chat_template_only() -> None:
    from pytest_quantgate.config import CandidateSpec, Endpoint
    from pytest_quantgate.engines.base import EngineUnavailable
    from pytest_quantgate.engines.lm_eval_models import lm_eval_model
    from pytest_quantgate.engines.serving import ServedModel

    spec = CandidateSpec("served", "openai", "m", endpoint=Endpoint(base_url="http://127.0.0.1:9/v1", model="m"))
    served = ServedModel("served", spec.endpoint, "m", {"X-Route": "canary"})

    def never() -> None:
        raise AssertionError("a served candidate's in-process engine is never loaded")

    chat = lm_eval_model(spec, never, lambda: served, None, chat=True)
    assert chat.kind == "local-chat-completions" and chat.lm.base_url == "http://127.0.0.1:9/v1/chat/completions"
    with pytest.raises(EngineUnavailable, match="through its chat template only"):
        lm_eval_model(spec, never, lambda: served, None, chat=False)
