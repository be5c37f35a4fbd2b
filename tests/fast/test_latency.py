"""The latency gate's parts (fast tier): the load generator against a trivial loopback
streaming server, the metric definitions, the pure decision, config and pictures. The proof
on real servers is in test_latency_engines.py."""

from __future__ import annotations

import statistics
from dataclasses import replace
from pathlib import Path

import pytest

from pytest_quantgate.config import ConfigError
from pytest_quantgate.gates.registry import parse_config as parse

from pytest_quantgate.gates.latency.thresholds import LatencyThresholds
from pytest_quantgate.gates.latency import decision as latency
from pytest_quantgate.gates.latency import loadgen, plots
from pytest_quantgate.gates.latency import metrics as latency_stats
from pytest_quantgate.gates.latency.metrics import Distribution, RunMetrics

from tests.fake_openai import Behaviour, FakeServer


def measure(server: FakeServer, shape: loadgen.TrafficShape, requests: int = 8, **limits: float) -> loadgen.LoadRun:
    payloads = [{"model": "fake", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}] * requests
    options = loadgen.client_options(server.base_url, {}, 30, 64)
    return loadgen.measure(
        options, "chat/completions", payloads, shape,
        request_timeout_s=limits.get("request_timeout_s", 30), time_limit_s=limits.get("time_limit_s", 60),
    )


def words(text: str) -> int:
    return len(text.split())


def test_timings_follow_vllm_bench_serve_definitions() -> None:
    with FakeServer(Behaviour(ttft_s=0.08, itl_s=0.03, tokens=5)) as server:
        run = measure(server, loadgen.TrafficShape(concurrency=1), requests=3)
    metrics = latency_stats.summarize([run], words)
    assert (metrics.sent, metrics.completed, metrics.errors, metrics.output_tokens) == (3, 3, 0, 15)
    assert 80 <= metrics.ttft.median < 160  # first token event minus send time
    assert 30 <= metrics.itl.median < 60 and metrics.itl.count == 3 * 4  # gaps after the first token
    for result in run.results:  # TPOT = (E2E - TTFT) / (tokens - 1), per request
        assert result.latency_s == pytest.approx(result.ttft_s + sum(result.itl_s))
    expected_tpot = statistics.median((r.latency_s - r.ttft_s) / 4 * 1000 for r in run.results)
    assert metrics.tpot.median == pytest.approx(expected_tpot)
    assert metrics.output_throughput == pytest.approx(15 / run.duration_s)
    assert metrics.request_throughput == pytest.approx(3 / run.duration_s)


def test_output_tokens_are_counted_with_the_tokenizer_when_the_server_does_not_say() -> None:
    with FakeServer(Behaviour(tokens=6, usage=False)) as server:
        run = measure(server, loadgen.TrafficShape(concurrency=2), requests=2)
    assert all(r.output_tokens is None for r in run.results)
    assert latency_stats.summarize([run], words).output_tokens == 12  # " w0 w1 ... w5" is 6 words


def test_concurrency_is_what_the_shape_says() -> None:
    with FakeServer(Behaviour(ttft_s=0.05, tokens=2)) as server:
        measure(server, loadgen.TrafficShape(concurrency=3), requests=12)
        assert server.behaviour.max_in_flight == 3
        server.behaviour.max_in_flight = 0
        measure(server, loadgen.TrafficShape(concurrency=12), requests=12)
        assert server.behaviour.max_in_flight == 12


def test_poisson_arrivals_are_reproducible_and_have_the_asked_rate() -> None:
    gaps = loadgen.poisson_gaps(20.0, 4000, seed=3)
    assert gaps == loadgen.poisson_gaps(20.0, 4000, seed=3)
    assert statistics.fmean(gaps) == pytest.approx(1 / 20, rel=0.05)
    with FakeServer(Behaviour(tokens=2)) as server:
        run = measure(server, loadgen.TrafficShape(request_rate=50.0), requests=20)
    sends = sorted(r.sent_s for r in run.results)
    assert sends[-1] - sends[0] == pytest.approx(sum(loadgen.poisson_gaps(50.0, 20, 0)[1:]), abs=0.15)


def test_errors_timeouts_and_the_time_limit_are_counted_not_raised() -> None:
    with FakeServer(Behaviour(tokens=2, fail_every=4)) as server:
        metrics = latency_stats.summarize([measure(server, loadgen.TrafficShape(concurrency=1), requests=8)], words)
    assert (metrics.errors, metrics.completed, metrics.error_rate) == (2, 6, 0.25)
    with FakeServer(Behaviour(tokens=2, stall_s=1.0)) as server:
        run = measure(server, loadgen.TrafficShape(concurrency=2), requests=6, request_timeout_s=0.3, time_limit_s=0.8)
    metrics = latency_stats.summarize([run], words)
    assert metrics.timeouts == 6 and metrics.completed == 0 and run.hit_time_limit


