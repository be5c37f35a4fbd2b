"""Latency/load gate: the candidate's serving metrics as ratios to the baseline's, measured in
the same run under the same traffic, alternately (A B A B).

Per traffic shape, each budget is read on every round pair (baseline round i, candidate round
i, measured back to back). It passes when the median round pair is inside it, so one round
that a shared machine disturbed does not decide; it fails when every round pair is outside
it; otherwise the machine's own drift is as large as the effect and the verdict is
underpowered (more rounds or requests resolve it). The ratio over all rounds pooled is
reported beside. Errors and timeouts above their budget, and
absolute SLOs (goodput), fail outright. Memory is reported beside, never traded for speed: a
candidate that is slower fails whatever it saves.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from ..verdict import CaseOutcome, GateVerdict
from .metrics import RunMetrics
from .thresholds import LatencyThresholds

LABELS = {"ttft": "TTFT", "tpot": "TPOT", "itl": "ITL", "e2el": "E2E"}


@dataclass(frozen=True)
class ShapeComparison:
    """One traffic shape: each model's rounds (in the order run) and their pooled metrics."""

    shape: str
    baseline_rounds: tuple[RunMetrics, ...]
    candidate_rounds: tuple[RunMetrics, ...]
    baseline: RunMetrics
    candidate: RunMetrics


@dataclass(frozen=True)
class _Check:
    outcome: str  # pass | fail | underpowered | error
    problem: str
    details: Mapping[str, Any]
    severity: float = 0.0  # how far outside its budget (the reason leads with the worst)


def _ratio(candidate: float, baseline: float) -> float:
    return candidate / baseline if baseline > 0 else float("inf") if candidate > 0 else 1.0


def _budget(name: str, pooled: float, rounds: Sequence[float], budget: float, higher_is_worse: bool) -> _Check:
    """A ratio budget decided on the round pairs: the median pair inside it passes; every
    pair outside it fails; anything else is underpowered."""
    describe = f"<= {budget:g}x" if higher_is_worse else f">= {budget:g}x"
    rounds = list(rounds) or [pooled]
    typical = statistics.median(rounds)
    details = {
        "ratio": round(typical, 4), "pooled_ratio": round(pooled, 4), "round_ratios": [round(r, 4) for r in rounds], "budget": describe,
    }

    def over(ratio: float) -> float:
        return ratio / budget if higher_is_worse else (budget / ratio if ratio > 0 else float("inf"))

    if over(typical) <= 1:
        return _Check("pass", "", details)
    spread = f"rounds {min(rounds):.2f}x to {max(rounds):.2f}x, pooled {pooled:.2f}x" if len(rounds) > 1 else "one round"
    if all(over(r) > 1 for r in rounds):
        return _Check("fail", f"{name} {typical:.2f}x the baseline's (budget {describe}; {spread})", details, over(typical))
    return _Check(
        "underpowered",
        f"{name} {typical:.2f}x the baseline's is over budget {describe} but the rounds disagree ({spread}): "
        "raise gates.latency.rounds or num_requests",
        details,
        over(typical),
    )


def _checks(c: ShapeComparison, limits: LatencyThresholds) -> dict[str, _Check]:
    checks: dict[str, _Check] = {}
    if c.baseline.error_rate > limits.max_error_rate:
        checks["baseline errors"] = _Check(
            "error",
            f"the baseline itself failed {c.baseline.errors} and timed out {c.baseline.timeouts} of {c.baseline.sent} "
            "requests: the comparison is meaningless (check the baseline's server, time_limit_s, request_timeout_s)",
            {"errors": c.baseline.errors, "timeouts": c.baseline.timeouts},
            float("inf"),
        )
    bad = c.candidate.error_rate > limits.max_error_rate
    checks["errors"] = _Check(
        "fail" if bad else "pass",
        f"{c.candidate.errors} errors and {c.candidate.timeouts} timeouts in {c.candidate.sent} requests "
        f"(error rate {c.candidate.error_rate:.1%} > {limits.max_error_rate:.1%})" if bad else "",
        {"errors": c.candidate.errors, "timeouts": c.candidate.timeouts, "error_rate": c.candidate.error_rate},
        float("inf") if bad else 0.0,
    )
    pairs = list(zip(c.baseline_rounds, c.candidate_rounds))
    for key, budget in sorted(limits.max_ratio.items()):
        metric, statistic = key.split("_", 1)
        name = f"{LABELS[metric]} {statistic}"
        checks[key] = _budget(
            name,
            _ratio(c.candidate.value(key), c.baseline.value(key)),
            [_ratio(cand.value(key), base.value(key)) for base, cand in pairs],
            budget,
            higher_is_worse=True,
        )
    if limits.min_throughput_ratio > 0:
        checks["output_throughput"] = _budget(
            "output throughput",
            _ratio(c.candidate.output_throughput, c.baseline.output_throughput),
            [_ratio(cand.output_throughput, base.output_throughput) for base, cand in pairs],
            limits.min_throughput_ratio,
            higher_is_worse=False,
        )
    if limits.slo and c.candidate.good_share is not None:
        ok = c.candidate.good_share >= limits.min_goodput
        checks["goodput"] = _Check(
            "pass" if ok else "fail",
            "" if ok else (
                f"{c.candidate.good_share:.0%} of requests meet the SLOs {dict(limits.slo)} "
                f"(needs {limits.min_goodput:.0%}; baseline {c.baseline.good_share:.0%})"
            ),
            {"good_share": c.candidate.good_share, "baseline_good_share": c.baseline.good_share},
            0.0 if ok else 1 + limits.min_goodput - c.candidate.good_share,
        )
    return checks


