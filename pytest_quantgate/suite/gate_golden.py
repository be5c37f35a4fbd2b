"""Golden prompts: the candidate's answers against the baseline's recorded answers."""

import pytest

from pytest_quantgate.harness import GateHarness


@pytest.mark.golden
def test_golden(quantgate: GateHarness) -> None:
    verdict = quantgate.golden()
    assert verdict.passed, verdict.explain()