def test_an_unreachable_endpoint_is_an_error_per_request() -> None:
    from pytest_quantgate.engines.servers import free_port

    options = loadgen.client_options(f"http://127.0.0.1:{free_port()}/v1/", {}, 5, 8)
    run = loadgen.measure(options, "chat/completions", [{"model": "m"}] * 2, loadgen.TrafficShape(concurrency=1),
                          request_timeout_s=5, time_limit_s=10)
    assert [r.ok for r in run.results] == [False, False] and "ConnectError" in (run.results[0].error or "")


def test_goodput_counts_requests_meeting_every_slo() -> None:
    with FakeServer(Behaviour(ttft_s=0.05, itl_s=0.01, tokens=3)) as server:
        run = measure(server, loadgen.TrafficShape(concurrency=1), requests=4)
    assert latency_stats.summarize([run], words, {"ttft_ms": 5000, "e2el_ms": 5000}).good_share == 1.0
    strict = latency_stats.summarize([run], words, {"ttft_ms": 5000, "tpot_ms": 1})
    assert strict.good_share == 0.0 and strict.goodput == 0.0


# -- the decision (pure) -----------------------------------------------------------------
def metrics(ttft_ms: float, tpot_ms: float = 20.0, tok_s: float = 100.0, errors: int = 0, good: float | None = None) -> RunMetrics:
    def dist(ms: float) -> Distribution:
        return Distribution(16, ms, ms, ms, ms)

    return RunMetrics(16, 16 - errors, errors, 0, 10.0, 1000, 1.6, tok_s, dist(ttft_ms), dist(tpot_ms), dist(tpot_ms),
                      dist(ttft_ms + 30 * tpot_ms), None, good)


def compare(base: list[RunMetrics], cand: list[RunMetrics]) -> latency.ShapeComparison:
    pooled = lambda runs: replace(runs[0], ttft=Distribution(16, *[statistics.fmean(r.ttft.p90 for r in runs)] * 4))  # noqa: E731
    return latency.ShapeComparison("concurrency=4", tuple(base), tuple(cand), pooled(base), pooled(cand))


LIMITS = LatencyThresholds(max_ratio={"ttft_p90": 1.10}, min_throughput_ratio=0.9)


def test_a_candidate_within_budget_passes_and_a_faster_one_never_fails() -> None:
    assert latency.evaluate([compare([metrics(100)] * 2, [metrics(105)] * 2)], LIMITS).verdict == "pass"
    faster = latency.evaluate([compare([metrics(100)] * 2, [metrics(40, tok_s=300)] * 2)], LIMITS)
    assert faster.verdict == "pass" and "TTFT p90 0.40x" in faster.key_metric


def test_slower_in_every_round_fails_with_the_ratio_and_spread() -> None:
    verdict = latency.evaluate([compare([metrics(100), metrics(110)], [metrics(150), metrics(160)])], LIMITS)
    assert verdict.verdict == "fail"
    assert "TTFT p90 1.48x the baseline's (budget <= 1.1x; rounds 1.45x to 1.50x, pooled 1.48x)" in verdict.reason
    case = next(c for c in verdict.cases if c.case_id == "concurrency=4:ttft_p90")
    assert case.details["round_ratios"] == [1.5, 1.4545]


def test_rounds_that_disagree_are_underpowered_not_a_pass() -> None:
    verdict = latency.evaluate([compare([metrics(100), metrics(100)], [metrics(150), metrics(100)])], LIMITS)
    assert verdict.verdict == "underpowered" and "rounds disagree" in verdict.reason


def test_one_disturbed_round_of_three_does_not_decide() -> None:
    # A shared machine slowed the candidate's first round only: the median round pair decides.
    verdict = latency.evaluate([compare([metrics(100)] * 3, [metrics(180), metrics(102), metrics(99)])], LIMITS)
    assert verdict.verdict == "pass", verdict.reason
    case = next(c for c in verdict.cases if c.case_id == "concurrency=4:ttft_p90")
    assert case.details["ratio"] == 1.02 and case.details["round_ratios"] == [1.8, 1.02, 0.99]


def test_lower_throughput_fails_whatever_memory_it_saves() -> None:
    memory = {"baseline": {"weights_bytes": 4_000}, "candidate": {"weights_bytes": 1_000}}
    verdict = latency.evaluate([compare([metrics(100)] * 2, [metrics(100, tok_s=70)] * 2)], LIMITS, memory)
    assert verdict.verdict == "fail" and "output throughput 0.70x" in verdict.reason
    assert verdict.metrics["memory"] == memory


def test_errors_above_budget_fail_and_a_failing_baseline_is_an_error() -> None:
    assert latency.evaluate([compare([metrics(100)] * 2, [metrics(100, errors=1)] * 2)], LIMITS).verdict == "fail"
    broken = latency.evaluate([compare([metrics(100, errors=3)] * 2, [metrics(100)] * 2)], LIMITS)
    assert broken.verdict == "error" and "the baseline itself failed 3" in broken.reason


