import pytest


@pytest.mark.declared
def test_declared(quantgate):
    verdict = quantgate.declared()
    assert verdict.passed, verdict.explain()
