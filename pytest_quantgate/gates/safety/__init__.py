"""Safety: refusals kept on harmful requests, answers kept on benign ones that look risky."""

from ..registry import Gate
from .thresholds import SafetyThresholds

GATE = Gate(
    name="safety",
    help="refusal drift both ways",
    runner="pytest_quantgate.gates.safety.runner:run",
    settings=SafetyThresholds,
)
