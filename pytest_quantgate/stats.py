"""Paired statistics every gate decides with.

The same cases go to baseline and candidate, so outcomes are paired: what matters is how
many cases flipped each way. Decisions are one-sided non-inferiority tests: the candidate
passes when the upper confidence bound of its loss stays inside the margin, fails when its
observed loss is already beyond the margin, and is *underpowered* in between, with the
number of cases that would resolve the question. A candidate that is better never fails.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal, Sequence

import numpy as np
import scipy.optimize
from scipy import stats as _scipy

Decision = Literal["pass", "fail", "underpowered"]
MAX_CASES_NEEDED = 1_000_000


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Wilson score interval for a binomial proportion."""
    if n == 0:
        return 0.0, 1.0
    ci = _scipy.binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def wilson_upper(successes: int, n: int, confidence: float = 0.95) -> float:
    """One-sided upper Wilson bound at `confidence` (the two-sided interval at 2c-1)."""
    return wilson_interval(successes, n, 2 * confidence - 1)[1]


def wilson_lower(successes: int, n: int, confidence: float = 0.95) -> float:
    return wilson_interval(successes, n, 2 * confidence - 1)[0]


def mcnemar_exact(pass_to_fail: int, fail_to_pass: int, alternative: str = "two-sided") -> float:
    """Exact McNemar test: a binomial test on the discordant pairs. alternative='greater' asks
    whether pass->fail flips outnumber fail->pass flips (the candidate is worse)."""
    discordant = pass_to_fail + fail_to_pass
    if discordant == 0:
        return 1.0
    return float(_scipy.binomtest(pass_to_fail, discordant, 0.5, alternative=alternative).pvalue)


