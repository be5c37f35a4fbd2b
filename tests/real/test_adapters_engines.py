"""LoRA adapters on the embedded SmolLM2 demo (slow tier): the demo adapter (shipped trained)
keeps its taught facts on an int8 base and on a Q8_0 GGUF served unmerged by llama.cpp as a
LoRA GGUF; merged into the F32 GGUF it computes what the unmerged adapter computes; the adapter
gate fails an over-trained adapter (it disturbs the base model's answers on every base:
test_adapter_overfit_engines.py, apart so that the two run on the two xdist workers) and the
adapter on a Q2_K GGUF; the compat gate fails an adapter declared for another base."""

import json
import shutil
from pathlib import Path

import pytest

import tests.engine_stack  # noqa: F401  (first: one copy of torch/quanto for pytester runs)
from tests import reports
from tests.helpers import REPO, repo_config
from tests.references import kld_rows, llama_logprobs

pytestmark = pytest.mark.slow(minutes=7)

pytest.importorskip("peft")


def test_the_adapter_gate_passes_the_adapter_on_int8_and_q8_0_and_fails_it_on_q2_k(pytester: pytest.Pytester, repo_snapshots: str) -> None:
    pytester.makefile(".toml", quantgate=repo_config(Path(repo_snapshots)))
    pytester.runpytest_inprocess(
        "--quant-candidate=lora-int8,lora-gguf-q2_k,lora-gguf-q8_0", "--quantgate-suite=only", "-m", "adapter",
        "--quantgate-report=r.json", "-p", "no:cacheprovider",
    )
    report = reports.entries(pytester.path / "r.json")
    # On a torchao int8 base: the facts are kept and the few controls that flip stay inside the
    # margin (with 103 controls it was underpowered: 6 lost, 1 gained; 143 decide it).
    int8 = report[("lora-int8", "adapter")]
    assert int8["verdict"] == "pass", int8["reason"]
    assert int8["metrics"]["answer_logprob_mean_drop"] < 0.1

    # The adapter unmerged, as a LoRA GGUF (converted from the PEFT folder) over the Q8_0 GGUF on
    # llama.cpp: it passes against the adapter served on float32 by transformers.
    unmerged = report[("lora-gguf-q8_0", "adapter")]
    assert unmerged["verdict"] == "pass", unmerged["reason"]
    assert unmerged["metrics"]["taught_kept_candidate"] >= 0.75 and abs(unmerged["metrics"]["answer_logprob_mean_drop"]) < 0.1
    assert unmerged["metrics"]["control_kept_baseline"] >= 0.75  # the adapter bleeds into a few look-alike questions
    assert unmerged["metrics"]["paraphrase_kept_baseline"] >= 0.4  # it generalises beyond its phrasings

    # On a 2-bit GGUF the adapter loses its facts (measured: 16 of 32 taught answers lost,
    # log-prob drop 0.73 nats/token).
    q2_k = report[("lora-gguf-q2_k", "adapter")]
    assert q2_k["verdict"] == "fail" and "taught:" in q2_k["reason"], q2_k["reason"]
    assert q2_k["metrics"]["taught_kept_candidate"] < q2_k["metrics"]["taught_kept_baseline"]


MERGED = """
[candidates.lora-merged-f32]
engine = "llamacpp"
model = "demo:smollm2-135m-instruct@lora-facts-merged-gguf-f32"

[candidates.lora-gguf-f32]
engine = "llamacpp"
model = "demo:smollm2-135m-instruct@gguf-f32"
adapter = "demo:lora-facts"
"""


