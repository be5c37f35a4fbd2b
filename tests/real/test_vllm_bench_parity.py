"""The latency gate's measures against `vllm bench serve` itself (vllm/benchmarks, the vLLM this
project pins), in the vLLM tier's environment (tox -e vllm): the same requests' records through
vLLM's own `calculate_metrics`, and vLLM's own streaming client timing the same stream as the
load generator. A loopback server streams fixed timings; no model is needed for either."""

from __future__ import annotations

import asyncio
import statistics
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_quantgate.gates.latency import loadgen
from pytest_quantgate.gates.latency import metrics as latency_stats
from tests.fake_openai import Behaviour, FakeServer

pytest.importorskip("vllm")
pytestmark = [pytest.mark.slow, pytest.mark.vllm]

from vllm.benchmarks.lib.endpoint_request_func import (  # noqa: E402
    RequestFuncInput,
    RequestFuncOutput,
    async_request_openai_chat_completions,
)
from vllm.benchmarks.serve import calculate_metrics  # noqa: E402

PAYLOAD = {"model": "fake", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 6}


def words(text: str) -> int:
    return len(text.split())


def word_tokenizer(text: str, add_special_tokens: bool = False) -> Any:
    """The same count for vLLM's fallback (`tokenizer(text).input_ids`) as `words` for ours."""
    return SimpleNamespace(input_ids=text.split())


def measured(behaviour: Behaviour, requests: int, concurrency: int) -> loadgen.LoadRun:
    with FakeServer(behaviour) as server:
        options = loadgen.client_options(server.base_url, {}, 30, 64)
        return loadgen.measure(options, "chat/completions", [PAYLOAD] * requests, loadgen.TrafficShape(concurrency=concurrency),
                               request_timeout_s=30, time_limit_s=60)


def as_vllm(result: loadgen.RequestResult) -> RequestFuncOutput:
    """One request's record as vLLM's client would have written it."""
    if not result.ok:
        return RequestFuncOutput(success=False, error=result.error or "timed out", start_time=result.sent_s)
    return RequestFuncOutput(
        generated_text=result.text, success=True, latency=result.latency_s, output_tokens=result.output_tokens or 0,
        ttft=result.ttft_s, itl=result.itl_s, prompt_len=result.prompt_tokens or 0, start_time=result.sent_s,
    )


@pytest.mark.parametrize(
    "behaviour",
    [
        pytest.param(Behaviour(ttft_s=0.02, itl_s=0.004, tokens=6), id="server-counts-tokens"),
        pytest.param(Behaviour(ttft_s=0.02, itl_s=0.004, tokens=6, usage=False, fail_every=5), id="tokenizer-counts-and-errors"),
    ],
)
def test_the_latency_metrics_are_vllm_bench_serves_on_the_same_requests(behaviour: Behaviour) -> None:
    """Every figure the gate decides on (TTFT, TPOT, ITL, E2E: mean, median, p90, p99;
    throughputs; goodput under SLOs) equals vLLM's `calculate_metrics` on the same records.
    The run's duration is passed to vLLM as ours (first send to last answer; `vllm bench serve`
    times from before its first send to after its last answer: its own run's wall clock)."""
    run = measured(behaviour, requests=30, concurrency=4)
    done = [r for r in run.results if r.ok]
    slo = {  # around the medians, so some requests meet each and some do not
        "ttft_ms": statistics.median(r.ttft_s for r in done) * 1000,
        "e2el_ms": statistics.median(r.latency_s for r in done) * 1000,
    }
    ours = latency_stats.summarize([run], words, slo)
    theirs, _ = calculate_metrics(
        input_requests=[], outputs=[as_vllm(r) for r in run.results], dur_s=run.duration_s, tokenizer=word_tokenizer,
        selected_percentiles=[50.0, 90.0, 99.0], goodput_config_dict={key.removesuffix("_ms"): v for key, v in slo.items()},
    )

    assert (ours.completed, ours.sent - ours.completed) == (theirs.completed, theirs.failed)
    assert ours.errors == (len(run.results) // behaviour.fail_every if behaviour.fail_every else 0)
    assert ours.output_tokens == theirs.total_output == 6 * ours.completed
    assert ours.request_throughput == pytest.approx(theirs.request_throughput, rel=1e-12)
    assert ours.output_throughput == pytest.approx(theirs.output_throughput, rel=1e-12)
    assert ours.goodput == pytest.approx(theirs.request_goodput, rel=1e-12) and 0 < ours.goodput < ours.request_throughput
    for name in ("ttft", "tpot", "itl", "e2el"):
        mine: latency_stats.Distribution = getattr(ours, name)
        percentiles = dict(getattr(theirs, f"percentiles_{name}_ms"))
        vllm = (getattr(theirs, f"mean_{name}_ms"), getattr(theirs, f"median_{name}_ms"), percentiles[90.0], percentiles[99.0])
        assert (mine.mean, mine.median, mine.p90, mine.p99) == pytest.approx(vllm, rel=1e-12), name


def test_the_load_generator_times_a_stream_as_vllm_bench_serves_client_does() -> None:
    """vLLM's chat client and the load generator, one request at a time on the same stream
    (first token after 100 ms, then one every 40 ms): the same events, so the same TTFT, gaps,
    latency, text and token count, within the loopback's scheduling jitter (15 ms)."""
    behaviour = Behaviour(ttft_s=0.1, itl_s=0.04, tokens=5)
    with FakeServer(behaviour) as server:
        options = loadgen.client_options(server.base_url, {}, 30, 64)
        ours = loadgen.measure(options, "chat/completions", [PAYLOAD] * 5, loadgen.TrafficShape(concurrency=1),
                               request_timeout_s=30, time_limit_s=60).results
        request = RequestFuncInput(prompt="hi", api_url=server.base_url + "chat/completions", prompt_len=1, output_len=5, model="fake")

        async def vllm_client() -> list[RequestFuncOutput]:
            import aiohttp

            async with aiohttp.ClientSession() as session:
                return [await async_request_openai_chat_completions(request, session) for _ in range(5)]

        theirs = asyncio.run(vllm_client())

    assert all(r.ok for r in ours) and all(o.success for o in theirs), [o.error for o in theirs]
    assert {(r.text, r.output_tokens, len(r.itl_s)) for r in ours} == {(o.generated_text, o.output_tokens, len(o.itl)) for o in theirs} == {
        (" w0 w1 w2 w3 w4", 5, 4)
    }
    pairs = {
        "ttft": ([r.ttft_s for r in ours], [o.ttft for o in theirs]),
        "itl": ([g for r in ours for g in r.itl_s], [g for o in theirs for g in o.itl]),
        "e2el": ([r.latency_s for r in ours], [o.latency for o in theirs]),
    }
    for name, (mine, vllm) in pairs.items():
        assert abs(statistics.median(mine) - statistics.median(vllm)) < 0.015, (name, mine, vllm)
    assert 0.1 <= statistics.median(pairs["ttft"][1]) < 0.13 and 0.04 <= statistics.median(pairs["itl"][1]) < 0.055