def _typical(c: ShapeComparison, value: Any) -> float:
    """The median round pair's candidate/baseline ratio (what the budgets are decided on)."""
    rounds = [_ratio(value(cand), value(base)) for base, cand in zip(c.baseline_rounds, c.candidate_rounds)]
    return statistics.median(rounds) if rounds else _ratio(value(c.candidate), value(c.baseline))


def _key_metric(comparisons: Sequence[ShapeComparison], limits: LatencyThresholds) -> str:
    worst = comparisons[-1]  # the heaviest load is listed last
    parts = [
        f"{LABELS[k.split('_')[0]]} {k.split('_', 1)[1]} {_typical(worst, lambda m, k=k: m.value(k)):.2f}x"
        for k in sorted(limits.max_ratio)
    ]
    parts.append(f"tok/s {_typical(worst, lambda m: m.output_throughput):.2f}x")
    return f"{worst.shape}: " + ", ".join(parts)


def evaluate(
    comparisons: Sequence[ShapeComparison], limits: LatencyThresholds, memory: Mapping[str, Any] | None = None
) -> GateVerdict:
    if not comparisons:
        raise ValueError("the latency gate needs at least one traffic shape")
    checks = [(f"{c.shape}:{name}", check) for c in comparisons for name, check in _checks(c, limits).items()]
    cases = [
        CaseOutcome(case_id, check.outcome == "pass", (check.problem,) if check.problem else (), check.details)
        for case_id, check in checks
    ]
    outcomes = {check.outcome for _, check in checks}
    verdict = next((v for v in ("error", "fail", "underpowered") if v in outcomes), "pass")
    if verdict == "pass":
        reason = f"within every budget at {len(comparisons)} traffic shape(s), {limits.rounds} round(s) each"
    else:
        decisive = sorted(((cid, c) for cid, c in checks if c.outcome == verdict), key=lambda item: -item[1].severity)
        case_id, worst = decisive[0]
        reason = f"{case_id.split(':')[0]}: {worst.problem}" + (f" (+{len(decisive) - 1} more)" if len(decisive) > 1 else "")
    metrics = {
        "shapes": {
            c.shape: {
                "baseline": c.baseline.to_dict(),
                "candidate": c.candidate.to_dict(),
                "rounds": {
                    "baseline": [r.to_dict() for r in c.baseline_rounds],
                    "candidate": [r.to_dict() for r in c.candidate_rounds],
                },
            }
            for c in comparisons
        },
        "memory": dict(memory or {}),
    }
    thresholds = {
        "max_ratio": dict(limits.max_ratio),
        "min_throughput_ratio": limits.min_throughput_ratio,
        "max_error_rate": limits.max_error_rate,
        "rounds": limits.rounds,
        "num_requests": limits.num_requests,
    }
    if limits.slo:
        thresholds |= {"slo": dict(limits.slo), "min_goodput": limits.min_goodput}
    return GateVerdict(
        gate="latency",
        verdict=verdict,  # type: ignore[arg-type]
        reason=reason,
        metrics=metrics,
        thresholds=thresholds,
        key_metric=_key_metric(comparisons, limits),
        cases=tuple(cases),
    )
