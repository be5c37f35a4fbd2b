"""Golden prompts: the candidate's answers against the baseline's recorded answers."""

import pytest


@pytest.mark.golden
def test_golden(quantgate):
    verdict = quantgate.golden()
    assert verdict.passed, verdict.explain()
