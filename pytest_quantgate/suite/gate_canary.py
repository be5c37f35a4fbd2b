"""Canary: the candidate's route against the live baseline route on recorded requests."""

import pytest

from pytest_quantgate.harness import GateHarness


@pytest.mark.canary
def test_canary(quantgate: GateHarness) -> None:
    verdict = quantgate.canary()
    assert verdict.passed, verdict.explain()
