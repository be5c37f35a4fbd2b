"""Generated golden task families (gates/golden/families.py): reproducible, unique, and each
case's check accepts its right answer and refuses wrong ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_quantgate.gates.golden.families import FAMILIES, family_cases, generate
from pytest_quantgate.gates.registry import parse_config
from pytest_quantgate.errors import ConfigError
from tests.helpers import DEMO

ALWAYS_WRONG = ("", "I cannot help with that request, sorry, it is against my rules.")


@pytest.mark.parametrize("family", list(FAMILIES))
def test_each_case_checks_its_answer_and_refuses_wrong_ones(family: str) -> None:
    cases = generate(family, 200, seed=0)
    assert len(cases) == 200 and len({c.id for c, _, _ in cases}) == 200 and len({c.prompt for c, _, _ in cases}) == 200
    for case, right, wrong in cases:
        assert case.expect is not None and case.expect.problem() is None, case
        assert case.expect.holds(right), (case.prompt, right, case.expect)
        assert not case.expect.holds(wrong), (case.prompt, wrong, case.expect)
        if family not in ("instructions",):  # "" and a refusal satisfy a forbidden word or a word limit
            assert not any(case.expect.holds(w) for w in ALWAYS_WRONG), (case.prompt, case.expect)
    assert [c.prompt for c, _, _ in generate(family, 200, seed=0)] == [c.prompt for c, _, _ in cases]
    assert [c.prompt for c, _, _ in generate(family, 200, seed=1)] != [c.prompt for c, _, _ in cases]


def test_checks_are_the_constraints_they_state() -> None:
    lower = next(c for c, _, _ in generate("instructions", 50) if "lowercase" in c.prompt)
    assert lower.expect.holds("cats are nice.") and not lower.expect.holds("Cats are nice.")
    bullets = next(c for c, _, _ in generate("instructions", 50) if "exactly 3 facts" in c.prompt)
    assert bullets.expect.holds("- a\n- b\n- c") and not bullets.expect.holds("- a\n- b") and not bullets.expect.holds("- a\n- b\n- c\n- d")
    limit = next(c for c, _, _ in generate("instructions", 80) if "at most 5 words" in c.prompt)
    assert limit.expect.holds("one two three four five.") and not limit.expect.holds("one two three four five six.")
    total = next(c for c, _, _ in generate("arithmetic", 10) if "+" in c.prompt)
    a, b = (int(x) for x in total.prompt.split("What is ")[1].split("?")[0].split(" + "))
    assert total.expect.holds(f"The answer is {a + b}.") and not total.expect.holds(f"{a + b + 1}") and not total.expect.holds(f"{a + b}0")


def test_families_join_the_golden_gate_from_the_config() -> None:
    table = {"baseline": "base", "candidates": {"base": {"engine": "hf", "model": DEMO}},
             "gates": {"golden": {"families": ["arithmetic", "lists"], "family_size": 30}}}
    limits = parse_config(table, Path("quantgate.toml")).thresholds("golden")
    cases = family_cases(limits.families, limits.family_size, limits.family_seed)
    assert len(cases) == 60 and {c.category for c in cases} == {"arithmetic", "lists"}
    table["gates"]["golden"]["families"] = ["poetry"]
    with pytest.raises(ConfigError, match="poetry"):
        parse_config(table, Path("quantgate.toml"))
