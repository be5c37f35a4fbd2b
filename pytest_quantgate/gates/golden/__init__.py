"""Golden prompts: the candidate's answers against the baseline's recorded answers."""

from ..registry import Gate
from .thresholds import GoldenThresholds

GATE = Gate(
    name="golden",
    help="golden prompts vs recorded baseline answers",
    runner="pytest_quantgate.gates.golden.runner:run",
    settings=GoldenThresholds,
)
