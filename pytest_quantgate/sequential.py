"""Group-sequential paired decisions: a gate looks at its cases in stages (64, 128, 256, ...)
and stops as soon as the paired rule decides, with the chance of a false pass, and of a false
early fail, held at 1 - confidence over all its looks.

Alpha spending (Lan & DeMets): look k of a run planned for N cases, at information fraction
t = n_k / N, may spend alpha(t_k) - alpha(t_k-1) of the total alpha = 1 - confidence.
- O'Brien-Fleming type (the default): alpha(t) = 2 - 2 Phi(z_{1-alpha/2} / sqrt(t)). It spends
  almost nothing early, so a candidate is only stopped early when the evidence is
  overwhelming, and the last look keeps nearly the whole alpha: running to the end costs
  little against a fixed-size run.
- Pocock type: alpha(t) = alpha ln(1 + (e - 1) t). Spends evenly: earlier stops, but the last
  look is tested at a much smaller level (1.9% of 5% at four looks).
Each look tests at the alpha it spends (Bonferroni over the looks), so the false-pass rate is
at most alpha whatever the correlation between looks. Exact boundaries (recursive integration
over the looks' joint distribution, as R's gsDesign computes them) would give the last look a
little more (about 4.9% instead of 4.4% at four O'Brien-Fleming looks); the Bonferroni form is
never anti-conservative and needs no numerical integration. tests/fast/test_sequential.py
checks the operating characteristics by simulation.

At an interim look the candidate passes when the loss's upper bound at that look's level is
inside the margin, fails early when the loss's lower bound is beyond it, and otherwise goes on
to the next stage. The last look is the fixed-size rule (stats.paired_noninferiority) at the
alpha left: pass, fail on the estimate, or underpowered with the cases that would decide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

from scipy import stats as _scipy

from .stats import NonInferiority, PairedOutcomes, decide, loss_bound, paired_noninferiority

Spending = Literal["obrien_fleming", "pocock"]
SPENDING: tuple[Spending, ...] = ("obrien_fleming", "pocock")


def alpha_spent(fraction: float, alpha: float, spending: Spending = "obrien_fleming") -> float:
    """The total alpha a run may have spent once `fraction` of its cases were looked at."""
    if fraction <= 0:
        return 0.0
    fraction = min(fraction, 1.0)
    if spending == "pocock":
        return alpha * math.log(1 + (math.e - 1) * fraction)
    z = _scipy.norm.ppf(1 - alpha / 2)
    return float(2 - 2 * _scipy.norm.cdf(z / math.sqrt(fraction)))


def stage_sizes(total: int, first: int) -> list[int]:
    """Cumulative cases at each look: `first`, doubling, and the whole set last."""
    if first <= 0 or first >= total:
        return [total]
    sizes = [first]
    while sizes[-1] * 2 < total:
        sizes.append(sizes[-1] * 2)
    return [*sizes, total]


def look_levels(stages: Sequence[int], alpha: float, spending: Spending = "obrien_fleming") -> list[float]:
    """The alpha each look tests at: what the spending function allows at its fraction, less
    what the looks before it spent."""
    total = stages[-1]
    spent = [alpha_spent(n / total, alpha, spending) for n in stages]
    return [s - before for s, before in zip(spent, [0.0, *spent[:-1]])]


@dataclass(frozen=True)
class Plan:
    """Where a look sits in a staged run: the alpha of every look, and this look's number."""

    levels: tuple[float, ...]
    look: int  # 1-based


@dataclass(frozen=True)
class Look:
    """One look's decision: `continue` means run the next stage."""

    decision: Literal["pass", "fail", "underpowered", "continue"]
    look: int  # 1-based
    looks: int
    cases: int
    level: float  # the alpha this look tested at
    result: NonInferiority

    @property
    def final(self) -> bool:
        return self.decision != "continue"


def decide_look(outcomes: PairedOutcomes, margin: float, levels: Sequence[float], look: int) -> Look:
    """The paired rule at look `look` (1-based) of `len(levels)`, over the cases seen so far."""
    level, looks, n = levels[look - 1], len(levels), outcomes.n
    where = f"look {look} of {looks}, {n} cases, alpha {level:.2g}"
    if look == looks:
        result = paired_noninferiority(outcomes, margin, 1 - level)
        return Look(result.decision, look, looks, n, level, _noted(result, where))
    b, c = outcomes.pass_to_fail, outcomes.fail_to_pass
    upper = loss_bound(b, c, n, 1 - level, "upper")
    lower = loss_bound(b, c, n, 1 - level, "lower")
    flips = f"{b} pass->fail vs {c} fail->pass flip(s) in {n} cases"
    if upper <= margin:
        why = f"{flips}; loss {outcomes.loss:.1%}, upper bound {upper:.2%} within the {margin:.0%} margin: stopped early"
        return Look("pass", look, looks, n, level, NonInferiority("pass", outcomes.loss, upper, margin, 1 - level, None, f"{why} ({where})"))
    if lower > margin:
        why = f"{flips}; loss {outcomes.loss:.1%}, lower bound {lower:.2%} beyond the {margin:.0%} margin: stopped early"
        return Look("fail", look, looks, n, level, NonInferiority("fail", outcomes.loss, lower, margin, 1 - level, None, f"{why} ({where})"))
    return Look("continue", look, looks, n, level, NonInferiority("underpowered", outcomes.loss, upper, margin, 1 - level, None, f"{flips} ({where})"))


def look_level(plan: Plan | None, confidence: float) -> float:
    """The level a secondary check (stop behaviour, recall at one length) may fail a gate at:
    this look's spent alpha in a staged run, so that looking often does not make it fail a
    sound candidate more often than the rule itself would; 1 - confidence at a fixed size."""
    return plan.levels[plan.look - 1] if plan is not None else 1 - confidence


def decide_at(outcomes: PairedOutcomes, rule: str, margin: float, confidence: float, plan: Plan | None) -> NonInferiority:
    """stats.decide, at a look of a staged run when there is one (an interim look that cannot
    decide says underpowered: run the next stage)."""
    if plan is None or rule != "paired":
        return decide(outcomes, rule, margin, confidence)
    return decide_look(outcomes, margin, plan.levels, plan.look).result


def _noted(result: NonInferiority, where: str) -> NonInferiority:
    return NonInferiority(result.decision, result.estimate, result.bound, result.margin, result.confidence, result.cases_needed,
                          f"{result.reason} ({where})")


def run_sequential(
    baseline_ok: Sequence[bool], candidate_ok: Sequence[bool], margin: float, confidence: float, first: int,
    spending: Spending = "obrien_fleming",
) -> Look:
    """The decision a staged run reaches on these paired outcomes (in case order): the first
    look that decides, else the last. For simulations and for gates whose outcomes are all in
    hand; a gate that generates per stage calls decide_look itself."""
    stages = stage_sizes(len(baseline_ok), first)
    levels = look_levels(stages, 1 - confidence, spending)
    for look, n in enumerate(stages[:-1], start=1):
        decision = decide_look(PairedOutcomes.from_pairs(baseline_ok[:n], candidate_ok[:n]), margin, levels, look)
        if decision.final:
            return decision
    return decide_look(PairedOutcomes.from_pairs(baseline_ok, candidate_ok), margin, levels, len(stages))
