"""The latency gate on real servers (slow tier): llama-cpp-python's OpenAI server on loopback
with the demo's F32 GGUF. The baseline against a twin of itself (same weights and flags, its
own server) passes; the same weights served in a slower configuration fail."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import tests.engine_stack  # noqa: F401  (first: one copy of torch/quanto for pytester runs)
from tests import reports
from tests.helpers import DEMO, GGUF, demo_config

pytest.importorskip("llama_cpp")
pytestmark = [pytest.mark.slow, pytest.mark.serial]

LATENCY = GGUF + f'''
[candidates.gguf-f32-twin]
engine = "llamacpp"
model = "{DEMO}@gguf-f32"
baseline = "gguf-f32"

[candidates.gguf-f32-nbatch1]
engine = "llamacpp"
model = "{DEMO}@gguf-f32"
baseline = "gguf-f32"
runtime = {{ n_batch = 1 }}           # the prompt is read one token per forward pass

[gates.latency]
concurrency = [1, 3]
num_requests = 8
rounds = 3
warmup_requests = 1
output_len = 12
# TTFT here is ~120 ms and TPOT ~43 ms: between two identical servers, round pairs moved by up
# to 1.29x (TTFT p90) and 1.12x (TPOT) on a quiet machine. n_batch = 1 costs 6x TTFT, 2x E2E.
max_ratio = {{ ttft_p90 = 1.5, tpot_median = 1.25, e2el_p90 = 1.25 }}
'''


def test_a_twin_of_the_baseline_passes_and_a_slower_configuration_fails(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", quantgate=demo_config(extra=LATENCY))
    result = pytester.runpytest_inprocess(
        "--quant-candidate=gguf-f32-twin,gguf-f32-nbatch1", "--quantgate-suite=only", "-m", "latency",
        "--quantgate-report=out/r.json", "-p", "no:cacheprovider",
    )
    result.stdout.fnmatch_lines(["*gguf-f32-nbatch1*latency*FAIL*TTFT*", "*gguf-f32-twin*latency*PASS*"])
    gates = {name: entries["latency"] for name, entries in reports.by_candidate(pytester.path / "out" / "r.json").items()}
    twin, slow = gates["gguf-f32-twin"], gates["gguf-f32-nbatch1"]
    assert twin["verdict"] == "pass", twin["reason"]
    assert slow["verdict"] == "fail" and "TTFT p90" in slow["reason"], slow["reason"]

    for entry in (twin, slow):
        shapes = entry["metrics"]["shapes"]
        assert list(shapes) == ["concurrency=1", "concurrency=3"]
        for shape in shapes.values():
            for side in ("baseline", "candidate"):
                measured = shape[side]
                # Three rounds each of 8 requests of exactly 12 tokens (stop tokens banned).
                assert (measured["sent"], measured["completed"], measured["errors"]) == (24, 24, 0)
                assert measured["output_tokens"] == 24 * 12
                assert 0 < measured["ttft"]["median"] <= measured["e2el"]["median"]
                assert len(shape["rounds"][side]) == 3
        memory = entry["metrics"]["memory"]
        for side in ("baseline", "candidate"):
            assert memory[side]["weights_bytes"] > 500e6  # float32 weights
            assert memory[side]["kv_cache_bytes"] == 2048 * 2 * 30 * 3 * 64 * 2  # n_ctx x K,V x layers x heads x dim x f16
            assert memory[side]["server_rss_bytes"] > 100e6
        for picture in entry["metrics"]["plots"]:
            assert Path(picture).parent == pytester.path / "out" and Path(picture).read_bytes()[:4] == b"\x89PNG"

    # Reading the prompt one token per pass costs the first token, not the later ones.
    heavy = slow["metrics"]["shapes"]["concurrency=1"]
    assert heavy["candidate"]["ttft"]["median"] > 3 * heavy["baseline"]["ttft"]["median"]
    assert heavy["candidate"]["tpot"]["median"] < 1.5 * heavy["baseline"]["tpot"]["median"]
    # Every server this session started is gone.
    for entry in (twin, slow):
        for side in ("baseline", "candidate"):
            with pytest.raises(httpx.HTTPError):
                httpx.get(entry["metrics"]["memory"][side]["served"]["base_url"] + "/models", timeout=2)
