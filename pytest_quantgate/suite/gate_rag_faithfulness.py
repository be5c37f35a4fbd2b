"""RAG faithfulness: answers grounded in the numbered sources, citations that exist."""

import pytest


@pytest.mark.rag_faithfulness
def test_rag_faithfulness(quantgate):
    verdict = quantgate.rag_faithfulness()
    assert verdict.passed, verdict.explain()
