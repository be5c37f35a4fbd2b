from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

from ...config.schema import setting

if TYPE_CHECKING:
    from .loadgen import TrafficShape

METRICS = ("ttft", "tpot", "itl", "e2el")
STATISTICS = ("mean", "median", "p90", "p99")
SLO_KEYS = ("ttft_ms", "tpot_ms", "e2el_ms")
_POSITIVE = {"type": "number", "exclusiveMinimum": 0}


@dataclass(frozen=True)
class LatencyThresholds:
    """Traffic (closed-loop concurrency levels and Poisson request rates, run A B A B) and the
    budgets: candidate/baseline ratios from the same run, absolute SLOs where set."""

    concurrency: tuple[int, ...] = setting((1, 4), type="array", items={"type": "integer", "minimum": 1}, uniqueItems=True)
    request_rates: tuple[float, ...] = setting((), type="array", items=_POSITIVE, uniqueItems=True)
    # cap on requests in flight in request-rate runs
    max_concurrency: int | None = setting(None, type=["integer", "null"], minimum=1)
    num_requests: int = setting(16, type="integer", minimum=2)  # measured per run (per shape, per round, per model)
    warmup_requests: int = setting(2, type="integer", minimum=0)  # per model before the first run, not measured
    rounds: int = setting(3, type="integer", minimum=1)  # A B A B A B: the models alternate this many times per shape
    time_limit_s: float = setting(300.0, **_POSITIVE)  # per run: no request starts later; one still running times out
    request_timeout_s: float = setting(120.0, **_POSITIVE)
    dataset: str = setting("golden", enum=["golden", "synthetic"])  # golden prompts, or synthetic of input_len tokens
    input_len: int = setting(128, type="integer", minimum=1)
    output_len: int = setting(32, type="integer", minimum=2)
    range_ratio: float = setting(0.0, type="number", minimum=0, exclusiveMaximum=1)  # +-range (as vllm bench serve)
    fixed_output_len: bool = setting(True, type="boolean")  # stop tokens banned: both write output_len tokens
    seed: int = setting(0, type="integer")
    max_ratio: Mapping[str, float] = setting(
        default_factory=lambda: {"ttft_p90": 1.25, "tpot_median": 1.15, "e2el_p90": 1.25},
        type="object",
        additionalProperties=False,
        patternProperties={f"^({'|'.join(METRICS)})_({'|'.join(STATISTICS)})$": {"type": "number", "minimum": 1}},
    )
    min_throughput_ratio: float = setting(0.85, type="number", minimum=0, maximum=1)  # output tokens/s vs the baseline's
    max_error_rate: float = setting(0.0, type="number", minimum=0, maximum=1)
    slo: Mapping[str, float] = setting(
        default_factory=dict, type="object", additionalProperties=False, properties={k: _POSITIVE for k in SLO_KEYS}
    )
    min_goodput: float = setting(0.9, type="number", minimum=0, maximum=1)  # share meeting every SLO (when set)

    def problem(self) -> str | None:
        """What the schema cannot say (read by config loading)."""
        if not self.concurrency and not self.request_rates:
            return "give concurrency levels or request_rates"
        return None

    def shapes(self) -> list["TrafficShape"]:
        from .loadgen import TrafficShape

        return [TrafficShape(concurrency=c) for c in self.concurrency] + [
            TrafficShape(concurrency=self.max_concurrency, request_rate=r) for r in self.request_rates
        ]