def test_absolute_slos_decide_on_goodput() -> None:
    limits = replace(LIMITS, slo={"ttft_ms": 500}, min_goodput=0.9)
    ok = latency.evaluate([compare([metrics(100, good=1.0)] * 2, [metrics(100, good=0.95)] * 2)], limits)
    late = latency.evaluate([compare([metrics(100, good=1.0)] * 2, [metrics(100, good=0.5)] * 2)], limits)
    assert ok.verdict == "pass" and late.verdict == "fail" and "50% of requests meet the SLOs" in late.reason


# -- config and pictures ---------------------------------------------------------------
def config(latency_table: dict) -> dict:
    return {"baseline": "b", "candidates": {"b": {"engine": "hf", "model": "demo:smollm2-135m-instruct"}},
            "gates": {"latency": latency_table}}


def test_latency_config_is_validated_with_the_allowed_keys(tmp_path: Path) -> None:
    cfg = parse(config({"concurrency": [1, 8], "request_rates": [2.5], "max_ratio": {"ttft_p99": 1.1}}), tmp_path / "q.toml")
    assert [s.label for s in cfg.thresholds("latency").shapes()] == ["concurrency=1", "concurrency=8", "rate=2.5/s"]
    with pytest.raises(ConfigError, match="unknown key gates.latency.max_ratio.ttft_p95"):
        parse(config({"max_ratio": {"ttft_p95": 1.1}}), tmp_path / "q.toml")
    with pytest.raises(ConfigError, match="give concurrency levels or request_rates"):
        parse(config({"concurrency": []}), tmp_path / "q.toml")
    with pytest.raises(ConfigError, match="gates.latency.dataset: 'sharegpt' is not allowed"):
        parse(config({"dataset": "sharegpt"}), tmp_path / "q.toml")


def test_pictures_are_written_whole(tmp_path: Path) -> None:
    sample = latency_stats.RequestSample(0.1, 0.02, 0.7, (0.02, 0.03), 4)
    samples = {"concurrency=1": ([sample] * 3, [sample] * 3), "concurrency=4": ([sample], [sample])}
    cdf = plots.latency_cdfs(tmp_path / "cdf.png", ("base", "cand"), samples)
    comparisons = [replace(compare([metrics(100)], [metrics(120)]), shape=s) for s in ("concurrency=1", "concurrency=4")]
    curve = plots.throughput_curves(tmp_path / "tput.png", ("base", "cand"), comparisons)
    assert curve is not None
    for path in (cdf, curve):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cdf.png", "tput.png"]  # no temporary files left


# -- the traffic ---------------------------------------------------------------------------
class CharTokenizer:
    """One token per character; ids 0-2 are special (enough for the traffic's plumbing)."""

    all_special_ids = [0, 2, 1, 2]

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return [ord(c) + 3 for c in text]

    def decode(self, ids: list[int]) -> str:
        return "".join(chr(i - 3) for i in ids)

    def apply_chat_template(self, chat: list[dict], tokenize: bool, add_generation_prompt: bool) -> str:
        return "".join(f"<{m['role']}>{m['content']}" for m in chat) + "<assistant>"


def test_both_models_get_the_same_reproducible_requests() -> None:
    from pytest_quantgate.config import Endpoint
    from pytest_quantgate.engines.serving import ServedModel
    from pytest_quantgate.gates.golden.cases import GOLDEN
    from pytest_quantgate.gates.latency import traffic

    golden = GOLDEN.builtin_cases()
    limits = LatencyThresholds(num_requests=len(golden) + 4, warmup_requests=2, output_len=20)
    warmup, measured = traffic.build(limits, CharTokenizer(), golden)
    assert len(warmup) == 2 and len(measured) == len(golden) + 4
    assert measured[-1].messages[-1].content == golden[(len(golden) + 5) % len(golden)].prompt  # cycled
    assert {r.max_tokens for r in measured} == {20}
    synthetic = replace(limits, dataset="synthetic", input_len=100, range_ratio=0.5, seed=7)
    first, again = traffic.build(synthetic, CharTokenizer(), golden), traffic.build(synthetic, CharTokenizer(), golden)
    assert first == again
    lengths = [len(r.messages[0].content) for r in first[1]]
    assert min(lengths) >= 50 and max(lengths) <= 150 and len(set(lengths)) > 3
    assert all(10 <= r.max_tokens <= 30 for r in first[1])

    chat = ServedModel("c", Endpoint(base_url="http://x/v1"), "served-c")
    body = traffic.payload(chat, measured[0], CharTokenizer(), fixed_output_len=True)
    assert body["model"] == "served-c" and body["messages"][-1]["content"] == measured[0].messages[-1].content
    assert body["logit_bias"] == {"0": -100.0, "1": -100.0, "2": -100.0} and body["ignore_eos"] is True
    completions = ServedModel("c", Endpoint(base_url="http://x/v1", api="completions"), "c")
    body = traffic.payload(completions, measured[0], CharTokenizer(), fixed_output_len=False)
    assert body["prompt"].endswith("<assistant>") and "logit_bias" not in body and traffic.api_path(completions) == "completions"
