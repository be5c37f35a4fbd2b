"""Next-token drift: the candidate's distribution against the baseline's on the same text.

The reference practice is llama.cpp's `llama-perplexity --kl-divergence`: the baseline's
log-probabilities are stored once, the candidate scores the same tokens, and only the second
half of each context window is scored so every scored token has context. The baseline keeps
its top-k log-probs per position (k=256, packed into the record); the candidate's log-probs for
those same k tokens are gathered. With the rest of the vocabulary as one more bin on each side
the KL divergence is a lower bound of the full-vocabulary one (data processing inequality: 73-82%
of it at k=32 on the demo's GGUF ladder, 89-93% at k=256). The gate decides on an estimate
instead: the bound plus the baseline's rest mass times the divergence of the two models within
the k named tokens (renormalised), i.e. the rest of the vocabulary taken to diverge as the named
part does. At k=256 that estimate held 97.5-99.5% of the full-vocabulary KLD on hf int8/int4/
2-bit-KV and GGUF Q8_0/Q4_K_M/Q2_K (tests/real/test_drift_engines.py checks it within 5%); the
bound and the rest mass are reported beside it.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy.special import logsumexp

from ...stats import combine, mean_noninferiority
from ..verdict import CaseOutcome, GateVerdict
from .thresholds import DriftThresholds

GATE = "drift"
PERCENTILES = (99.9, 99, 95, 90, 50, 10, 5, 1, 0.1)


@dataclass(frozen=True)
class BaselineWindow:
    """The baseline's scores for one window's scored positions (shape P x k for the tops)."""

    window_id: str
    top_ids: np.ndarray
    top_logprobs: np.ndarray
    actual_logprobs: np.ndarray  # log p(the token that actually came next)


@dataclass(frozen=True)
class CandidateWindow:
    window_id: str
    gathered_logprobs: np.ndarray  # P x k: log q at the baseline's top-k ids
    actual_logprobs: np.ndarray
    top1_ids: np.ndarray
    # P x k: ids the engine could not score (outside its own top-k, vLLM's V1 runner), taken at
    # its lowest returned log-prob; None where every id was scored.
    unseen: np.ndarray | None = None


def kl_lower_bound(p_logprobs: np.ndarray, q_logprobs: np.ndarray) -> np.ndarray:
    """KL(P || Q) per row over k named tokens plus one bin for the rest of the vocabulary:
    never above the full-vocabulary KL."""
    p = np.exp(p_logprobs)
    q = np.exp(q_logprobs)
    named = np.sum(p * (p_logprobs - q_logprobs), axis=-1)
    p_rest = rest_mass(p_logprobs)
    q_rest = np.clip(1.0 - q.sum(axis=-1), 1e-12, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rest = np.where(p_rest > 0, p_rest * (np.log(np.maximum(p_rest, 1e-300)) - np.log(q_rest)), 0.0)
    return np.maximum(named + rest, 0.0)  # clip float noise: KL is never negative


def kl_estimate(p_logprobs: np.ndarray, q_logprobs: np.ndarray) -> np.ndarray:
    """The full-vocabulary KL(P || Q) per row, estimated from k named tokens: the lower bound
    plus what the one rest bin hides, the rest mass times the divergence within the rest,
    taken to be the divergence within the named tokens (both renormalised over them)."""
    p_named = p_logprobs - logsumexp(p_logprobs, axis=-1, keepdims=True)
    q_named = q_logprobs - logsumexp(q_logprobs, axis=-1, keepdims=True)
    within = np.maximum(np.sum(np.exp(p_named) * (p_named - q_named), axis=-1), 0.0)
    return kl_lower_bound(p_logprobs, q_logprobs) + rest_mass(p_logprobs) * within


def rest_mass(logprobs: np.ndarray) -> np.ndarray:
    """Probability outside the named tokens, per row."""
    return np.clip(1.0 - np.exp(logprobs).sum(axis=-1), 0.0, 1.0)


def _percentiles(values: np.ndarray) -> dict[str, float]:
    out = {f"p{str(p).replace('.', '_')}": float(np.percentile(values, p)) for p in PERCENTILES}
    out.update(max=float(values.max()), min=float(values.min()))
    return {k: round(v, 6) for k, v in out.items()}


def position_metrics(base: BaselineWindow, cand: CandidateWindow) -> dict[str, np.ndarray]:
    base_top1 = base.top_ids[:, 0]
    return {
        "kld": kl_estimate(base.top_logprobs, cand.gathered_logprobs),
        "kld_bound": kl_lower_bound(base.top_logprobs, cand.gathered_logprobs),
        "rest_mass": rest_mass(base.top_logprobs),
        "unseen_mass": np.zeros(len(base_top1)) if cand.unseen is None else (np.exp(base.top_logprobs) * cand.unseen).sum(axis=-1),
        "same_top1": (cand.top1_ids == base_top1).astype(float),
        "top1_outside_base_top5": (~(base.top_ids[:, :5] == cand.top1_ids[:, None]).any(axis=1)).astype(float),
        "delta_p": np.exp(cand.actual_logprobs) - np.exp(base.actual_logprobs),
        "nll_base": -base.actual_logprobs,
        "nll_cand": -cand.actual_logprobs,
    }


def _window_problems(window: dict[str, np.ndarray], limits: DriftThresholds) -> tuple[str, ...]:
    problems = []
    if window["kld"].mean() > limits.max_mean_kld:
        problems.append(f"mean KLD {window['kld'].mean():.4g} > {limits.max_mean_kld:g}")
    if window["same_top1"].mean() < limits.min_same_top1:
        problems.append(f"same top-1 {window['same_top1'].mean():.1%} < {limits.min_same_top1:.0%}")
    return tuple(problems)


def evaluate(baseline: Sequence[BaselineWindow], candidate: Sequence[CandidateWindow], limits: DriftThresholds) -> GateVerdict:
    thresholds = {
        "max_mean_kld": limits.max_mean_kld,
        "max_p99_kld": limits.max_p99_kld,
        "min_same_top1": limits.min_same_top1,
        "confidence": limits.confidence,
    }
    if not baseline or len(baseline) != len(candidate):
        return GateVerdict(GATE, "error", "no scored windows, or baseline and candidate windows differ", thresholds=thresholds)
    per_window = [position_metrics(b, c) for b, c in zip(baseline, candidate)]
    pooled = {key: np.concatenate([w[key] for w in per_window]) for key in per_window[0]}
    n = pooled["kld"].size
    kld, dp = pooled["kld"], pooled["delta_p"]
    diff = pooled["nll_cand"] - pooled["nll_base"]
    ln_ratio, ln_ratio_se = float(diff.mean()), float(diff.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0
    same = float(pooled["same_top1"].mean())
    metrics: dict[str, Any] = {
        "positions": n,
        "windows": len(per_window),
        "mean_kld": round(float(kld.mean()), 6),
        "mean_kld_se": round(float(kld.std(ddof=1) / np.sqrt(n)) if n > 1 else 0.0, 6),
        # The estimate above is what is decided on; the bound is what the named tokens alone
        # prove, and the rest mass says how much of the baseline's distribution was not named.
        "kld_method": f"estimate over the baseline's top-{baseline[0].top_ids.shape[1]} (llama.cpp: full vocabulary)",
        "mean_kld_lower_bound": round(float(pooled["kld_bound"].mean()), 6),
        "baseline_rest_mass": {"mean": round(float(pooled["rest_mass"].mean()), 6),
                               "p90": round(float(np.percentile(pooled["rest_mass"], 90)), 6)},
        # Baseline probability on named ids the candidate's engine could only bound (outside
        # its own top-k: vLLM without per-id prompt log-probs); 0 where every id was scored.
        "candidate_unseen_mass": round(float(pooled["unseen_mass"].mean()), 6),
        "kld_percentiles": _percentiles(kld),
        "same_top1": round(same, 4),
        "same_top1_se": round(float(np.sqrt(same * (1 - same) / n)), 4),
        "top1_outside_baseline_top5": round(float(pooled["top1_outside_base_top5"].mean()), 4),
        "mean_delta_p": round(float(dp.mean()), 6),
        "rms_delta_p": round(float(np.sqrt(np.mean(dp**2))), 6),
        "delta_p_percentiles": _percentiles(dp),
        "ppl_baseline": round(float(np.exp(pooled["nll_base"].mean())), 4),
        "ppl_candidate": round(float(np.exp(pooled["nll_cand"].mean())), 4),
        "ppl_ratio": round(float(np.exp(ln_ratio)), 6),
        # ln(PPL_c/PPL_b) is the mean of paired per-token differences, so its error comes from
        # their spread: the correlation between the two models' NLLs is accounted for.
        "ppl_ratio_se": round(float(np.exp(ln_ratio) * ln_ratio_se), 6),
        "nll_correlation": round(float(np.corrcoef(pooled["nll_base"], pooled["nll_cand"])[0, 1]), 6) if n > 1 else 1.0,
    }
    decisions = {
        "mean_kld": mean_noninferiority([w["kld"].mean() for w in per_window], limits.max_mean_kld,
                                        confidence=limits.confidence, what="mean KLD"),
        "same_top1": mean_noninferiority([w["same_top1"].mean() for w in per_window], limits.min_same_top1,
                                         higher_is_worse=False, confidence=limits.confidence, what="same top-1"),
    }
    p99 = metrics["kld_percentiles"]["p99"]
    p99_ok = p99 <= limits.max_p99_kld
    metrics["decisions"] = {k: d.to_dict() for k, d in decisions.items()}
    verdict = combine([d.decision for d in decisions.values()] + ([] if p99_ok else ["fail"]))
    reasons = [d.reason for d in decisions.values()]
    reasons.append(f"p99 KLD {p99:.4g} {'within' if p99_ok else 'beyond'} the limit {limits.max_p99_kld:g}")
    cases = tuple(
        CaseOutcome(
            case_id=b.window_id,
            passed=not _window_problems(w, limits),
            problems=_window_problems(w, limits),
            details={"mean_kld": round(float(w["kld"].mean()), 6), "max_kld": round(float(w["kld"].max()), 6),
                     "same_top1": round(float(w["same_top1"].mean()), 4)},
        )
        for b, w in zip(baseline, per_window)
    )
    key = f"KLD {metrics['mean_kld']:.4f}, same top-1 {same:.1%}, PPL ratio {metrics['ppl_ratio']:.4f}"
    return GateVerdict(GATE, verdict, "; ".join(reasons), metrics, thresholds, key, cases)


# -- between engine results / records and the gate's arrays ------------------------------------
# Which logit rows of a window are scored, as llama.cpp's `llama-perplexity --kl-divergence`
# scores them (first = n_ctx/2; n_ctx - 1 - first rows: 127 of a 256-token window). Part of the
# records' key, so records scored over other rows read as stale.
SCORED_ROWS = "n/2..n-2"


def _scored_positions(token_ids: Sequence[int]) -> range:
    """Logit rows n/2 .. n-2 (each predicts the next token): every scored token has at least
    half a window of context."""
    return range(len(token_ids) // 2, len(token_ids) - 1)


def baseline_record(token_ids: Sequence[int], scored: Any, top_k: int) -> dict[str, Any]:
    """What the baseline run stores for one window: the actual tokens' log-probs as numbers
    (rounded to 1e-5), the top-k table packed (pack_top)."""
    steps = [scored.logprobs[p] for p in _scored_positions(token_ids)]
    return {
        "token_ids": list(token_ids),
        "top": pack_top([[t for t, _ in s.top[:top_k]] for s in steps], [[lp for _, lp in s.top[:top_k]] for s in steps]),
        "actual_lp": [round(s.logprob, 5) for s in steps],
    }


def pack_top(ids: Sequence[Sequence[int]], logprobs: Sequence[Sequence[float]]) -> dict[str, Any]:
    """A positions x k table of token ids (int32) and log-probs (float16: 3 significant digits,
    0.4% of a probability at log-prob -10), each zlib-compressed and base64-encoded: 256 per
    position fit in a record of a few MB where JSON numbers would take eight times that."""
    id_array, lp_array = np.asarray(ids, dtype="<i4"), np.asarray(logprobs, dtype="<f2")
    return {
        "k": int(id_array.shape[1]) if id_array.ndim == 2 else 0,
        "ids": base64.b64encode(zlib.compress(id_array.tobytes(), 9)).decode("ascii"),
        "logprobs": base64.b64encode(zlib.compress(lp_array.tobytes(), 9)).decode("ascii"),
    }


def unpack_top(packed: dict[str, Any], positions: int) -> tuple[np.ndarray, np.ndarray]:
    shape = (positions, int(packed["k"]))
    ids = np.frombuffer(zlib.decompress(base64.b64decode(packed["ids"])), dtype="<i4").reshape(shape)
    logprobs = np.frombuffer(zlib.decompress(base64.b64decode(packed["logprobs"])), dtype="<f2").reshape(shape)
    return ids.astype(np.int64), logprobs.astype(np.float64)


def baseline_window(window_id: str, record: dict[str, Any]) -> BaselineWindow:
    actual = np.asarray(record["actual_lp"], dtype=np.float64)
    if "top" in record:
        ids, logprobs = unpack_top(record["top"], len(actual))
    else:  # records made before the table was packed
        ids, logprobs = np.asarray(record["top_ids"], dtype=np.int64), np.asarray(record["top_lp"], dtype=np.float64)
    return BaselineWindow(window_id, ids, logprobs, actual)


def gather_request(window: BaselineWindow, length: int) -> list[list[int]]:
    """Per position of a window of `length` tokens: the baseline's top-k ids where scored."""
    first = _scored_positions(range(length)).start
    return [[] for _ in range(first)] + [list(map(int, row)) for row in window.top_ids]


def candidate_window(window_id: str, scored: Any) -> CandidateWindow:
    positions = _scored_positions(scored.token_ids)
    gathered = np.asarray([scored.gathered[p] for p in positions], dtype=np.float64)
    unseen = np.isnan(gathered)
    if unseen.any():  # below the engine's own top-k: at most its floor, taken at it
        floor = np.asarray([scored.gather_floor[p] for p in positions], dtype=np.float64)[:, None]
        gathered = np.where(unseen, floor, gathered)
    return CandidateWindow(
        window_id,
        gathered,
        np.asarray([scored.logprobs[p].logprob for p in positions], dtype=np.float64),
        np.asarray([scored.logprobs[p].top[0][0] for p in positions], dtype=np.int64),
        unseen if unseen.any() else None,
    )
