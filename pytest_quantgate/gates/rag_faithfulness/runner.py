from __future__ import annotations

from typing import Sequence

from ..common import judges
from ..common.staged import staged_verdict
from ..context import GateContext
from ..verdict import GateVerdict
from . import decision, families
from .cases import RAG, RagCase
from .thresholds import RagThresholds

NLI_CONTRACT = "a callable (premise, hypothesis) -> entailment probability in [0, 1]"


def run(context: GateContext, cases: Sequence[RagCase] | None = None, thresholds: RagThresholds | None = None) -> GateVerdict:
    """Answers grounded in the numbered sources given with each question."""
    limits: RagThresholds = context.settings("rag_faithfulness", thresholds, cases)
    entails = judges.load(limits.nli, "gates.rag_faithfulness.nli", NLI_CONTRACT) if limits.nli else None
    chosen = context.cases(RAG, limits, cases)
    if cases is None:  # a test's own regression cases run alone
        chosen += families.generated_cases(limits.generated, limits.generated_seed)
    requests = [c.request(limits.max_new_tokens) for c in chosen]
    return staged_verdict(
        context, chosen, [c.id for c in chosen], requests, 1, limits,
        lambda cases, baseline, candidate, plan: decision.evaluate(cases, baseline, candidate, limits, entails, plan),
    )
