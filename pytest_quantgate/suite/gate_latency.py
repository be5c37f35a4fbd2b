"""Latency and load: TTFT, ITL, TPOT, E2E and throughput of the served candidate as ratios to
the served baseline's, measured alternately in this run under the configured traffic."""

import pytest

from pytest_quantgate.harness import GateHarness


@pytest.mark.latency
def test_latency(quantgate: GateHarness) -> None:
    verdict = quantgate.latency()
    assert verdict.passed, verdict.explain()
