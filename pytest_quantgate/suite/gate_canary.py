"""Canary: the candidate's route against the live baseline route on recorded requests."""

import pytest


@pytest.mark.canary
def test_canary(quantgate):
    verdict = quantgate.canary()
    assert verdict.passed, verdict.explain()
