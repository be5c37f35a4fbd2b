"""Latency and load: TTFT, ITL, TPOT, E2E and throughput of the served candidate as ratios to
the served baseline's, measured alternately in this run under the configured traffic."""

import pytest


@pytest.mark.latency
def test_latency(quantgate):
    verdict = quantgate.latency()
    assert verdict.passed, verdict.explain()
