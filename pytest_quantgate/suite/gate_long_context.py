"""Long context: needle retrieval at growing lengths and depths, against the baseline."""

import pytest


@pytest.mark.long_context
def test_long_context(quantgate):
    verdict = quantgate.long_context()
    assert verdict.passed, verdict.explain()
