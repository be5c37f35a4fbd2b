"""Next-token drift: KL divergence, same top-1, delta-p and perplexity ratio on a corpus."""

import pytest

from pytest_quantgate.harness import GateHarness


@pytest.mark.drift
def test_drift(quantgate: GateHarness) -> None:
    verdict = quantgate.drift()
    assert verdict.passed, verdict.explain()
