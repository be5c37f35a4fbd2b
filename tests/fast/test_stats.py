"""Paired statistics: textbook values and properties."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_quantgate import stats


@pytest.mark.parametrize(
    ("x", "n", "low", "high"),
    [  # Newcombe (1998), Statistics in Medicine 17:857, Table I, method 3 (Wilson score)
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_newcombe(x: int, n: int, low: float, high: float) -> None:
    assert stats.wilson_interval(x, n) == pytest.approx((low, high), abs=1e-4)


def test_exact_mcnemar_textbook_values() -> None:
    # Fagerland, Lydersen & Laake (2013), BMC Med Res Methodol 13:91: b=1, c=7 -> exact p=0.070
    assert stats.mcnemar_exact(1, 7) == pytest.approx(0.0703, abs=1e-4)
    assert stats.mcnemar_exact(0, 5) == pytest.approx(2 * 0.5**5)
    assert stats.mcnemar_exact(0, 0) == 1.0
    # one-sided: many pass->fail flips and none back is strong evidence of a loss
    assert stats.mcnemar_exact(10, 0, alternative="greater") == pytest.approx(0.5**10)


def test_paired_outcomes_count_flips_both_ways() -> None:
    outcomes = stats.PairedOutcomes.from_pairs([True, True, False, False, True], [True, False, True, False, False])
    assert (outcomes.both_pass, outcomes.pass_to_fail, outcomes.fail_to_pass, outcomes.both_fail) == (1, 2, 1, 1)
    assert outcomes.loss == pytest.approx(0.2)
    with pytest.raises(ValueError):
        stats.PairedOutcomes.from_pairs([True], [])


def test_noninferiority_decisions() -> None:
    clean = stats.paired_noninferiority(stats.PairedOutcomes(60, 0, 0, 20), margin=0.1)
    assert clean.decision == "pass"
    broken = stats.paired_noninferiority(stats.PairedOutcomes(10, 14, 0, 7), margin=0.1)
    assert broken.decision == "fail" and "exceeds the 10% margin" in broken.reason
    small = stats.paired_noninferiority(stats.PairedOutcomes(5, 0, 0, 0), margin=0.05)
    assert small.decision == "underpowered"
    resolved = stats.paired_noninferiority(stats.PairedOutcomes(small.cases_needed, 0, 0, 0), margin=0.05)
    assert resolved.decision == "pass"
    assert stats.paired_noninferiority(stats.PairedOutcomes(small.cases_needed - 1, 0, 0, 0), margin=0.05).decision == "underpowered"


def test_bootstrap_ci_brackets_the_mean_and_is_reproducible() -> None:
    values = [0.1, 0.4, 0.2, 0.9, 0.3, 0.5, 0.7, 0.2]
    low, high = stats.bootstrap_mean_ci(values)
    assert low < sum(values) / len(values) < high
    assert stats.bootstrap_mean_ci(values) == (low, high)
    assert stats.bootstrap_mean_ci([0.3, 0.3]) == (0.3, 0.3)


def test_mean_noninferiority() -> None:
    assert stats.mean_noninferiority([0.01, 0.012, 0.011, 0.013] * 5, 0.05).decision == "pass"
    assert stats.mean_noninferiority([0.2, 0.3, 0.25], 0.05).decision == "fail"
    wide = stats.mean_noninferiority([0.0, 0.09, 0.0, 0.08], 0.05)
    assert wide.decision == "underpowered" and wide.cases_needed > 4
    assert stats.mean_noninferiority([0.95, 0.97, 0.96], 0.9, higher_is_worse=False).decision == "pass"


outcome_lists = st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=80)


@settings(max_examples=60, deadline=None)
@given(outcome_lists, st.floats(0.01, 0.5))
def test_a_candidate_at_least_as_good_on_every_case_never_fails(pairs, margin) -> None:
    baseline = [b for b, _ in pairs]
    candidate = [b or c for b, c in pairs]  # never worse than the baseline on any case
    decision = stats.paired_noninferiority(stats.PairedOutcomes.from_pairs(baseline, candidate), margin)
    assert decision.decision != "fail"


@settings(max_examples=60, deadline=None)
@given(outcome_lists, st.floats(0.01, 0.5))
def test_decision_does_not_depend_on_case_order(pairs, margin) -> None:
    forward = stats.PairedOutcomes.from_pairs(*zip(*pairs))
    backward = stats.PairedOutcomes.from_pairs(*zip(*reversed(pairs)))
    assert stats.paired_noninferiority(forward, margin) == stats.paired_noninferiority(backward, margin)


@given(st.integers(0, 200), st.integers(1, 200))
def test_wilson_bounds_contain_the_estimate(x, n) -> None:
    x = min(x, n)
    low, high = stats.wilson_interval(x, n)
    assert 0.0 <= low <= x / n <= high <= 1.0
    assert stats.wilson_lower(x, n) >= low - 1e-12 and stats.wilson_upper(x, n) <= high + 1e-12


@pytest.mark.parametrize(("margin", "discordance", "loss"), [(0.02, 0.08, 0.0), (0.1, 0.2, 0.0), (0.05, 0.1, 0.02), (0.01, 0.02, 0.0)])
def test_power_planning_gives_the_count_at_which_the_gate_itself_passes(margin: float, discordance: float, loss: float) -> None:
    """`python -m pytest_quantgate.power` solves the gates' own rule: at the count it prints,
    the same flips make paired_noninferiority PASS; at half of it, the gate cannot yet."""
    from pytest_quantgate import power
    from pytest_quantgate.stats import PairedOutcomes, paired_noninferiority

    n = power.needed(margin, discordance, 0.95, loss)
    assert n is not None

    def decided(count: int) -> str:
        down, up = round((discordance + loss) / 2 * count), round((discordance - loss) / 2 * count)
        outcomes = PairedOutcomes(both_pass=count - down - up, pass_to_fail=down, fail_to_pass=up, both_fail=0)
        return paired_noninferiority(outcomes, margin, 0.95).decision

    assert decided(n) == "pass"
    assert decided(n // 2) == "underpowered"
    assert power.needed(margin, discordance, 0.95, loss=margin) is None  # a loss at the margin never passes


def test_power_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_quantgate import power

    assert power.main(["--margin", "0.02", "--discordance", "0.08"]) == 0
    assert capsys.readouterr().out.startswith(f"{power.needed(0.02, 0.08)} cases:")
    assert power.main(["--margin", "0.05", "--discordance", "0.1", "--loss", "0.06"]) == 1
    assert power.main(["--table"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-4].startswith("| 1% |") and lines[-1].startswith("| 10% |")
