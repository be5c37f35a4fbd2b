from __future__ import annotations

from typing import Sequence

from ..context import GateContext
from ..verdict import GateVerdict
from . import decision, formats
from .cases import TOOL_CALLS, ToolCase
from .thresholds import ToolCallThresholds


def run(context: GateContext, cases: Sequence[ToolCase] | None = None, thresholds: ToolCallThresholds | None = None) -> GateVerdict:
    """Tool calls against the expected calls and the baseline's, per case."""
    limits: ToolCallThresholds = context.settings("tool_call", thresholds, cases)
    chosen = context.cases(TOOL_CALLS, limits, cases)
    prompt_format = formats.resolve_format(limits.prompt_format, context.candidate_engine().tokenizer_facts().chat_template)
    requests = [formats.request(c, prompt_format, limits.max_new_tokens) for c in chosen]
    baseline, candidate = context.answers([c.id for c in chosen], requests, top_k=1)
    return decision.evaluate(chosen, baseline, candidate, limits, prompt_format=prompt_format)
