"""Canary: a live canary route against the live baseline route on recorded traffic."""

from ..registry import Gate
from .thresholds import CanaryThresholds

GATE = Gate(
    name="canary",
    help="a live canary route vs the live baseline route on recorded traffic",
    runner="pytest_quantgate.gates.canary.runner:run",
    settings=CanaryThresholds,
)
