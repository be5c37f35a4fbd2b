"""Tool calls: the right function with the right arguments, or no call where none is due."""

from ..registry import Gate
from .thresholds import ToolCallThresholds

GATE = Gate(
    name="tool_call",
    help="tool-call names and arguments",
    runner="pytest_quantgate.gates.tool_call.runner:run",
    settings=ToolCallThresholds,
)
