from __future__ import annotations

import os
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from ... import models
from ...engines import serving
from ..context import GateContext
from ..golden.cases import GOLDEN
from ..verdict import GateVerdict
from . import decision, footprint, loadgen, metrics, plots, traffic
from .thresholds import LatencyThresholds

ROLES = ("baseline", "candidate")


def run(context: GateContext, thresholds: LatencyThresholds | None = None) -> GateVerdict:
    """Serving latency and throughput under the configured traffic: both models served,
    the same requests sent to each, shape by shape, alternately (A B A B). Nothing is
    recorded: the baseline is measured in the same run, on the same machine."""
    limits: LatencyThresholds = context.settings("latency", thresholds)
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        warnings.warn(
            f"quantgate: latency of {context.candidate.name} measured while {workers} xdist workers share the machine; "
            "run the latency gate alone (-m latency -p no:xdist) for figures you can compare",
            stacklevel=2,
        )
    specs = {"baseline": context.baseline, "candidate": context.candidate}
    served = {role: context.served(spec) for role, spec in specs.items()}
    tokenizers = {role: s.tokenizer() for role, s in served.items()}
    golden_cases = context.cases(GOLDEN, context.config.thresholds("golden"))
    warmup, measured = traffic.build(limits, tokenizers["candidate"], golden_cases)
    runs: dict[str, dict[str, list[loadgen.LoadRun]]] = {role: {} for role in ROLES}

    def measure(role: str, requests: Sequence[traffic.LoadRequest], shape: loadgen.TrafficShape) -> loadgen.LoadRun:
        target = served[role]
        return loadgen.measure(
            loadgen.client_options(target.base_url, target.headers, limits.request_timeout_s, max(64, len(requests))),
            traffic.api_path(target),
            traffic.payloads(target, requests, tokenizers[role], limits.fixed_output_len),
            shape,
            request_timeout_s=limits.request_timeout_s,
            time_limit_s=limits.time_limit_s,
            seed=limits.seed,
        )

    if warmup:
        for role in ROLES:
            measure(role, warmup, loadgen.TrafficShape(concurrency=1))
    shapes = limits.shapes()
    for shape in shapes:
        for _ in range(limits.rounds):
            for role in ROLES:  # A B A B
                runs[role].setdefault(shape.label, []).append(measure(role, measured, shape))
    counters = {role: (lambda text, t=tokenizers[role]: len(t.encode(text, add_special_tokens=False))) for role in ROLES}
    comparisons = [
        decision.ShapeComparison(
            shape.label,
            tuple(metrics.summarize([r], counters["baseline"], limits.slo) for r in runs["baseline"][shape.label]),
            tuple(metrics.summarize([r], counters["candidate"], limits.slo) for r in runs["candidate"][shape.label]),
            metrics.summarize(runs["baseline"][shape.label], counters["baseline"], limits.slo),
            metrics.summarize(runs["candidate"][shape.label], counters["candidate"], limits.slo),
        )
        for shape in shapes
    ]
    memory = {}
    for role, spec in specs.items():
        memory[role] = footprint.footprint(served[role], spec, models.resolve(spec.model, context.cache_dir))
        memory[role]["served"] = serving.describe(served[role])
    verdict = decision.evaluate(comparisons, limits, memory)
    samples = {
        shape.label: tuple(
            metrics.samples([r for run in runs[role][shape.label] for r in run.results], counters[role]) for role in ROLES
        )
        for shape in shapes
    }
    pictures = _plots(context, comparisons, samples)
    extra = {"plots": [str(p) for p in pictures], "xdist_workers": workers}
    return replace(verdict, metrics={**verdict.metrics, **extra})


def _plots(context: GateContext, comparisons: Sequence[Any], samples: Mapping[str, Any]) -> list[Path]:
    names = (context.baseline.name, context.candidate.name)
    made = [plots.latency_cdfs(context.artifact_path("latency-cdf.png"), names, samples)]
    curve = plots.throughput_curves(context.artifact_path("throughput.png"), names, comparisons)
    return made + ([curve] if curve else [])
