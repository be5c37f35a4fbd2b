"""Tool calls: the right function with the right arguments, or no call where none is due."""

import pytest

from pytest_quantgate.harness import GateHarness


@pytest.mark.tool_call
def test_tool_call(quantgate: GateHarness) -> None:
    verdict = quantgate.tool_call()
    assert verdict.passed, verdict.explain()
