"""Latency and load: TTFT, ITL, TPOT, E2E and throughput of the served candidate as ratios to
the served baseline's, measured alternately under the configured traffic."""

from ..registry import Gate
from .thresholds import LatencyThresholds

GATE = Gate(
    name="latency",
    help="TTFT, ITL, TPOT, E2E and throughput",
    runner="pytest_quantgate.gates.latency.runner:run",
    settings=LatencyThresholds,
    needs=frozenset({"serving"}),
)
