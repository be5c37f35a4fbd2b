"""Structured output: JSON answers against their schemas, free and with guided decoding."""

from ..registry import Gate
from .thresholds import StructuredThresholds

GATE = Gate(
    name="structured_output",
    help="JSON validity and schema compliance",
    runner="pytest_quantgate.gates.structured_output.runner:run",
    settings=StructuredThresholds,
)
