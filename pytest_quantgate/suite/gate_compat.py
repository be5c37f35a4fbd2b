"""Compatibility: tokenizer, special tokens, chat template, stop ids, sampling defaults,
context and LoRA adapter parity between the candidate's runtime and the baseline's."""

import pytest

from pytest_quantgate.harness import GateHarness


@pytest.mark.compat
def test_compat(quantgate: GateHarness) -> None:
    verdict = quantgate.compat()
    assert verdict.passed, verdict.explain()