def bootstrap_mean_ci(values: Sequence[float], confidence: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (two-sided), reproducible from `seed`."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return float("nan"), float("nan")
    if data.size == 1 or np.all(data == data[0]):
        return float(data[0]), float(data[0])
    res = _scipy.bootstrap(
        (data,), np.mean, confidence_level=confidence, n_resamples=2000, method="percentile",
        random_state=np.random.default_rng(seed),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


@dataclass(frozen=True)
class PairedOutcomes:
    """Per-case pass/fail of baseline and candidate on the same cases."""

    both_pass: int
    pass_to_fail: int
    fail_to_pass: int
    both_fail: int

    @classmethod
    def from_pairs(cls, baseline: Sequence[bool], candidate: Sequence[bool]) -> "PairedOutcomes":
        if len(baseline) != len(candidate):
            raise ValueError("paired outcomes need the same cases on both sides")
        pairs = list(zip(map(bool, baseline), map(bool, candidate)))
        return cls(
            both_pass=pairs.count((True, True)),
            pass_to_fail=pairs.count((True, False)),
            fail_to_pass=pairs.count((False, True)),
            both_fail=pairs.count((False, False)),
        )

    @property
    def n(self) -> int:
        return self.both_pass + self.pass_to_fail + self.fail_to_pass + self.both_fail

    @property
    def baseline_rate(self) -> float:
        return (self.both_pass + self.pass_to_fail) / self.n if self.n else 0.0

    @property
    def candidate_rate(self) -> float:
        return (self.both_pass + self.fail_to_pass) / self.n if self.n else 0.0

    @property
    def loss(self) -> float:
        """Observed drop of the pass rate (negative when the candidate is better)."""
        return (self.pass_to_fail - self.fail_to_pass) / self.n if self.n else 0.0


@dataclass(frozen=True)
class NonInferiority:
    decision: Decision
    estimate: float
    bound: float
    margin: float
    confidence: float
    cases_needed: int | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def tango_z(pass_to_fail: int, fail_to_pass: int, n: int, loss: float) -> float:
    """Tango's (1998) score statistic for a paired loss of `loss`: (b - c - n*loss) over its
    standard error at the restricted maximum-likelihood cell rates (the fail->pass rate q that
    maximizes the likelihood given pass->fail = q + loss). Negative: the observed loss is
    below `loss`."""
    b, c = pass_to_fail, fail_to_pass
    if loss < 0:  # the same statistic with the roles of the two flips swapped
        return -tango_z(c, b, n, -loss)
    concordant = n - b - c
    linear = b * (1 - loss) + c * (1 - 3 * loss) - 2 * concordant * loss
    q = (linear + math.sqrt(linear * linear + 8 * n * c * loss * (1 - loss))) / (4 * n)
    variance = n * (2 * q + loss * (1 - loss))
    if variance <= 0:
        return 0.0 if b - c == n * loss else math.copysign(math.inf, b - c - n * loss)
    return (b - c - n * loss) / math.sqrt(variance)


def loss_bound(pass_to_fail: int, fail_to_pass: int, n: int, confidence: float, side: str = "upper") -> float:
    """One-sided bound of the pass-rate loss (pass->fail rate less fail->pass rate) at
    `confidence`: Tango's score interval, the paired-difference interval that holds its level
    where a bound on one flip direction alone does not (tests/fast/test_sequential.py)."""
    z = float(_scipy.norm.ppf(confidence))
    estimate = (pass_to_fail - fail_to_pass) / n
    target, end = (-z, 1.0) if side == "upper" else (z, -1.0)

    def gap(loss: float) -> float:
        return tango_z(pass_to_fail, fail_to_pass, n, loss) - target

    edge = end - math.copysign(1e-12, end)
    if (gap(edge) > 0) == (side == "upper"):  # even the most extreme loss is inside the interval
        return end
    return float(scipy.optimize.brentq(gap, estimate, edge, xtol=1e-9))


def paired_noninferiority(outcomes: PairedOutcomes, margin: float, confidence: float = 0.95) -> NonInferiority:
    n = outcomes.n
    if n == 0:
        return NonInferiority("underpowered", 0.0, 1.0, margin, confidence, None, "no paired cases")
    b, c = outcomes.pass_to_fail, outcomes.fail_to_pass
    bound = loss_bound(b, c, n, confidence)
    estimate = outcomes.loss
    flips = f"{b} pass->fail vs {c} fail->pass flip(s) in {n} cases"
    p = mcnemar_exact(b, c, alternative="greater")
    if bound <= margin:
        return NonInferiority(
            "pass", estimate, bound, margin, confidence, None,
            f"{flips}; loss {estimate:.1%}, upper {confidence:.0%} bound {bound:.2%} within the {margin:.0%} margin",
        )
    if estimate > margin:
        return NonInferiority(
            "fail", estimate, bound, margin, confidence, None,
            f"{flips}; loss {estimate:.1%} exceeds the {margin:.0%} margin (exact McNemar one-sided p={p:.3g})",
        )
    needed = cases_needed(b / n, c / n, margin, confidence, n)
    return NonInferiority(
        "underpowered", estimate, bound, margin, confidence, needed,
        f"{flips}; loss {estimate:.1%} but upper bound {bound:.2%} exceeds the {margin:.0%} margin: underpowered, "
        + (f"about {needed} cases at these rates would resolve it" if needed else "at these rates no number of cases would resolve it"),
    )


def no_lost_case(outcomes: PairedOutcomes) -> NonInferiority:
    """The strict rule for a handful of hand-written regression cases, where statistics cannot
    resolve anything: every case that held for the baseline must hold for the candidate."""
    b, c, n = outcomes.pass_to_fail, outcomes.fail_to_pass, outcomes.n
    flips = f"{b} pass->fail vs {c} fail->pass flip(s) in {n} cases"
    if b:
        return NonInferiority("fail", outcomes.loss, outcomes.loss, 0.0, 1.0, None, f"{flips}; no case may be lost")
    return NonInferiority("pass", outcomes.loss, outcomes.loss, 0.0, 1.0, None, f"{flips}; no case lost")


def paired_summary(outcomes: PairedOutcomes, what: str, confidence: float = 0.95) -> dict[str, Any]:
    """The report's view of paired outcomes: both rates with Wilson intervals, the flips and
    the exact McNemar p-value (`what` names the outcome, e.g. "expectation")."""
    passes_b = outcomes.both_pass + outcomes.pass_to_fail
    passes_c = outcomes.both_pass + outcomes.fail_to_pass
    return {
        f"baseline_{what}_rate": round(outcomes.baseline_rate, 4),
        f"candidate_{what}_rate": round(outcomes.candidate_rate, 4),
        f"baseline_{what}_rate_wilson": [round(x, 4) for x in wilson_interval(passes_b, outcomes.n, confidence)],
        f"candidate_{what}_rate_wilson": [round(x, 4) for x in wilson_interval(passes_c, outcomes.n, confidence)],
        "flips_pass_to_fail": outcomes.pass_to_fail,
        "flips_fail_to_pass": outcomes.fail_to_pass,
        "mcnemar_p": round(mcnemar_exact(outcomes.pass_to_fail, outcomes.fail_to_pass), 6),
    }


def decide(outcomes: PairedOutcomes, rule: str, margin: float, confidence: float) -> NonInferiority:
    """A gate's configured rule over paired outcomes: "paired" (one-sided non-inferiority
    within `margin`) or "every_case" (no case the baseline passed may be lost)."""
    if rule == "every_case":
        return no_lost_case(outcomes)
    return paired_noninferiority(outcomes, margin, confidence)


def significant_loss(outcomes: PairedOutcomes, decision: NonInferiority, confidence: float) -> bool:
    """A failed decision whose loss is also significant (exact McNemar, one-sided, at
    `confidence`): for checks too small or too secondary to fail a gate on an estimate alone."""
    p = mcnemar_exact(outcomes.pass_to_fail, outcomes.fail_to_pass, alternative="greater")
    return decision.decision == "fail" and p < 1 - confidence


def cases_needed(rate_down: float, rate_up: float, margin: float, confidence: float, start: int = 1) -> int | None:
    """Smallest case count at which the same flip rates would bound the loss within the margin
    (None: more than MAX_CASES_NEEDED, or never: the loss itself is not within it)."""

    def resolves(n: int) -> bool:
        return loss_bound(round(rate_down * n), round(rate_up * n), n, confidence) <= margin

    high = max(start, 1)
    while not resolves(high):
        high *= 2
        if high > MAX_CASES_NEEDED:
            return None
    low = max(start, 1)
    while low < high:
        mid = (low + high) // 2
        low, high = (low, mid) if resolves(mid) else (mid + 1, high)
    return high


def mean_noninferiority(
    unit_values: Sequence[float],
    limit: float,
    *,
    higher_is_worse: bool = True,
    confidence: float = 0.95,
    what: str = "mean",
) -> NonInferiority:
    """A mean metric against an absolute limit, with a bootstrap bound over independent units
    (e.g. per-window means, since neighbouring tokens are not independent)."""
    data = np.asarray(unit_values, dtype=float)
    estimate = float(data.mean()) if data.size else float("nan")
    low, high = bootstrap_mean_ci(data.tolist(), 2 * confidence - 1)
    bound = high if higher_is_worse else low
    worse = (lambda x: x > limit) if higher_is_worse else (lambda x: x < limit)
    side = "upper" if higher_is_worse else "lower"
    if data.size and not worse(bound):
        return NonInferiority("pass", estimate, bound, limit, confidence, None,
                              f"{what} {estimate:.4g} ({side} {confidence:.0%} bound {bound:.4g}) within the limit {limit:g}")
    if not data.size or worse(estimate):
        return NonInferiority("fail", estimate, bound, limit, confidence, None,
                              f"{what} {estimate:.4g} beyond the limit {limit:g}")
    # Bound scales roughly with 1/sqrt(n): how many units would bring it inside the limit.
    spread = abs(bound - estimate)
    room = abs(limit - estimate)
    needed = int(np.ceil(data.size * (spread / room) ** 2)) if room > 0 else None
    return NonInferiority("underpowered", estimate, bound, limit, confidence, needed,
                          f"{what} {estimate:.4g} but its {side} bound {bound:.4g} crosses the limit {limit:g}: "
                          f"underpowered, about {needed} units would resolve it")


def combine(decisions: Sequence[Decision]) -> Decision:
    """fail beats underpowered beats pass."""
    if "fail" in decisions:
        return "fail"
    if "underpowered" in decisions:
        return "underpowered"
    return "pass"
