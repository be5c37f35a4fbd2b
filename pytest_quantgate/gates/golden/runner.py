from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ...engines.base import Generation
from ...errors import ConfigError, UsageError
from ...sequential import Plan
from ..common import traffic
from ..common.staged import staged_verdict
from ..context import GateContext
from ..verdict import GateVerdict
from . import decision, families
from .cases import GOLDEN, GoldenCase
from .thresholds import GoldenThresholds


def run(context: GateContext, cases: Sequence[GoldenCase] | None = None, thresholds: GoldenThresholds | None = None) -> GateVerdict:
    """Golden prompts against the baseline's recorded answers (paired statistics); cases given
    by a test are regression cases: none that held for the baseline may be lost."""
    limits: GoldenThresholds = context.settings("golden", thresholds, cases)
    if cases is not None:  # a test's own regression cases run alone
        chosen = context.cases(GOLDEN, limits, cases)
    else:
        chosen = context.cases(GOLDEN, limits) if limits.builtin_cases or limits.cases else []
        chosen += families.family_cases(limits.families, limits.family_size, limits.family_seed)
        chosen += traffic_cases(context.config.path.parent, limits, context.baseline.generation.max_new_tokens)
        if not chosen:
            raise ConfigError("gates.golden has no cases (builtin_cases = false and no case files, families or traffic)")
    top_k = context.baseline.generation.top_logprobs
    if limits.top_k > top_k:
        raise UsageError(
            f"gates.golden.top_k={limits.top_k} exceeds the {top_k} log-probs the baseline records; "
            f"raise candidates.{context.baseline.name}.generation.top_logprobs"
        )
    requests = [c.request(context.baseline.generation.max_new_tokens) for c in chosen]

    def evaluate(cases: Sequence[GoldenCase], baseline: Sequence[Generation], candidate: Sequence[Generation], plan: Plan | None) -> GateVerdict:
        return decision.evaluate(cases, baseline, candidate, limits, plan)

    # The candidate's own log-probs are never read (its diverging token is ranked in the
    # baseline's top-k): none are asked, which spares servers that sort the vocabulary per token.
    return staged_verdict(context, chosen, [c.id for c in chosen], requests, top_k, limits, evaluate, candidate_top_k=0)


def traffic_cases(root: Path, limits: GoldenThresholds, max_new_tokens: int) -> list[GoldenCase]:
    """A seeded sample of the recorded requests, each a case sent as recorded."""
    if not limits.traffic:
        return []
    recorded = traffic.sample(traffic.load((root / p for p in limits.traffic), max_new_tokens, "gates.golden.traffic"), limits.traffic_sample, limits.traffic_seed)
    return [
        GoldenCase(id=f"traffic:{r.id}", prompt=r.request.messages[-1].content, category="traffic", recorded=r.request)
        for r in recorded
    ]
