"""The compatibility gate as a pure function, and the adapter facts it reads (fast tier)."""

import json
import struct
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_quantgate import models
from pytest_quantgate.gates.compat import decision as compat
from pytest_quantgate.gates.compat.decision import ModelFacts

TEMPLATE = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"


def facts(**changes) -> ModelFacts:
    base = ModelFacts(
        vocab_size=100,
        vocab_sha256="abc",
        bos_token_id=1,
        eos_token_ids=(2,),
        pad_token_id=2,
        special_tokens={"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"},
        chat_template=TEMPLATE,
        max_context=2048,
        sampling_defaults={},
        tokenized={"numbers": [5, 6, 7]},
        rendered={"capital-france": [1, 9, 10, 2], "multi-turn": [1, 3, 2]},
    )
    return replace(base, **changes)


def checks(verdict) -> dict:
    return {c.case_id: c for c in verdict.cases}


def test_identical_runtimes_pass() -> None:
    verdict = compat.evaluate(facts(), facts())
    assert verdict.verdict == "pass"
    assert all(c.passed for c in verdict.cases)
    assert verdict.key_metric == "6/6 checks match"


def test_a_template_that_renders_other_ids_fails_and_names_the_prompt() -> None:
    altered = facts(chat_template=TEMPLATE.replace("\n{{", " {{"), rendered={"capital-france": [1, 9, 11, 2], "multi-turn": [1, 3, 2]})
    verdict = compat.evaluate(facts(), altered)
    assert verdict.verdict == "fail"
    problem = checks(verdict)["chat_template"].problems[0]
    assert problem.startswith("capital-france: rendered prompt ids differ from token 2")
    assert "renders the prompts differently" in verdict.metrics["notes"][0]


def test_template_text_that_renders_the_same_ids_is_a_note_not_a_failure() -> None:
    verdict = compat.evaluate(facts(), facts(chat_template=TEMPLATE + "{# comment #}"))
    assert verdict.verdict == "pass"
    assert "renders the same token ids" in verdict.reason


def test_sampling_defaults_of_a_runtime_fail_against_a_greedy_baseline() -> None:
    # llama-cpp-python's chat completion samples unless told otherwise: the reason a llama.cpp
    # chat answered "What is the capital of France?" differently from transformers.
    llama = facts(sampling_defaults={"temperature": 0.2, "top_p": 0.95, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.0})
    verdict = compat.evaluate(facts(), llama)
    assert verdict.verdict == "fail"
    problems = checks(verdict)["generation_defaults"].problems
    assert "default temperature 0.2 vs 0.0" in problems
    assert not any("repetition_penalty" in p for p in problems)  # 1.0 is neutral


def test_a_lost_stop_id_and_a_shorter_context_fail() -> None:
    verdict = compat.evaluate(facts(eos_token_ids=(2, 0)), facts(eos_token_ids=(0,), max_context=1024))
    found = checks(verdict)
    assert "lack the baseline's [2]" in found["special_tokens"].problems[0]
    assert found["max_context"].problems == ("max context 1024 < baseline's 2048",)


def test_tokenizer_differences_fail() -> None:
    verdict = compat.evaluate(facts(), facts(vocab_sha256="xyz", tokenized={"numbers": [5, 67]}))
    found = checks(verdict)
    assert found["vocabulary"].problems == ("token strings differ (vocabulary digest)",)
    assert found["tokenization"].problems[0].startswith("numbers: token ids differ from token 1")


def test_pad_difference_is_only_a_note() -> None:
    verdict = compat.evaluate(facts(), facts(pad_token_id=0))
    assert verdict.verdict == "pass" and "pad id 0 vs 2" in verdict.reason


def test_facts_round_trip_through_a_record() -> None:
    original = facts()
    again = ModelFacts.from_dict(json.loads(json.dumps(original.__dict__)))
    assert compat.evaluate(original, again).verdict == "pass"


def _checkpoint(folder: Path, tensors: list[str], name: str = "base") -> Path:
    folder.mkdir(parents=True)
    header = json.dumps({t: {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]} for t in tensors}).encode()
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + b"\0\0\0\0")
    (folder / "config.json").write_text(json.dumps({"_name_or_path": name}))
    return folder


def _adapter(folder: Path, base: str, targets: list[str]) -> Path:
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": base, "target_modules": targets}))
    return folder


def test_adapter_matching_its_quantized_base(tmp_path: Path) -> None:
    model = _checkpoint(tmp_path / "quantized", ["model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.v_proj.weight"])
    baseline = _checkpoint(tmp_path / "base", ["model.layers.0.self_attn.q_proj.weight"])
    adapter = _adapter(tmp_path / "lora", str(baseline), ["q_proj", "v_proj"])
    found = models.adapter_facts(adapter, model, baseline)
    assert found["missing_modules"] == [] and "base_mismatch" not in found
    assert compat.evaluate(facts(), facts(adapter=found)).verdict == "pass"


def test_adapter_with_missing_modules_or_another_base_fails(tmp_path: Path) -> None:
    model = _checkpoint(tmp_path / "quantized", ["model.layers.0.self_attn.q_proj.weight"])
    baseline = _checkpoint(tmp_path / "base", ["model.layers.0.self_attn.q_proj.weight"])
    adapter = _adapter(tmp_path / "lora", "someone/other-model-7b", ["q_proj", "gate_proj"])
    found = models.adapter_facts(adapter, model, baseline)
    verdict = compat.evaluate(facts(), facts(adapter=found))
    problems = checks(verdict)["adapter"].problems
    assert problems[0] == "target modules not in the quantized base: gate_proj"
    assert "adapter trained on 'someone/other-model-7b'" in problems[1]


def test_adapter_folder_without_config_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "lora").mkdir()
    with pytest.raises(models.ModelSourceError, match="no adapter_config.json"):
        models.adapter_facts(tmp_path / "lora", tmp_path, tmp_path)
