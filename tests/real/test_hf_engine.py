"""The transformers engine on the demo model: the interface's promises, checked on real weights."""

import os
import tomllib
from pathlib import Path

import pytest

from tests.helpers import demo_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def baseline_engine():
    pytest.importorskip("torch")
    from pytest_quantgate import engines
    from pytest_quantgate.gates import registry

    cfg = registry.parse_config(tomllib.loads(demo_config()), Path("quantgate.toml"))
    engine = engines.load_engine(cfg.candidates["baseline"], Path(os.environ["QUANTGATE_CACHE_DIR"]))
    yield engine
    engine.close()


def test_teacher_forced_scores_agree_with_generation_logprobs(baseline_engine) -> None:
    """Scoring prompt + greedy answer reproduces the log-probs generate() reported."""
    from pytest_quantgate.engines import GenerationRequest

    request = GenerationRequest.chat("What is the capital of France?", 12)
    (generation,) = baseline_engine.generate([request], top_logprobs=5)
    prompt = baseline_engine.render_chat(request.messages)
    (scored,) = baseline_engine.score([prompt + list(generation.token_ids)], top_logprobs=5)
    assert len(scored.logprobs) == len(prompt) + len(generation.token_ids) - 1
    answer_positions = scored.logprobs[len(prompt) - 1 :]
    for gen_step, score_step in zip(generation.logprobs, answer_positions):
        assert score_step.token_id == gen_step.token_id
        assert score_step.logprob == pytest.approx(gen_step.logprob, abs=1e-3)
        assert score_step.top[0][0] == gen_step.token_id  # greedy: the chosen token ranks first
    assert generation.finish_reason == "stop"
    assert "Paris" in generation.text
    assert generation.timings.prompt_tokens == len(prompt) and generation.timings.ttft_s > 0


def test_batching_does_not_change_greedy_answers(baseline_engine) -> None:
    from pytest_quantgate.engines import GenerationRequest

    prompts = ["What is 2 + 2?", "Name a color.", "Write the word hello in capital letters and nothing else."]
    requests = [GenerationRequest.chat(p, 16) for p in prompts]
    batched = baseline_engine.generate(requests, top_logprobs=3)
    single = [baseline_engine.generate([r], top_logprobs=3)[0] for r in requests]
    assert [g.text for g in batched] == [g.text for g in single]
    length_capped = baseline_engine.generate([GenerationRequest.chat("Count from 1 to 100.", 4)], top_logprobs=3)[0]
    assert length_capped.finish_reason == "length" and len(length_capped.token_ids) == 4


def test_tokenizer_facts(baseline_engine) -> None:
    facts = baseline_engine.tokenizer_facts()
    assert facts.vocab_size == 49152
    assert 2 in facts.eos_token_ids  # <|im_end|> ends a chat turn
    assert "<|im_start|>" in facts.chat_template
    assert facts.max_context == 8192


def test_the_engine_keeps_its_own_time(baseline_engine) -> None:
    """EngineBase's bookkeeping: the load, each generate() call with its tokens, scoring."""
    import dataclasses

    from pytest_quantgate.engines import GenerationRequest

    stats = baseline_engine.stats
    before = dataclasses.replace(stats)
    requests = [GenerationRequest.chat("Name a color.", 4), GenerationRequest.chat("Say hi.", 4)]
    answers = baseline_engine.generate(requests, top_logprobs=2)
    assert stats.generate_calls == before.generate_calls + 1
    assert stats.generated_tokens == before.generated_tokens + sum(len(a.token_ids) for a in answers)
    assert stats.generate_s > before.generate_s and stats.load_s > 0
    baseline_engine.score([baseline_engine.tokenize("one two three")], top_logprobs=2)
    assert stats.score_s > before.score_s


def test_a_checkpoint_missing_weights_is_refused_not_run_at_random(tmp_path: Path) -> None:
    """transformers loads a checkpoint whose weights it cannot find (a truncated save, or a
    quantization format it was told to ignore) with those layers randomly initialised and
    only a log line; the engine refuses it, naming what is missing. The demo checkpoint with
    one layer's weight removed stands for it."""
    pytest.importorskip("torch")
    import shutil

    from safetensors.torch import load_file, save_file

    from pytest_quantgate import engines, models
    from pytest_quantgate.engines import EngineUnavailable
    from pytest_quantgate.gates import registry

    source = models.demo_checkpoint(Path(os.environ["QUANTGATE_CACHE_DIR"]))
    for item in source.iterdir():
        if item.is_file() and item.name != "model.safetensors":
            shutil.copy(item, tmp_path / item.name)
    weights = load_file(source / "model.safetensors")
    del weights["model.layers.3.mlp.up_proj.weight"]
    save_file(weights, tmp_path / "model.safetensors", metadata={"format": "pt"})
    cfg = registry.parse_config(tomllib.loads(f'baseline = "baseline"\n[candidates.baseline]\nengine = "hf"\nmodel = "{tmp_path}"\n'), Path("quantgate.toml"))
    with pytest.raises(EngineUnavailable, match=r"no weights for model\.layers\.3\.mlp\.up_proj\.weight"):
        engines.load_engine(cfg.candidates["baseline"], tmp_path)


def test_the_demo_checkpoint_is_the_same_bytes_whichever_environment_extracts_it(tmp_path: Path) -> None:
    """Its weights come from the GGUF through this environment's transformers; its configs and
    tokenizer are the shipped files, so the hash the committed records were made for holds even
    where another transformers (llm-compressor's, vLLM's) extracts it first."""
    import json

    from pytest_quantgate import models
    from tests.helpers import REPO

    extracted = models.demo_checkpoint(tmp_path)
    recorded = json.loads((REPO / "golden_snapshots" / "test_golden--baseline.json").read_text())["fingerprint"]
    assert models.model_hash(extracted) == recorded["model_sha256"]
    tokenizer = json.loads((extracted / "tokenizer_config.json").read_text())
    assert tokenizer["eos_token"] == "<|im_end|>"
