"""The drift gate on the demo model with real quantized candidates (slow tier)."""

import os
import tomllib
from pathlib import Path

import numpy as np
import pytest

from tests import reports
from tests.references import kld_rows, llama_logprobs
from tests.helpers import DEMO, GGUF, demo_config

pytestmark = pytest.mark.slow(minutes=6)
torch = pytest.importorskip("torch")

import tests.engine_stack  # noqa: E402,F401  (first: one copy of torch/quanto for pytester runs)
from pytest_quantgate import engines
from pytest_quantgate.gates.registry import parse_config
from pytest_quantgate.gates.common import corpus

LADDER = GGUF + f'''
[candidates.gguf-q4_k_m]
engine = "llamacpp"
model = "{DEMO}@gguf-q4_k_m"
baseline = "gguf-f32"
'''


def scored_rows(engine: object, window: corpus.Window, evaluate: bool = True) -> np.ndarray:
    """The window's scored rows (n/2 .. n-2, llama-perplexity's) over the whole vocabulary."""
    return llama_logprobs(engine, window.token_ids, evaluate)[window.first_scored - 1 : len(window.token_ids) - 1]


def test_the_gates_kld_estimate_is_within_5_percent_of_the_full_vocabulary_kld(
    pytester: pytest.Pytester, repo_snapshots: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As llama-perplexity --kl-divergence computes it (every token of the vocabulary, rows n/2..
    n-2 of each 256-token window), from both engines' full logits on the GGUF ladder, against
    the gate's estimate from the committed top-256 record. The candidates' full logits are read
    in the gate's own forward passes (llama.cpp keeps every row's logits): each window's full
    KLD is taken right after the candidate evaluates it, so each model runs once."""
    pytest.importorskip("llama_cpp")
    from pytest_quantgate.engines.llamacpp import LlamaCppEngine

    cfg = parse_config(tomllib.loads(demo_config(extra=LADDER)), Path("quantgate.toml"))
    base = engines.load_engine(cfg.candidates["gguf-f32"], Path(os.environ["QUANTGATE_CACHE_DIR"]))
    windows = {tuple(w.token_ids): w for w in corpus.make_windows("builtin", base.tokenize(corpus.builtin_corpus().text), 256)}
    reference = {ids: scored_rows(base, w) for ids, w in windows.items()}
    base.close()

    full_kld: dict[str, list[np.ndarray]] = {}
    evaluate = LlamaCppEngine._eval

    def evaluate_and_compare(self: LlamaCppEngine, tokens: list[int], reset: bool) -> None:
        evaluate(self, tokens, reset)
        window = windows.get(tuple(tokens))
        if window is not None:
            full_kld.setdefault(self.spec.name, []).append(kld_rows(reference[tuple(tokens)], scored_rows(self, window, evaluate=False)))

    monkeypatch.setattr(LlamaCppEngine, "_eval", evaluate_and_compare)
    pytester.makefile(".toml", quantgate=demo_config(snapshot_dir=repo_snapshots, extra=LADDER))
    result = pytester.runpytest_inprocess(
        "--quant-candidate=gguf-q8_0,gguf-q4_k_m,gguf-q2_k", "-m", "drift", "--quantgate-suite=only",
        "--quantgate-report=r.json", "-p", "no:cacheprovider",
    )
    report = {name: gates["drift"] for name, gates in reports.by_candidate(pytester.path / "r.json").items()}
    assert report["gguf-q8_0"]["verdict"] == "pass" and report["gguf-q2_k"]["verdict"] == "fail", result.stdout.str()[-3000:]

    for name in ("gguf-q8_0", "gguf-q4_k_m", "gguf-q2_k"):
        rows = np.concatenate(full_kld[name])
        full = float(rows.mean())
        gate = report[name]["metrics"]
        assert gate["positions"] == len(rows) == 127 * len(windows)
        assert abs(gate["mean_kld"] / full - 1) < 0.05, (name, gate["mean_kld"], full)
        assert gate["mean_kld_lower_bound"] <= full * 1.001, (name, gate["mean_kld_lower_bound"], full)
        assert 0 < gate["baseline_rest_mass"]["mean"] < gate["baseline_rest_mass"]["p90"] < 1
        if full > 0.05:  # beyond the limit (Q4_K_M sits near it): never passed on what the record cannot see
            assert report[name]["verdict"] != "pass", (name, full, report[name]["reason"])
        print(f"{name}: gate {gate['mean_kld']:.5f} (bound {gate['mean_kld_lower_bound']:.5f}), full {full:.5f}, "
              f"{report[name]['verdict']}, same top-1 {gate['same_top1']:.3f}, PPL ratio {gate['ppl_ratio']:.4f}")


def test_int8_weights_pass_and_a_2_bit_kv_cache_fails_on_transformers(pytester: pytest.Pytester, repo_snapshots: str) -> None:
    """The drift gate on the hf engine. The GGUF ladder above shows KLD rising as precision falls
    on llama.cpp; here the two ends on transformers (int4 weights and a 4-bit KV cache sit
    between them: README's verdict table)."""
    pytester.makefile(".toml", quantgate=demo_config(snapshot_dir=repo_snapshots))
    result = pytester.runpytest_inprocess(
        "--quant-candidate=hf-int8,hf-kv2", "-m", "drift", "--quantgate-suite=only",
        "--quantgate-report=r.json", "-p", "no:cacheprovider",
    )
    result.assert_outcomes(passed=1, failed=1)
    report = {name: gates["drift"] for name, gates in reports.by_candidate(pytester.path / "r.json").items()}
    kld = {name: entry["metrics"]["mean_kld"] for name, entry in report.items()}
    assert kld["hf-int8"] < 0.05 < kld["hf-kv2"], kld
    assert report["hf-int8"]["verdict"] == "pass" and report["hf-kv2"]["verdict"] == "fail"
    kv2 = report["hf-kv2"]
    assert "beyond the limit" in kv2["reason"]
    assert kv2["metrics"]["ppl_ratio"] > 1.5 and kv2["metrics"]["top1_outside_baseline_top5"] > 0.1
    for entry in report.values():
        assert entry["baseline_source"] == "record" and entry["engines"]["baseline_loaded"] is False
        assert entry["metrics"]["positions"] > 2000
