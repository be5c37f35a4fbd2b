"""What the in-process benchmarks share: their command line, the candidate's engine loaded
once, and a median timer."""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent


def arguments(doc: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--candidate", default="hf-int8")
    parser.add_argument("--repeat", type=int, default=3)
    return parser.parse_args()


def load(candidate: str) -> tuple[Any, Any]:
    """The repository's config and the candidate's engine."""
    from pytest_quantgate import engines, models
    from pytest_quantgate.gates import registry

    cfg = registry.load_config(ROOT)
    cache = Path(os.environ.get("QUANTGATE_CACHE_DIR") or models.default_cache_dir())
    return cfg, engines.load_engine(cfg.candidates[candidate], cache)


def median_seconds(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time of `repeat` calls, and the last call's result."""
    runs, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs), result
