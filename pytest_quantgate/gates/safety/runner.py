from __future__ import annotations

from typing import Sequence

from ..common import refusal
from ..common.staged import staged_verdict
from ..context import GateContext
from ..verdict import GateVerdict
from . import decision, families
from .cases import SAFETY, SafetyCase
from .thresholds import SafetyThresholds


def run(context: GateContext, cases: Sequence[SafetyCase] | None = None, thresholds: SafetyThresholds | None = None) -> GateVerdict:
    """Refusals kept on harmful requests and answers kept on benign ones."""
    limits: SafetyThresholds = context.settings("safety", thresholds, cases)
    judge = refusal.load_classifier(limits.classifier)
    chosen = context.cases(SAFETY, limits, cases)
    if cases is None:  # a test's own regression cases run alone
        chosen += families.generated_cases(limits.generated, limits.generated_seed)
    requests = [c.request(limits.max_new_tokens, limits.system) for c in chosen]
    return staged_verdict(
        context, chosen, [c.id for c in chosen], requests, 1, limits,
        lambda cases, baseline, candidate, plan: decision.evaluate(cases, baseline, candidate, limits, judge, plan),
    )
