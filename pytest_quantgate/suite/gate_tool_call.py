"""Tool calls: the right function with the right arguments, or no call where none is due."""

import pytest


@pytest.mark.tool_call
def test_tool_call(quantgate):
    verdict = quantgate.tool_call()
    assert verdict.passed, verdict.explain()
