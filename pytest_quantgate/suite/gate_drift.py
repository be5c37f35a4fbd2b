"""Next-token drift: KL divergence, same top-1, delta-p and perplexity ratio on a corpus."""

import pytest


@pytest.mark.drift
def test_drift(quantgate):
    verdict = quantgate.drift()
    assert verdict.passed, verdict.explain()
