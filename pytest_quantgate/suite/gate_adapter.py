"""Adapter: a LoRA adapter on the quantized base keeps its taught facts and leaves unrelated
answers as the base model gives them (skipped for candidates without an adapter)."""

import pytest

from pytest_quantgate.harness import GateHarness


@pytest.mark.adapter
def test_adapter(quantgate: GateHarness) -> None:
    verdict = quantgate.adapter()
    assert verdict.passed, verdict.explain()