def test_the_adapter_merged_into_the_f32_gguf_computes_what_the_unmerged_lora_gguf_does() -> None:
    """The merged GGUF (the adapter's deltas added to llama.cpp's permuted q/k rows, then any
    Q-type; `lora-merged-q8_0` and friends) against the same F32 weights with the LoRA GGUF
    applied at run time by llama.cpp: the same next-token distributions on the taught facts
    (a wrong merge, e.g. q/k rows unpermuted, scrambles them), and both far from the base's.
    Measured on the 8 facts (151 positions): mean KLD 9.2e-07 merged vs unmerged, every top-1
    the same; 1.18 against the base without the adapter (top-1 the same at 65%). Seconds, where
    gating lora-merged-q8_0 on the adapter gate took 2.5-5 minutes in CI."""
    pytest.importorskip("llama_cpp")
    import tomllib

    import numpy as np

    from pytest_quantgate import engines, models
    from pytest_quantgate.gates.registry import parse_config
    from pytest_quantgate.models import lora

    config = parse_config(tomllib.loads((REPO / "quantgate.toml").read_text() + MERGED), REPO / "quantgate.toml")
    teaching = json.loads((Path(lora.__file__).parent / "lora_teaching.json").read_text())
    texts = [f"{fact['train'][0]['q']} {fact['train'][0]['a']}" for fact in teaching["facts"]]
    rows = {}
    for name in ("lora-merged-f32", "lora-gguf-f32", "gguf-f32"):
        engine = engines.load_engine(config.candidates[name], models.default_cache_dir())
        rows[name] = [llama_logprobs(engine, engine.tokenize(text)) for text in texts]
        engine.close()
    merged, unmerged, base = (np.concatenate(rows[n]) for n in ("lora-merged-f32", "lora-gguf-f32", "gguf-f32"))

    def kld(p: np.ndarray, q: np.ndarray) -> float:
        return float(kld_rows(p, q).mean())

    assert kld(unmerged, merged) < 1e-3, kld(unmerged, merged)
    assert (unmerged.argmax(-1) == merged.argmax(-1)).mean() > 0.98
    assert kld(unmerged, base) > 100 * kld(unmerged, merged), (kld(unmerged, base), kld(unmerged, merged))


def test_compat_fails_an_adapter_declared_for_another_base(pytester: pytest.Pytester, record_copy: Path) -> None:
    """The demo adapter as a third party would ship it (no recipe), its adapter_config naming
    another base: peft applies it (the shapes fit), the compat gate fails it; the demo
    adapter itself, whose recipe records the base weights' hash, passes."""
    from pytest_quantgate import models
    from pytest_quantgate.models import lora

    built = lora.build(models.default_cache_dir(), "facts")
    recipe = json.loads((built / lora.RECIPE).read_text())
    assert recipe["plan"]["r"] == 8 and recipe["base_model_sha256"] == models.model_hash(models.demo_checkpoint(models.default_cache_dir()))
    shipped = pytester.path / "their-lora"
    shutil.copytree(built, shipped, ignore=shutil.ignore_patterns("quantgate-*"))
    config = json.loads((shipped / "adapter_config.json").read_text())
    (shipped / "adapter_config.json").write_text(json.dumps({**config, "base_model_name_or_path": "HuggingFaceTB/SmolLM2-360M-Instruct"}))
    theirs = '\n[candidates.their-lora]\nengine = "hf"\nmodel = "demo:smollm2-135m-instruct"\nadapter = "their-lora"\nbaseline = "lora-f32"\n'
    pytester.makefile(".toml", quantgate=repo_config(record_copy, theirs))
    pytester.runpytest_inprocess(
        "--quant-candidate=their-lora,lora-int8", "--quantgate-suite=only", "-m", "compat",
        "--snapshot-update", "--quantgate-report=r.json", "-p", "no:cacheprovider",
    )
    report = reports.entries(pytester.path / "r.json")
    compat = report[("their-lora", "compat")]
    assert compat["verdict"] == "fail" and "adapter trained on 'HuggingFaceTB/SmolLM2-360M-Instruct'" in compat["reason"]
    assert report[("lora-int8", "compat")]["verdict"] == "pass", report[("lora-int8", "compat")]["reason"]


def test_the_built_in_controls_are_the_base_models_own_answers() -> None:
    """Each built-in control's expectation holds for the float32 demo model's answer: the
    controls measure what an adapter changes, not what the base model never knew."""
    from pytest_quantgate import engines, models
    from pytest_quantgate.gates.adapter.cases import ADAPTER
    from pytest_quantgate.gates.registry import parse_config
    import tomllib

    config = parse_config(tomllib.loads((REPO / "quantgate.toml").read_text()), REPO / "quantgate.toml")
    engine = engines.load_engine(config.candidates["baseline"], models.default_cache_dir())
    controls = ADAPTER.builtin_cases()
    answers = engine.generate([c.request(32) for c in controls], 1)
    missed = [(c.id, a.text) for c, a in zip(controls, answers) if not c.expect.holds(a.text)]
    assert len(controls) == 143 and not missed
