from __future__ import annotations

from ...errors import UsageError
from ..common.staged import staged_verdict
from ..context import GateContext
from ..verdict import GateVerdict
from . import decision, haystack
from .thresholds import LongContextThresholds


def run(context: GateContext, thresholds: LongContextThresholds | None = None) -> GateVerdict:
    """Needle retrieval over the configured grid of lengths, depths and tasks; prompts are
    sized with the candidate's tokenizer and made reproducibly from the seed."""
    limits: LongContextThresholds = context.settings("long_context", thresholds)
    engine = context.candidate_engine()
    usable = engine.tokenizer_facts().max_context
    too_long = [n for n in limits.lengths if usable and n + 64 > usable]
    if too_long:
        raise UsageError(
            f"gates.long_context.lengths {too_long} exceed what {context.candidate.name} can take "
            f"({usable} tokens, less room for the answer); lower them"
        )
    cases = haystack.make_grid(limits.lengths, limits.depths, limits.tasks, limits.seed, lambda t: len(engine.tokenize(t)), limits.repeats)
    return staged_verdict(
        context, cases, [c.id for c in cases], [c.request() for c in cases], 1, limits,
        lambda cases, baseline, candidate, plan: decision.evaluate(cases, baseline, candidate, limits, plan),
    )
