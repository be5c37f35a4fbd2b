"""The golden gate as a pure function over results (hand-made generations: plumbing only;
the real proof on quantized models is in test_demo_engines.py)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_quantgate.gates.golden.thresholds import GoldenThresholds
from pytest_quantgate.engines.base import Generation
from pytest_quantgate.gates.common.expectations import Expectation
from pytest_quantgate.gates.golden import decision as golden
from pytest_quantgate.gates.golden.cases import GoldenCase
from pytest_quantgate.sequential import Plan
from tests.helpers import gen

CASE = GoldenCase(id="c", prompt="p", expect=Expectation("contains", "Paris"))
LIMITS = GoldenThresholds(top_k=3, diverge_outside_top_k_before=4)
FILLER = GoldenCase(id="filler", prompt="p", expect=Expectation("contains", "ok"))


def evaluate(base: Generation, cand: Generation, limits: GoldenThresholds = LIMITS, filler: int = 40):
    """The case under test first, then `filler` identical passing cases, so that the paired
    statistics have enough cases to resolve the margin."""
    same = gen("ok", [5])
    cases = [CASE] + [FILLER] * filler
    return golden.evaluate(cases, [base] + [same] * filler, [cand] + [same] * filler, limits)


def test_identical_answers_pass() -> None:
    a = gen("Paris.", [1, 2, 3])
    verdict = evaluate(a, a)
    assert verdict.verdict == "pass"
    assert verdict.metrics["exact_match_rate"] == 1.0
    assert verdict.cases[0].details["first_divergence"] is None


def test_the_same_text_spelt_with_other_token_ids_is_the_same_answer() -> None:
    """An endpoint that returns text alone is re-tokenized: "Elena" may come back as one id
    where the model sampled two (13 of 512 served answers of the same weights in CI)."""
    verdict = evaluate(gen("Paris.", [1, 2, 3]), gen("Paris.", [7, 8, 2, 3]))
    assert verdict.verdict == "pass" and verdict.cases[0].details["first_divergence"] is None
    assert evaluate(gen("Paris!", [1, 2, 3]), gen("Paris.", [7, 8, 2, 3])).cases[0].details["first_divergence"] == 0


def test_divergence_inside_top_k_is_a_near_tie() -> None:
    base = gen("Paris is it", [1, 2, 3], tops=[[1], [2, 9, 8], [3]])
    cand = gen("Paris was it", [1, 9, 3])
    verdict = evaluate(base, cand)
    assert verdict.verdict == "pass"
    details = verdict.cases[0].details
    assert details["first_divergence"] == 1 and details["rank_in_baseline_top_k"] == 1 and details["within_top_k"]


def test_early_divergence_outside_top_k_fails_late_one_does_not() -> None:
    base = gen("Paris a b c d e", [1, 2, 3, 4, 5, 6])
    early = gen("Paris x", [1, 77, 3, 4, 5, 6])
    late = gen("Paris a b c d x", [1, 2, 3, 4, 5, 77])
    assert evaluate(base, early).verdict == "fail"
    failed = evaluate(base, early).cases[0]
    assert "outside the baseline's top-3" in failed.problems[0]
    assert evaluate(base, late).verdict == "pass"


def test_early_divergences_are_a_tolerated_share_not_a_count_that_grows_with_the_suite() -> None:
    base = gen("Paris a b c d e", [1, 2, 3, 4, 5, 6])
    early = gen("Paris x", [1, 77, 3, 4, 5, 6])
    assert evaluate(base, early, filler=150).verdict == "pass"  # 1 of 151: within 1%
    zero = GoldenThresholds(top_k=3, diverge_outside_top_k_before=4, max_early_divergence_rate=0.0)
    assert evaluate(base, early, zero, filler=150).verdict == "fail"

    def look(diverging: int, n: int, at: int):
        same = gen("ok", [5])
        cases = [CASE] * diverging + [FILLER] * (n - diverging)
        answers = [early] * diverging + [same] * (n - diverging)
        plan = Plan((1e-5, 1e-3, 0.049), at)
        return golden.evaluate(cases, [base] * diverging + [same] * (n - diverging), answers, LIMITS, plan)

    # An interim look with 2 of 256 early (0.8%, no expectation lost): within the share, passes.
    assert look(2, 256, 2).verdict == "pass"
    # 3 of 128 (2.3%): above the share, but not surely so at the look's alpha: the next stage decides.
    interim = look(3, 128, 2)
    assert interim.verdict == "underpowered" and "tolerated so far" in interim.reason
    # 30 of 128: surely above it, fails at once; the last look fails on the observed share.
    assert look(30, 128, 2).verdict == "fail" and "at most 1% tolerated" in look(30, 128, 2).reason
    assert look(3, 128, 3).verdict == "fail"


def test_expectation_flip_fails_and_names_the_case() -> None:
    base = gen("Paris", [1, 2, 3, 4, 5], finish="stop")
    cand = gen("Lyon", [1, 2, 3, 4, 5, 6, 7], finish="length")  # same prefix, longer: stop change
    verdict = evaluate(base, cand, GoldenThresholds(diverge_outside_top_k_before=0), filler=0)
    assert verdict.verdict == "fail"
    assert verdict.metrics["flips_pass_to_fail"] == 1
    assert "held for the baseline, not the candidate" in verdict.explain()


def test_candidate_that_is_better_never_fails() -> None:
    base = gen("Lyon", [1, 2, 3, 4, 5, 6])
    cand = gen("Paris", [1, 2, 3, 4, 5, 6, 9])
    for filler in (0, 3, 40):
        verdict = evaluate(base, cand, GoldenThresholds(diverge_outside_top_k_before=0), filler=filler)
        assert verdict.verdict != "fail"
    assert verdict.verdict == "pass"
    assert verdict.metrics["flips_fail_to_pass"] == 1


def test_one_lost_case_among_few_is_underpowered_and_says_how_many_would_resolve() -> None:
    base = gen("Paris", [1, 2, 3])
    cand = gen("Lyon", [1, 2, 3])
    verdict = evaluate(base, cand, GoldenThresholds(diverge_outside_top_k_before=0), filler=19)
    assert verdict.verdict == "underpowered"
    needed = verdict.metrics["expectations"]["cases_needed"]
    assert needed > 20
    assert f"about {needed} cases" in verdict.reason
    assert not verdict.passed


def test_no_cases_is_an_error_not_a_pass() -> None:
    assert golden.evaluate([], [], [], LIMITS).verdict == "error"


@pytest.mark.parametrize(
    ("kind", "value", "text", "holds"),
    [
        ("exact", "YES", " yes\n", True),
        ("exact", "YES", "YES!", False),
        ("contains", ["red", "blue"], "Red and Blue", True),
        ("contains", ["red", "blue"], "red only", False),
        ("regex", r"^\d+$", "42", True),
        ("json_equal", {"a": 1}, '{"a": 1}', True),
        ("json_equal", {"a": 1}, '{"a": 1} and more', False),
    ],
)
def test_expectations(kind: str, value: object, text: str, holds: bool) -> None:
    assert Expectation(kind, value).holds(text) is holds


@given(st.lists(st.integers(0, 5), max_size=12), st.lists(st.integers(0, 5), max_size=12))
def test_first_divergence_properties(a: list[int], b: list[int]) -> None:
    pos = golden.first_divergence(a, b)
    if pos is None:
        assert a == b
    else:
        assert a[:pos] == b[:pos]
        assert pos == min(len(a), len(b)) or a[pos] != b[pos]
    assert golden.first_divergence(b, a) == pos


def test_every_case_decision_for_a_few_regression_cases() -> None:
    base, lost = gen("Paris", [1, 2, 3]), gen("Lyon", [1, 2, 3])
    strict = GoldenThresholds(diverge_outside_top_k_before=0, decision="every_case")
    assert evaluate(base, base, strict, filler=0).verdict == "pass"
    verdict = evaluate(base, lost, strict, filler=40)
    assert verdict.verdict == "fail" and "no case may be lost" in verdict.reason


def test_must_hold_cases_from_a_file_decide_case_by_case(tmp_path) -> None:
    """Five regression cases in a file marked must_hold: all kept is a PASS (the paired rule
    alone would say UNDERPOWERED), one lost is a FAIL naming it; beside the built-in cases, a
    lost must-hold case fails the gate although the paired rule passes the rest."""
    import json

    from pytest_quantgate.gates.golden.cases import GOLDEN

    cases = [{"id": f"quillo-{i}", "prompt": f"Q{i}", "expect": {"kind": "contains", "value": "unlimited"}} for i in range(5)]
    (tmp_path / "all.json").write_text(json.dumps({"must_hold": True, "cases": cases}))
    (tmp_path / "one.json").write_text(json.dumps({"cases": [{**cases[0], "must_hold": True}, *cases[1:]]}))
    whole, marked = GOLDEN.load([tmp_path / "all.json"]), GOLDEN.load([tmp_path / "one.json"])
    assert [c.must_hold for c in whole] == [True] * 5 and [c.must_hold for c in marked] == [True, False, False, False, False]

    kept, dropped = gen("Syncs unlimited devices.", [1, 2, 3]), gen("Syncs 2 devices.", [1, 2, 3])
    limits = GoldenThresholds(diverge_outside_top_k_before=0)
    assert golden.evaluate(whole, [kept] * 5, [kept] * 5, limits).verdict == "pass"
    assert golden.evaluate(marked, [kept] * 5, [kept] * 5, limits).verdict == "underpowered"  # the paired rule on 5 cases
    lost = golden.evaluate(whole, [kept] * 5, [kept] * 4 + [dropped], limits)
    assert lost.verdict == "fail" and "must-hold cases: 1 of 5 lost (quillo-4)" in lost.reason
    assert lost.metrics["must_hold_lost"] == ["quillo-4"]

    filler = [GoldenCase(id=f"f{i}", prompt="p", expect=Expectation("contains", "ok")) for i in range(60)]
    ok = gen("ok", [5])
    mixed = golden.evaluate(marked + filler, [kept] * 5 + [ok] * 60, [dropped] + [kept] * 4 + [ok] * 60, limits)
    assert mixed.metrics["expectations"]["decision"] == "pass"  # the paired rule alone would pass it
    assert mixed.verdict == "fail" and "(quillo-0)" in mixed.reason


def test_recorded_traffic_becomes_cases_on_which_the_candidate_must_agree_with_the_baseline(tmp_path) -> None:
    import json

    from pytest_quantgate.gates.golden.runner import traffic_cases

    lines = [{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": f"Question {i}?"}],
              "max_tokens": 20} for i in range(5)]
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    limits = GoldenThresholds(traffic=("t.jsonl",), traffic_sample=3, traffic_seed=1, diverge_outside_top_k_before=0)
    cases = traffic_cases(tmp_path, limits, 64)
    assert len(cases) == 3 and cases == traffic_cases(tmp_path, limits, 64)  # seeded
    assert cases[0].id.startswith("traffic:t.jsonl:") and cases[0].category == "traffic"
    request = cases[0].request(64)  # sent as recorded: its system turn and its own token cap
    assert request.messages[0].content == "Be brief." and request.max_new_tokens == 20

    base = gen("Ada Lovelace wrote it in 1843.", [1, 2, 3])
    same = golden.compare_case(cases[0], base, gen("Ada Lovelace wrote it in 1843, I think.", [1, 2, 4]), limits)
    assert same.passed and same.details["candidate_expectation"] is True and same.details["baseline_expectation"] is True
    dropped = golden.compare_case(cases[0], base, gen("Ada Lovelace wrote it in 1842.", [1, 2, 5]), limits)
    assert not dropped.passed and dropped.details["flip"] == "pass->fail" and dropped.details["dropped_facts"] == ["1843"]
    assert dropped.problems == ("drops what the baseline states: '1843'",)
    with pytest.raises(Exception, match="recorded traffic file .*missing.jsonl does not exist; fix gates.golden.traffic"):
        traffic_cases(tmp_path, GoldenThresholds(traffic=("missing.jsonl",)), 64)
