"""Long context: needle retrieval at growing lengths and depths, against the baseline."""

import pytest

from pytest_quantgate.harness import GateHarness


@pytest.mark.long_context
def test_long_context(quantgate: GateHarness) -> None:
    verdict = quantgate.long_context()
    assert verdict.passed, verdict.explain()
