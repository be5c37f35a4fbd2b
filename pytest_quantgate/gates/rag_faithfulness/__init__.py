"""RAG faithfulness: answers grounded in the numbered sources, citations that exist."""

from ..registry import Gate
from .thresholds import RagThresholds

GATE = Gate(
    name="rag_faithfulness",
    help="answers grounded in the supplied context",
    runner="pytest_quantgate.gates.rag_faithfulness.runner:run",
    settings=RagThresholds,
)
