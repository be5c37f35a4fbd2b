"""Adapter: a LoRA adapter on a quantized base (or merged, then quantized) against the same
adapter on the float32 base: taught facts kept, their answers' log-probs, and unrelated
answers left as the base model gives them."""

from ..registry import Gate
from .thresholds import AdapterThresholds

GATE = Gate(
    name="adapter",
    help="a LoRA adapter on the quantized base: taught facts kept, unrelated answers undisturbed",
    runner="pytest_quantgate.gates.adapter.runner:run",
    settings=AdapterThresholds,
    needs=frozenset({"teacher_forcing"}),
)
