"""The drift gate on the demo model with real quantized candidates (slow tier)."""

import os
import tomllib
from pathlib import Path

import numpy as np
import pytest

from tests import reports
from tests.helpers import HF_INT4, HF_KV4, demo_config

pytestmark = pytest.mark.slow
torch = pytest.importorskip("torch")

import tests.engine_stack  # noqa: E402,F401  (first: one copy of torch/quanto for pytester runs)
from pytest_quantgate import engines
from pytest_quantgate.gates.registry import parse_config
from pytest_quantgate.gates.common import corpus
from pytest_quantgate.gates.drift import decision as drift

# The records keep the baseline's top-32 log-probs plus the rest-of-vocabulary mass. On the demo
# model that KLD is a lower bound holding 77-88% of the full-vocabulary KLD (k=128: 87-92%,
# k=512: 94-96%); k=32 keeps the record near 1 MB and preserves the ranking of candidates.
TOLERANCE = (0.70, 1.0)

CANDIDATES = HF_INT4 + HF_KV4


def test_topk_kld_agrees_with_the_full_vocabulary_kld() -> None:
    cfg = parse_config(tomllib.loads(demo_config(extra=CANDIDATES)), Path("quantgate.toml"))
    cache = Path(os.environ["QUANTGATE_CACHE_DIR"])
    base = engines.load_engine(cfg.candidates["baseline"], cache)
    windows = corpus.make_windows("builtin", base.tokenize(corpus.builtin_corpus().text), 256)[:4]
    for name in ("hf-int4", "hf-kv2"):
        cand = engines.load_engine(cfg.candidates[name], cache)
        approx, full = [], []
        for w in windows:
            ids = torch.tensor([w.token_ids])
            scored = slice(w.first_scored - 1, len(w.token_ids) - 1)
            p, q = base._forward_logprobs(ids)[0][scored], cand._forward_logprobs(ids)[0][scored]
            full.append((p.exp() * (p - q)).sum(-1).numpy())
            top_lp, top_ids = p.topk(32, dim=-1)
            approx.append(drift.kl_topk(top_lp.double().numpy(), q.gather(-1, top_ids).double().numpy()))
        ratio = np.concatenate(approx).mean() / np.concatenate(full).mean()
        assert TOLERANCE[0] <= ratio <= TOLERANCE[1], (name, ratio)
        cand.close()
    base.close()


def test_kld_rises_as_precision_falls_int8_passes_kv2_fails(pytester: pytest.Pytester, repo_snapshots: str) -> None:
    pytester.makefile(".toml", quantgate=demo_config(snapshot_dir=repo_snapshots, extra=CANDIDATES))
    result = pytester.runpytest_inprocess(
        "--quant-candidate=hf-int8,hf-int4,hf-kv4,hf-kv2", "-m", "drift", "--quantgate-suite=only",
        "--quantgate-report=r.json", "-p", "no:cacheprovider",
    )
    result.assert_outcomes(passed=2, failed=2)
    report = {name: gates["drift"] for name, gates in reports.by_candidate(pytester.path / "r.json").items()}
    kld = {name: entry["metrics"]["mean_kld"] for name, entry in report.items()}
    assert kld["hf-int8"] < kld["hf-int4"]
    assert kld["hf-kv4"] < kld["hf-kv2"]
    assert report["hf-int8"]["verdict"] == "pass" and report["hf-kv4"]["verdict"] == "pass"
    assert report["hf-int4"]["verdict"] == "fail" and report["hf-kv2"]["verdict"] == "fail"
    kv2 = report["hf-kv2"]
    assert "beyond the limit" in kv2["reason"]
    assert kv2["metrics"]["ppl_ratio"] > 1.5 and kv2["metrics"]["top1_outside_baseline_top5"] > 0.1
    for entry in report.values():
        assert entry["baseline_source"] == "record" and entry["engines"]["baseline_loaded"] is False
        assert entry["metrics"]["positions"] > 2000
