"""Canary against real routes (slow tier): three llama-cpp-python servers on loopback play
the live baseline route (F32) and two canary routes (Q8_0, Q2_K); the recorded requests in
tests/data/canary_traffic.jsonl are replayed to both sides of each pair."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import tests.engine_stack  # noqa: F401  (first: one copy of torch/quanto for pytester runs)
from pytest_quantgate import models
from pytest_quantgate.engines import servers
from tests import reports
from tests.helpers import DATA, DEMO, demo_config

pytest.importorskip("llama_cpp")
pytestmark = pytest.mark.slow(minutes=2)

TRAFFIC = DATA / "canary_traffic.jsonl"


@pytest.fixture(scope="module")
def routes():
    cache = Path(os.environ.get("QUANTGATE_CACHE_DIR") or models.default_cache_dir())
    started = {}
    try:
        for name, variant in (("prod", "gguf-f32"), ("q8", "gguf-q8_0"), ("q2", "gguf-q2_k")):
            started[name] = servers.launch("llamacpp", models.resolve(f"{DEMO}@{variant}", cache), f"smollm2-{name}")
        yield started
    finally:
        for server in started.values():
            server.stop()


def route(name: str, variant: str, server: servers.LocalServer, served: str, baseline: str | None = None) -> str:
    base = f'baseline = "{baseline}"\n' if baseline else ""
    return f'''
[candidates.{name}]
engine = "openai"
model = "{DEMO}@{variant}"
{base}endpoint = {{ base_url = "{server.base_url}", model = "{served}", headers = {{ X-Tenant = "{name}" }}, concurrency = 1 }}
'''


def test_a_close_canary_passes_and_a_broken_one_fails_against_the_live_route(pytester: pytest.Pytester, routes) -> None:
    shutil.copy(TRAFFIC, pytester.path / "traffic.jsonl")
    extra = (
        route("route-prod", "gguf-f32", routes["prod"], "smollm2-prod")
        + route("canary-q8", "gguf-q8_0", routes["q8"], "smollm2-q8", "route-prod")
        + route("canary-q2", "gguf-q2_k", routes["q2"], "smollm2-q2", "route-prod")
        + '\n[gates.canary]\ntraffic = ["traffic.jsonl"]\nsample = 36\n'
    )
    pytester.makefile(".toml", quantgate=demo_config(extra=extra))
    result = pytester.runpytest_inprocess(
        "--quant-candidate=canary-q8,canary-q2", "--quantgate-suite=only", "-m", "canary",
        "--quantgate-report=r.json", "-p", "no:cacheprovider",
    )
    gates = {name: entries["canary"] for name, entries in reports.by_candidate(pytester.path / "r.json").items()}
    close, broken = gates["canary-q8"], gates["canary-q2"]
    # Q8_0 passes where llama.cpp's AVX-512 kernels run (CI); on an AVX2-only CPU its greedy
    # answers flip 6 of 36 against F32 (1 back): within the 20% margin but not provably so at 36
    # cases (underpowered, "about 126 cases would resolve it"). Never a fail; Q2_K always is.
    assert close["verdict"] in {"pass", "underpowered"}, close["reason"]
    assert close["metrics"]["flips_pass_to_fail"] <= 6, close["reason"]
    assert broken["verdict"] == "fail", broken["reason"]
    assert broken["metrics"]["flips_pass_to_fail"] >= 2 * close["metrics"]["flips_pass_to_fail"], broken["reason"]
    result.stdout.fnmatch_lines(["*canary-q2*canary*FAIL*", f"*canary-q8*canary*{close['verdict'].upper()}*"])
    for entry in (close, broken):
        assert entry["baseline"] == "route-prod" and entry["baseline_source"] == "live"
        assert entry["metrics"]["cases"] == 36
    assert close["metrics"]["agreement_rate"] > broken["metrics"]["agreement_rate"]
    # A failed case shows both routes' answers side by side in the release report.
    lost = broken["cases"][[c["passed"] for c in broken["cases"]].index(False)]
    assert lost["details"]["baseline_text"] and lost["details"]["candidate_text"] is not None
    assert "canary-q2" in (pytester.path / "r.md").read_text()
