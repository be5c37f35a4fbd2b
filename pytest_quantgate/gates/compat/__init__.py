"""Compatibility: tokenizer, special tokens, chat template, stop ids, sampling defaults,
context and LoRA adapter parity between the candidate's runtime and the baseline's."""

from ..registry import Gate

GATE = Gate(
    name="compat",
    help="tokenizer, chat template and generation config",
    runner="pytest_quantgate.gates.compat.runner:run",
)
