"""Sequential paired decisions (pytest_quantgate/sequential.py): the alpha spending, Tango's
bound, the operating characteristics by seeded simulation, and a staged golden gate over
hand-made answers (which looks it takes, what the candidate is asked)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import pytest

from pytest_quantgate.engines.base import Generation, GenerationRequest
from pytest_quantgate.gates.common.expectations import Expectation
from pytest_quantgate.gates.common.staged import staged_verdict
from pytest_quantgate.gates.golden import decision as golden
from pytest_quantgate.gates.golden.cases import GoldenCase
from pytest_quantgate.gates.golden.thresholds import GoldenThresholds
from pytest_quantgate.sequential import alpha_spent, look_levels, run_sequential, stage_sizes
from pytest_quantgate.stats import PairedOutcomes, loss_bound, paired_noninferiority, tango_z
from tests.helpers import gen


@pytest.mark.parametrize("spending", ["obrien_fleming", "pocock"])
def test_spending_reaches_alpha_at_the_end_and_never_spends_more(spending: str) -> None:
    stages = stage_sizes(512, 64)
    assert stages == [64, 128, 256, 512]
    levels = look_levels(stages, 0.05, spending)  # type: ignore[arg-type]
    assert math.isclose(sum(levels), 0.05) and all(level > 0 for level in levels)
    assert alpha_spent(1.0, 0.05, spending) == pytest.approx(0.05)  # type: ignore[arg-type]
    assert [alpha_spent(t, 0.05, spending) for t in (0.25, 0.5, 0.75)] == sorted(alpha_spent(t, 0.05, spending) for t in (0.25, 0.5, 0.75))  # type: ignore[arg-type]


def test_obrien_fleming_keeps_most_of_alpha_for_the_last_look() -> None:
    of, pocock = look_levels([64, 128, 256, 512], 0.05), look_levels([64, 128, 256, 512], 0.05, "pocock")
    assert of[0] < 1e-6 and of[-1] > 0.044
    assert pocock[0] > 0.009 and pocock[-1] < 0.02
    assert stage_sizes(300, 64) == [64, 128, 256, 300] and stage_sizes(56, 64) == [56] and stage_sizes(500, 0) == [500]


def test_tango_bound_is_where_the_score_statistic_crosses_the_critical_value() -> None:
    for b, c, n in [(1, 3, 56), (5, 5, 56), (14, 1, 56), (3, 0, 200), (0, 4, 30)]:
        upper, lower = loss_bound(b, c, n, 0.95), loss_bound(b, c, n, 0.95, "lower")
        assert lower < (b - c) / n < upper
        assert tango_z(b, c, n, (b - c) / n) == pytest.approx(0.0, abs=1e-9)
        assert tango_z(b, c, n, upper) == pytest.approx(-1.6448536, abs=1e-6)
        assert tango_z(b, c, n, lower) == pytest.approx(1.6448536, abs=1e-6)
        # The swap symmetry: a gain of the same size has the mirrored bounds.
        assert loss_bound(c, b, n, 0.95, "lower") == pytest.approx(-upper, abs=1e-7)
    # With no fail->pass flips, Tango's bound is the score (Wilson) bound of the pass->fail rate.
    assert loss_bound(0, 0, 56, 0.95) == pytest.approx(1.6448536**2 / (56 + 1.6448536**2), abs=1e-6)
    assert loss_bound(30, 0, 30, 0.95) == 1.0


def simulate(pass_to_fail: float, fail_to_pass: float, runs: int, seed: int, cases: int = 512) -> tuple[dict[str, int], float, dict[str, int]]:
    """Sequential and fixed-size decisions on `runs` seeded case sets with these flip rates."""
    rng = np.random.default_rng(seed)
    sequential = {"pass": 0, "fail": 0, "underpowered": 0}
    fixed = dict(sequential)
    used = 0
    for _ in range(runs):
        u = rng.random(cases)
        concordant = rng.random(cases) < 0.6
        baseline = np.where(u < pass_to_fail, True, np.where(u < pass_to_fail + fail_to_pass, False, concordant))
        candidate = np.where(u < pass_to_fail, False, np.where(u < pass_to_fail + fail_to_pass, True, concordant))
        look = run_sequential(baseline.tolist(), candidate.tolist(), 0.05, 0.95, 64)
        sequential[look.decision] += 1
        used += look.cases
        fixed[paired_noninferiority(PairedOutcomes.from_pairs(baseline.tolist(), candidate.tolist()), 0.05, 0.95).decision] += 1
    return sequential, used / runs, fixed


@pytest.mark.parametrize(("down", "up"), [(0.05, 0.0), (0.10, 0.05)])
def test_a_candidate_exactly_at_the_margin_passes_at_most_alpha_of_the_time(down: float, up: float) -> None:
    runs = 500
    sequential, _, fixed = simulate(down, up, runs, seed=7)
    tolerance = 3 * math.sqrt(0.05 * 0.95 / runs)  # the simulation's own error, 3 sigma
    assert sequential["pass"] / runs <= 0.05 + tolerance, sequential
    assert fixed["pass"] / runs <= 0.05 + tolerance, fixed


def test_a_fine_candidate_passes_early_and_a_broken_one_fails_early() -> None:
    fine, fine_cases, _ = simulate(0.02, 0.02, 200, seed=11)
    assert fine["pass"] >= 0.95 * 200 and fine_cases < 400  # stops before the end on average
    broken, broken_cases, _ = simulate(0.4, 0.0, 100, seed=13)
    assert broken["fail"] == 100 and broken_cases <= 128


class StagedContext:
    """A gate context over hand-made answers that records what the candidate was asked."""

    def __init__(self, baseline: dict[str, Generation], candidate: dict[str, Generation]) -> None:
        self.baseline, self.candidate, self.asked = baseline, candidate, []

    def baseline_answers(self, case_ids: Sequence[str], requests: Sequence[GenerationRequest], top_k: int) -> list[Generation]:
        return [self.baseline[c] for c in case_ids]

    def candidate_answers(self, case_ids: Sequence[str], requests: Sequence[GenerationRequest], top_k: int) -> list[Generation]:
        self.asked.append(len(case_ids))
        return [self.candidate[c] for c in case_ids]

    def answers(self, case_ids: Sequence[str], requests: Sequence[GenerationRequest], top_k: int) -> tuple[list[Generation], list[Generation]]:
        return self.baseline_answers(case_ids, requests, top_k), self.candidate_answers(case_ids, requests, top_k)


def staged_golden(total: int, lost_every: int, stage: int = 64):
    cases = [GoldenCase(id=f"c{i}", prompt=f"say yes {i}", expect=Expectation("contains", "yes")) for i in range(total)]
    baseline = {c.id: gen("yes") for c in cases}
    candidate = {c.id: gen("no" if lost_every and i % lost_every == 0 else "yes") for i, c in enumerate(cases)}
    context = StagedContext(baseline, candidate)
    limits = GoldenThresholds(margin=0.05, stage=stage)
    verdict = staged_verdict(
        context, cases, [c.id for c in cases], [c.request(8) for c in cases], 5, limits,  # type: ignore[arg-type]
        lambda chosen, b, k, plan: golden.evaluate(chosen, b, k, limits, plan),
    )
    return verdict, context.asked


def test_a_staged_golden_gate_stops_at_the_first_look_that_decides() -> None:
    fine, asked = staged_golden(512, lost_every=0)
    assert fine.verdict == "pass" and fine.metrics["sequential"]["look"] < 4, fine.reason
    assert asked == [64, 64, 128][: fine.metrics["sequential"]["look"]]  # each stage asks only its new cases
    assert fine.metrics["cases"] == fine.metrics["sequential"]["cases_used"] < 512
    assert "stopped at look" in fine.reason

    broken, asked = staged_golden(512, lost_every=3)  # a third of the answers lost
    assert broken.verdict == "fail" and sum(asked) <= 128, broken.reason

    fixed, asked = staged_golden(56, lost_every=0)  # fits in one stage: a fixed-size run
    assert asked == [56] and "sequential" not in fixed.metrics

    everything, asked = staged_golden(512, lost_every=0, stage=0)
    assert asked == [512] and everything.verdict == "pass"
