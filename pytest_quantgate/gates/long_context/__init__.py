"""Long context: needle retrieval at growing lengths and depths, against the baseline."""

from ..registry import Gate
from .thresholds import LongContextThresholds

GATE = Gate(
    name="long_context",
    help="retrieval at growing lengths and depths",
    runner="pytest_quantgate.gates.long_context.runner:run",
    settings=LongContextThresholds,
)
