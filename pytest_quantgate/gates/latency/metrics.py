"""Serving metrics of a load run, defined as `vllm bench serve` defines them
(vllm/benchmarks/serve.py, calculate_metrics):

- TTFT: first token event minus send time.
- ITL: gaps between consecutive token events after the first (every gap of every request).
- TPOT: (E2E - TTFT) / (output tokens - 1), per request with more than one output token.
- E2E latency: last token event minus send time.
- request and output-token throughput: completed requests (their output tokens) over the
  run's duration, first send to last answer.
- goodput: requests meeting every configured SLO (ttft_ms, tpot_ms, e2el_ms; a TPOT of a
  one-token answer counts as 0), per second; `good_share` is the same count over all sent.
Output tokens are the server's count (stream usage) where it gives one, else the model's
tokenizer's count of the streamed text. Percentiles interpolate linearly (numpy's default).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .loadgen import LoadRun, RequestResult


@dataclass(frozen=True)
class Distribution:
    """Milliseconds."""

    count: int
    mean: float
    median: float
    p90: float
    p99: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> "Distribution":
        if not seconds:
            return cls(0, float("nan"), float("nan"), float("nan"), float("nan"))
        ms = np.asarray(seconds, dtype=float) * 1000
        p50, p90, p99 = np.percentile(ms, [50, 90, 99])
        return cls(int(ms.size), float(ms.mean()), float(p50), float(p90), float(p99))


@dataclass(frozen=True)
class RunMetrics:
    sent: int
    completed: int
    errors: int
    timeouts: int
    duration_s: float
    output_tokens: int
    request_throughput: float  # completed requests per second
    output_throughput: float  # output tokens per second
    ttft: Distribution
    tpot: Distribution
    itl: Distribution
    e2el: Distribution
    goodput: float | None = None  # requests meeting every SLO, per second
    good_share: float | None = None  # ... as a share of the requests sent

    @property
    def error_rate(self) -> float:
        return (self.errors + self.timeouts) / self.sent if self.sent else 0.0

    def value(self, key: str) -> float:
        """`ttft_p99`, `tpot_median`, ... in milliseconds."""
        metric, statistic = key.split("_", 1)
        return float(getattr(getattr(self, metric), statistic))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["error_rate"] = self.error_rate
        return data


TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class RequestSample:
    """One completed request's per-request figures (seconds), for the metrics and the plots."""

    ttft: float
    tpot: float  # 0 for a one-token answer (as goodput reads it)
    e2el: float
    itl: tuple[float, ...]
    output_tokens: int


def samples(results: Sequence[RequestResult], count_tokens: TokenCounter) -> list[RequestSample]:
    out = []
    for r in results:
        if not r.ok:
            continue
        tokens = r.output_tokens or count_tokens(r.text) or 1
        tpot = (r.latency_s - r.ttft_s) / (tokens - 1) if tokens > 1 else 0.0
        out.append(RequestSample(r.ttft_s, tpot, r.latency_s, tuple(r.itl_s), tokens))
    return out


def summarize(
    runs: Sequence[LoadRun], count_tokens: TokenCounter, slo: Mapping[str, float] | None = None
) -> RunMetrics:
    """Metrics over one run, or over several runs of one shape pooled (durations add up)."""
    results = [r for run in runs for r in run.results]
    done = samples(results, count_tokens)
    duration = sum(run.duration_s for run in runs) or float("nan")
    output_tokens = sum(s.output_tokens for s in done)
    goodput = good_share = None
    if slo:
        limits = {key.removesuffix("_ms"): value / 1000 for key, value in slo.items()}
        good = sum(all(getattr(s, metric) <= bound for metric, bound in limits.items()) for s in done)
        goodput, good_share = good / duration, good / len(results) if results else 0.0
    return RunMetrics(
        sent=len(results),
        completed=len(done),
        errors=sum(1 for r in results if r.error is not None),
        timeouts=sum(1 for r in results if r.timed_out),
        duration_s=duration,
        output_tokens=output_tokens,
        request_throughput=len(done) / duration,
        output_throughput=output_tokens / duration,
        ttft=Distribution.of([s.ttft for s in done]),
        tpot=Distribution.of([s.tpot for s in done if s.output_tokens > 1]),
        itl=Distribution.of([gap for s in done for gap in s.itl]),
        e2el=Distribution.of([s.e2el for s in done]),
        goodput=goodput,
        good_share=good_share,
    )
