from __future__ import annotations

from typing import Sequence

from ..common.cases import check_unique
from ..common.staged import staged_verdict
from ..context import GateContext
from ..verdict import GateVerdict
from . import bfcl, decision, families, formats
from .cases import TOOL_CALLS, ToolCase
from .thresholds import ToolCallThresholds


def collect(context: GateContext, limits: ToolCallThresholds, given: Sequence[ToolCase] | None) -> list[ToolCase]:
    """`given`, else the built-in set and case files, plus the generated cases (`generated`) and
    BFCL's categories (`bfcl`) if any."""
    if given is not None or not (limits.bfcl or limits.generated):
        return context.cases(TOOL_CALLS, limits, given)
    own = context.cases(TOOL_CALLS, limits) if limits.builtin_cases or limits.cases else []
    chosen = own + families.generated_cases(limits.generated, limits.generated_seed)
    if limits.bfcl:
        chosen += bfcl.cases(limits.bfcl, limits.bfcl_sample, limits.bfcl_seed, limits.max_new_tokens)
    check_unique(chosen, f"tool_call cases (built-in + {', '.join(limits.cases) or 'no files'} + {limits.generated} generated"
                         f" + BFCL {', '.join(limits.bfcl) or 'none'})")
    return chosen


def run(context: GateContext, cases: Sequence[ToolCase] | None = None, thresholds: ToolCallThresholds | None = None) -> GateVerdict:
    """Tool calls against the expected calls and the baseline's, per case."""
    limits: ToolCallThresholds = context.settings("tool_call", thresholds, cases)
    chosen = collect(context, limits, cases)
    template = context.candidate_engine().tokenizer_facts().chat_template
    prompt_format = formats.resolve_format(limits.prompt_format, template)
    style = formats.style_for(prompt_format, template)
    requests = [formats.request(c, prompt_format, limits.max_new_tokens, limits.tool_choice or None) for c in chosen]
    return staged_verdict(
        context, chosen, [c.id for c in chosen], requests, 1, limits,
        lambda cases, baseline, candidate, plan: decision.evaluate(
            cases, baseline, candidate, limits, prompt_format=prompt_format, style=style, plan=plan
        ),
    )
