"""Stop and degeneration checks on hand-made answers."""

import pytest

from pytest_quantgate.gates.common import stops
from tests.helpers import gen


@pytest.mark.parametrize(
    ("text", "loop"),
    [
        ("The name the function in the function in the function in the function.", "'the function in' x3"),
        ("Title: Title: Title: Title: Title: Title: Title: Title: Title:", "'Title:' x9"),
        ('{"tags": ["scifi", "classic"]}', None),
        ("yes yes yes", None),  # three words: too short to call a loop
        ("Paris is the capital of France.", None),
    ],
)
def test_repetition_loop(text, loop) -> None:
    assert stops.repetition_loop(text) == loop


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Wow!!!!!!!!!!", True),
        ("1.1.1.1.1.1.1.1.1.1", True),
        ("{\n  \"a\":\n\n\n\n\n\n\n\n1}", True),
        ('{"population": 2100000000}', False),  # digits are a number, not a run
        ('{\n        "a": 1\n}', False),  # indentation is not a run
        ("========", True),
    ],
)
def test_character_run(text, found) -> None:
    assert (stops.character_run(text) is not None) == found


def test_stop_facts_and_new_problems() -> None:
    base = gen("Paris.", finish="stop")
    looping = gen("in the function " * 5, finish="length")
    case = stops.compare_case(base, looping)
    assert case["baseline_healthy"] and not case["candidate_healthy"]
    assert case["new_problems"][0].startswith("hit the length cap")
    assert any(p.startswith("repetition loop") for p in case["new_problems"])
    assert case["length_ratio"] == 15.0
    # The same problem on both sides is not the candidate's.
    assert stops.compare_case(looping, looping)["new_problems"] == []
    assert stops.StopFacts.of(gen("   ")).problems() == ["empty answer"]


def test_summary_counts_and_decides_paired() -> None:
    good = gen("fine answer", finish="stop")
    bad = gen("!!!!!!!!!!!!", finish="length")
    same = stops.summarize([good] * 40, [good] * 40)
    assert same.decision.decision == "pass"
    assert same.metrics["candidate_length_cap_hits"] == 0 and same.metrics["length_ratio_median"] == 1.0
    worse = stops.summarize([good] * 40, [bad] * 10 + [good] * 30)
    assert worse.decision.decision == "fail"
    assert worse.metrics["candidate_finish_reasons"] == {"stop": 30, "length": 10}
    assert worse.metrics["candidate_character_runs"] == 10 and worse.metrics["flips_pass_to_fail"] == 10
    better = stops.summarize([bad] * 10 + [good] * 30, [good] * 40)
    assert better.decision.decision == "pass"  # one-sided: a candidate that stops better never fails


def test_an_interim_look_counts_a_stop_loss_only_at_its_own_alpha() -> None:
    """hf-int4's tool calls, look 1 of 3 (64 of 231 cases): 13 answers lost their stop, 4 gained
    one (one-sided p = 0.0245). Significant at 5%, not at the 0.0002 O'Brien-Fleming spends at
    that look: the gate runs the next stage instead of failing on it; at a fixed size it fails."""
    from pytest_quantgate.gates.common.paired import CaseOutcome, verdict
    from pytest_quantgate.gates.tool_call.thresholds import ToolCallThresholds
    from pytest_quantgate.sequential import Plan, look_levels

    good, bad = gen("fine answer"), gen("cut off " * 8, finish="length")
    pairs = [(good, bad)] * 13 + [(bad, good)] * 4 + [(good, good)] * 40 + [(bad, bad)] * 7
    outcomes = [
        CaseOutcome(f"c{i}", True, (), {"baseline_ok": True, "candidate_ok": True, "stop": stops.compare_case(b, c)})
        for i, (b, c) in enumerate(pairs)
    ]
    levels = tuple(look_levels([64, 128, 231], 0.05, "obrien_fleming"))
    fixed = verdict("tool_call", "correct_calls", outcomes, ToolCallThresholds())
    assert fixed.verdict == "fail" and fixed.metrics["stop_behaviour"]["significance_level"] == 0.05
    interim = verdict("tool_call", "correct_calls", outcomes, ToolCallThresholds(), plan=Plan(levels, 1))
    assert interim.verdict != "fail" and "not significant at 0.0002, p=0.0245" in interim.reason, interim.reason
    assert stops.summarize_cases([o.details["stop"] for o in outcomes], plan=Plan(levels, 1)).significant is False
