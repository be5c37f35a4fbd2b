"""The drift gate's metric code (properties on generated distributions)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pytest_quantgate.gates.drift.thresholds import DriftThresholds
from pytest_quantgate.gates.drift import decision as drift

VOCAB = 12


def log_softmax(x: np.ndarray) -> np.ndarray:
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


logits = arrays(np.float64, (6, VOCAB), elements=st.floats(-8, 8))


def windows(p_logits: np.ndarray, q_logits: np.ndarray, k: int, wid: str = "w"):
    """A baseline and candidate window from full distributions, as the records keep them."""
    p, q = log_softmax(p_logits), log_softmax(q_logits)
    top_ids = np.argsort(-p, axis=-1, kind="stable")[:, :k]
    actual = np.zeros(len(p), dtype=int)
    base = drift.BaselineWindow(wid, top_ids, np.take_along_axis(p, top_ids, -1), p[np.arange(len(p)), actual])
    cand = drift.CandidateWindow(wid, np.take_along_axis(q, top_ids, -1), q[np.arange(len(q)), actual], q.argmax(axis=-1))
    return base, cand, p, q


@given(logits, st.integers(5, VOCAB))
def test_kld_of_a_distribution_with_itself_is_zero_and_same_top1_is_one(x, k) -> None:
    base, cand, _, _ = windows(x, x, k)
    metrics = drift.position_metrics(base, cand)
    assert np.allclose(metrics["kld"], 0.0, atol=1e-9)
    ties = (np.sort(x, axis=-1)[:, -1] == np.sort(x, axis=-1)[:, -2])
    assert np.all(metrics["same_top1"][~ties] == 1.0)
    assert np.allclose(metrics["delta_p"], 0.0)


@given(logits, logits, st.integers(5, VOCAB))
def test_topk_kld_bound_is_non_negative_and_never_above_the_full_kld(x, y, k) -> None:
    base, cand, p, q = windows(x, y, k)
    bound = drift.kl_lower_bound(base.top_logprobs, cand.gathered_logprobs)
    estimate = drift.kl_estimate(base.top_logprobs, cand.gathered_logprobs)
    full = np.sum(np.exp(p) * (p - q), axis=-1)
    assert np.all(bound >= 0.0)
    assert np.all(bound <= full + 1e-9)  # coarse-graining never adds divergence
    assert np.all(estimate >= bound - 1e-12)  # the estimate only adds what the rest bin hides
    if k == VOCAB:  # nothing outside the named tokens: both are the full KL
        assert np.allclose(bound, full, atol=1e-9) and np.allclose(estimate, full, atol=1e-9)


def test_the_estimate_recovers_the_divergence_the_rest_bin_hides() -> None:
    """Noise of one size on every logit (as quantization adds): the bound loses what the
    rest diverges within itself, the estimate gets it back."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 2000)) * 1.5
    p, q = log_softmax(x), log_softmax(x + rng.normal(size=x.shape) * 0.3)
    top = np.argsort(-p, axis=-1)[:, :256]
    named_p, named_q = np.take_along_axis(p, top, -1), np.take_along_axis(q, top, -1)
    full = np.sum(np.exp(p) * (p - q), axis=-1).mean()
    assert drift.kl_lower_bound(named_p, named_q).mean() < 0.7 * full  # a third of the mass unnamed
    assert abs(drift.kl_estimate(named_p, named_q).mean() / full - 1) < 0.05
    assert 0.1 < drift.rest_mass(named_p).mean() < 0.9


@given(arrays(np.int64, (7, 9), elements=st.integers(0, 2**31 - 1)), arrays(np.float64, (7, 9), elements=st.floats(-30, 0)))
def test_a_packed_top_table_reads_back(ids, logprobs) -> None:
    packed = drift.pack_top(ids.tolist(), logprobs.tolist())
    back_ids, back_lp = drift.unpack_top(packed, 7)
    assert np.array_equal(back_ids, ids)
    assert np.allclose(back_lp, logprobs, atol=0.02, rtol=1e-3)  # float16


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(logits, logits), min_size=2, max_size=5), st.randoms(use_true_random=False))
def test_results_do_not_depend_on_window_order(pairs, rnd) -> None:
    made = [windows(x, y, 6, f"w{i}")[:2] for i, (x, y) in enumerate(pairs)]
    shuffled = made[:]
    rnd.shuffle(shuffled)
    a = drift.evaluate([b for b, _ in made], [c for _, c in made], DriftThresholds())
    b = drift.evaluate([b for b, _ in shuffled], [c for _, c in shuffled], DriftThresholds())
    for key in ("mean_kld", "mean_kld_lower_bound", "baseline_rest_mass", "same_top1", "ppl_ratio", "rms_delta_p",
                "kld_percentiles", "top1_outside_baseline_top5"):
        assert a.metrics[key] == b.metrics[key]


def test_identical_models_pass_and_a_shifted_one_fails() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, VOCAB)) * 3
    same = [windows(x[i : i + 4], x[i : i + 4], 8, f"w{i}")[:2] for i in range(0, 40, 4)]
    verdict = drift.evaluate([b for b, _ in same], [c for _, c in same], DriftThresholds())
    assert verdict.verdict == "pass" and verdict.metrics["ppl_ratio"] == 1.0
    y = x + rng.normal(size=x.shape) * 4
    broken = [windows(x[i : i + 4], y[i : i + 4], 8, f"w{i}")[:2] for i in range(0, 40, 4)]
    verdict = drift.evaluate([b for b, _ in broken], [c for _, c in broken], DriftThresholds())
    assert verdict.verdict == "fail"
    assert set(verdict.metrics["kld_percentiles"]) == {"p99_9", "p99", "p95", "p90", "p50", "p10", "p5", "p1", "p0_1", "max", "min"}
    assert verdict.failed_cases and "mean KLD" in verdict.failed_cases[0].problems[0]


def test_no_windows_is_an_error() -> None:
    assert drift.evaluate([], [], DriftThresholds()).verdict == "error"


def test_ids_outside_the_engines_own_top_k_are_taken_at_its_floor_and_their_mass_reported() -> None:
    """vLLM without per-id prompt log-probs returns its own top-k: an id the baseline named
    that the candidate ranks below it is NaN, filled at the lowest log-prob returned there."""
    from pytest_quantgate.engines.base import ScoredSequence, TokenLogprobs

    ids = tuple(range(8))  # scored rows 4..6
    steps = tuple(TokenLogprobs(ids[p + 1], -0.5, ((ids[p + 1], -0.5),)) for p in range(7))
    gathered = tuple((-0.5, -1.5, float("nan")) if p >= 4 else () for p in range(7))
    scored = ScoredSequence(ids, steps, gathered, gather_floor=(-9.0,) * 7)
    window = drift.candidate_window("w", scored)
    assert window.gathered_logprobs[:, 2].tolist() == [-9.0, -9.0, -9.0]
    assert window.unseen is not None and window.unseen[:, 2].all() and not window.unseen[:, :2].any()

    base = drift.BaselineWindow("w", np.tile([5, 6, 7], (3, 1)), np.log(np.tile([0.6, 0.3, 0.05], (3, 1))), np.full(3, -0.5))
    verdict = drift.evaluate([base], [window], DriftThresholds())
    assert verdict.metrics["candidate_unseen_mass"] == 0.05
    seen = drift.candidate_window("w", ScoredSequence(ids, steps, tuple((-0.5, -1.5, -3.0) if p >= 4 else () for p in range(7))))
    assert seen.unseen is None and drift.evaluate([base], [seen], DriftThresholds()).metrics["candidate_unseen_mass"] == 0.0
