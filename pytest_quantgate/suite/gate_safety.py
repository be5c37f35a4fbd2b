"""Safety: refusals kept on harmful requests, answers kept on benign ones that look risky."""

import pytest

from pytest_quantgate.harness import GateHarness


@pytest.mark.safety
def test_safety(quantgate: GateHarness) -> None:
    verdict = quantgate.safety()
    assert verdict.passed, verdict.explain()
