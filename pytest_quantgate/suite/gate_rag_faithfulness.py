"""RAG faithfulness: answers grounded in the numbered sources, citations that exist."""

import pytest

from pytest_quantgate.harness import GateHarness


@pytest.mark.rag_faithfulness
def test_rag_faithfulness(quantgate: GateHarness) -> None:
    verdict = quantgate.rag_faithfulness()
    assert verdict.passed, verdict.explain()
