from __future__ import annotations

from typing import Sequence

from ...engines.base import EngineUnavailable
from ..context import GateContext, using
from ..verdict import GateVerdict
from ..common import traffic
from . import decision
from .thresholds import CanaryThresholds


def run(
    context: GateContext, requests: Sequence[traffic.RecordedRequest] | None = None, thresholds: CanaryThresholds | None = None
) -> GateVerdict:
    """The candidate (say, a canary route) against the live baseline (its route) on a
    sample of recorded requests (`gates.canary.traffic`). Both answer live: a route's
    answers are never recorded."""
    limits: CanaryThresholds = context.settings("canary", thresholds)
    if requests is None and not limits.traffic:
        raise EngineUnavailable("no recorded traffic to replay (set gates.canary.traffic = ['requests.jsonl'])")
    root = context.config.path.parent
    chosen = list(requests) if requests is not None else traffic.sample(
        traffic.load((root / p for p in limits.traffic), limits.max_new_tokens), limits.sample, limits.seed
    )
    generation = [r.request for r in chosen]
    # Answers are compared as text: no log-probs asked (top 0), so servers compute none.
    baseline = context.live_baseline(generation, 0)
    with using(context.candidate_engine()) as engine:
        candidate = engine.generate(generation, 0)
    return decision.evaluate(chosen, baseline, candidate, limits)
