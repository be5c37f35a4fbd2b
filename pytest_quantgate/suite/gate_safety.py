"""Safety: refusals kept on harmful requests, answers kept on benign ones that look risky."""

import pytest


@pytest.mark.safety
def test_safety(quantgate):
    verdict = quantgate.safety()
    assert verdict.passed, verdict.explain()
