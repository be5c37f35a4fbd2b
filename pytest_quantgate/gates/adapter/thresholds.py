from __future__ import annotations

from dataclasses import dataclass

from ...config.schema import setting
from ..common.thresholds import CaseGateThresholds, max_new_tokens


@dataclass(frozen=True)
class AdapterThresholds(CaseGateThresholds):
    """Taught facts (the adapter's own cases, read from its folder, plus `cases` files) and
    control prompts (the built-in set, unless `builtin_cases = false`) are each decided with
    the paired rule; the taught answers' mean log-prob per token may drop at most
    `max_logprob_drop` nats against the baseline's."""

    max_new_tokens: int = max_new_tokens(32)
    max_logprob_drop: float = setting(0.5, type="number", minimum=0)
    # The share of the base model's control answers the adapter itself (on the float32 base)
    # may change, at its lower confidence bound, before it is called broken on every base. An
    # adapter on a 135M model bleeds into some look-alike questions (the demo's: 15%); an
    # over-trained one into most (60%).
    max_adapter_disturbance: float = setting(0.25, type="number", minimum=0, maximum=1)
    system: str | None = setting(None, type=["string", "null"])
