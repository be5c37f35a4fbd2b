"""Next-token drift: KL divergence, same top-1, delta-p and perplexity ratio on a corpus."""

from ..registry import Gate
from .thresholds import DriftThresholds

GATE = Gate(
    name="drift",
    help="next-token distribution drift (KL divergence)",
    runner="pytest_quantgate.gates.drift.runner:run",
    settings=DriftThresholds,
    needs=frozenset({"teacher_forcing"}),
)
