"""lm-evaluation-harness tasks (gates.lm_eval.tasks), paired per sample; skipped without tasks."""

import pytest

from pytest_quantgate.harness import GateHarness


@pytest.mark.lm_eval
def test_lm_eval(quantgate: GateHarness) -> None:
    verdict = quantgate.lm_eval()
    assert verdict.passed, verdict.explain()
