from __future__ import annotations

from typing import Sequence

from ...engines.base import EngineUnavailable
from ...errors import UsageError
from ..common.staged import staged_verdict
from ..context import GateContext
from ..verdict import GateVerdict
from . import decision, families
from .cases import STRUCTURED, StructuredCase
from .thresholds import StructuredThresholds

MODES = ("free", "guided")


def run(
    context: GateContext,
    cases: Sequence[StructuredCase] | None = None,
    thresholds: StructuredThresholds | None = None,
    mode: str = "free",
) -> GateVerdict:
    """JSON answers against their schemas. `mode="guided"` hands each schema to the engine's
    constrained decoding (skipped where an engine has none)."""
    limits: StructuredThresholds = context.settings("structured_output", thresholds, cases)
    if mode not in MODES:
        raise UsageError(f"structured_output mode {mode!r}; allowed: 'free', 'guided'")
    if mode not in limits.modes:
        raise EngineUnavailable(f"structured_output mode {mode!r} is off (gates.structured_output.modes = {list(limits.modes)})")
    guided = mode == "guided"
    if guided:  # the baseline engine runs only when its answers are re-recorded
        for engine in (context.candidate_engine(), *((context.baseline_engine(),) if context.recording else ())):
            if not engine.capabilities.guided_json:
                raise EngineUnavailable(f"{engine.spec.name} ({engine.spec.engine} engine) has no constrained JSON decoding")
    chosen = context.cases(STRUCTURED, limits, cases)
    if cases is None:  # a test's own regression cases run alone
        chosen += families.generated_cases(limits.generated, limits.generated_seed)
    requests = [c.request(limits.max_new_tokens, guided=guided) for c in chosen]
    return staged_verdict(
        context, chosen, [c.id for c in chosen], requests, 1, limits,
        lambda cases, baseline, candidate, plan: decision.evaluate(cases, baseline, candidate, limits, mode=mode, plan=plan),
    )
