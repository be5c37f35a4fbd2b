"""Load generator: streamed requests to an OpenAI-compatible endpoint under a traffic shape.

Timing follows `vllm bench serve` (vllm/benchmarks/lib/endpoint_request_func.py): the clock
starts just before the request is sent; every streamed event that carries a choice is a
token event (the first one is the time to first token, each later one an inter-token gap);
the last token event ends the request. One asyncio loop, one connection pool, no
per-request threads, so the client stays far faster than the servers it measures
(benchmarks/load_client.py).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ...engines.openai import EndpointError, stream_answer


@dataclass(frozen=True)
class TrafficShape:
    """Closed loop (`concurrency` requests in flight) or open loop (Poisson arrivals at
    `request_rate` per second, optionally capped at `concurrency` in flight)."""

    concurrency: int | None = None
    request_rate: float | None = None

    def __post_init__(self) -> None:
        if self.concurrency is None and self.request_rate is None:
            raise ValueError("a traffic shape needs a concurrency or a request rate")

    @property
    def label(self) -> str:
        if self.request_rate is None:
            return f"concurrency={self.concurrency}"
        cap = f", max {self.concurrency} in flight" if self.concurrency else ""
        return f"rate={self.request_rate:g}/s{cap}"


@dataclass
class RequestResult:
    """One request as the client saw it (vllm bench serve's RequestFuncOutput)."""

    sent_s: float
    event_s: list[float] = field(default_factory=list)
    text: str = ""
    output_tokens: int | None = None  # as the server counted them (stream usage), if it did
    prompt_tokens: int | None = None
    error: str | None = None
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.timed_out and bool(self.event_s)

    @property
    def ttft_s(self) -> float:
        return self.event_s[0] - self.sent_s

    @property
    def itl_s(self) -> list[float]:
        return [b - a for a, b in zip(self.event_s, self.event_s[1:])]

    @property
    def latency_s(self) -> float:
        return self.event_s[-1] - self.sent_s


@dataclass
class LoadRun:
    """Every measured request of one run, in the order they were sent."""

    shape: TrafficShape
    results: list[RequestResult]
    duration_s: float  # first send to last answer (the throughputs' denominator)
    hit_time_limit: bool = False


def poisson_gaps(rate: float, count: int, seed: int) -> list[float]:
    """Inter-arrival times of a Poisson process (what vllm bench serve draws at burstiness 1)."""
    rng = random.Random(seed)
    return [rng.expovariate(rate) for _ in range(count)]


async def _one(client: Any, path: str, payload: Mapping[str, Any], deadline: float) -> RequestResult:
    result = RequestResult(sent_s=time.perf_counter())
    try:
        async with asyncio.timeout_at(deadline):
            answer = await stream_answer(client, path, payload)
        result.event_s, result.text, result.sent_s = answer.event_s, answer.text, answer.sent_s
        usage = answer.usage or {}
        result.output_tokens = usage.get("completion_tokens")
        result.prompt_tokens = usage.get("prompt_tokens")
        if not answer.event_s:
            result.error = "the stream ended without a token"
    except TimeoutError:
        result.timed_out = True
    except EndpointError as exc:
        result.error = str(exc)
    except Exception as exc:  # transport errors: the request failed, the run goes on
        result.error = f"{type(exc).__name__}: {exc}"
    return result


async def run_load(
    client: Any,
    path: str,
    payloads: Sequence[Mapping[str, Any]],
    shape: TrafficShape,
    *,
    request_timeout_s: float,
    time_limit_s: float,
    seed: int = 0,
) -> LoadRun:
    """Send every payload under `shape`. No request starts after the time limit; one still
    running at the limit, or past its own timeout, counts as timed out."""
    loop = asyncio.get_running_loop()
    began = time.perf_counter()
    run_deadline = loop.time() + time_limit_s
    limit = asyncio.Semaphore(shape.concurrency) if shape.concurrency else None
    gaps = poisson_gaps(shape.request_rate, len(payloads), seed) if shape.request_rate else [0.0] * len(payloads)

    async def limited(payload: Mapping[str, Any]) -> RequestResult:
        if limit is None:
            return await _one(client, path, payload, min(run_deadline, loop.time() + request_timeout_s))
        async with limit:
            if loop.time() >= run_deadline:
                return RequestResult(sent_s=time.perf_counter(), timed_out=True)
            return await _one(client, path, payload, min(run_deadline, loop.time() + request_timeout_s))

    tasks = []
    for payload, gap in zip(payloads, gaps):
        if gap:
            await asyncio.sleep(gap)
        if loop.time() >= run_deadline:
            break
        tasks.append(asyncio.ensure_future(limited(payload)))
    results = list(await asyncio.gather(*tasks))
    unsent = len(payloads) - len(tasks)
    results += [RequestResult(sent_s=time.perf_counter(), timed_out=True) for _ in range(unsent)]
    ends = [r.event_s[-1] for r in results if r.event_s]
    duration = (max(ends) if ends else time.perf_counter()) - began
    return LoadRun(shape, results, duration, hit_time_limit=unsent > 0 or any(r.timed_out for r in results))


def client_options(base_url: str, headers: Mapping[str, str], timeout_s: float, connections: int) -> dict[str, Any]:
    """httpx.AsyncClient arguments: enough pooled connections for every request in flight."""
    import httpx

    return {
        "base_url": base_url,
        "headers": dict(headers),
        "timeout": timeout_s,
        "limits": httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
    }


def measure(client_args: Mapping[str, Any], *args: Any, **limits: Any) -> LoadRun:
    """One run_load (same arguments, less the client) on a fresh event loop and connection
    pool (what a gate calls)."""
    import httpx

    async def go() -> LoadRun:
        async with httpx.AsyncClient(**client_args) as client:
            return await run_load(client, *args, **limits)

    return asyncio.run(go())
