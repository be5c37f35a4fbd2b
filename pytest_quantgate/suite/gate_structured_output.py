"""Structured output: JSON answers against their schemas, free and with guided decoding."""

import pytest

from pytest_quantgate.harness import GateHarness


@pytest.mark.structured_output
def test_structured_output(quantgate: GateHarness) -> None:
    verdict = quantgate.structured_output(mode="free")
    assert verdict.passed, verdict.explain()


@pytest.mark.structured_output
def test_structured_output_guided(quantgate: GateHarness) -> None:
    verdict = quantgate.structured_output(mode="guided")
    assert verdict.passed, verdict.explain()
