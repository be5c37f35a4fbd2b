"""Drift-gate scoring time against the engine's raw forward passes on the same windows.

    python benchmarks/drift_scoring.py [--candidate hf-int8] [--repeat 3]

Times, in one process with the engine loaded once: (1) raw forward passes of every corpus
window (the model alone, batched like the engine), (2) `engine.score` with the gather of the
baseline's top-32 ids (what the drift gate asks of the engine), (3) the whole drift gate
through pytest with records present (a fresh process, import and load included).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidate", default="hf-int8")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import torch

    from pytest_quantgate import config, corpus, engines, models
    from pytest_quantgate.gates import drift

    cfg = config.load(ROOT)
    spec = cfg.candidates[args.candidate]
    engine = engines.load_engine(spec, Path(os.environ.get("QUANTGATE_CACHE_DIR") or models.default_cache_dir()))
    record = json.loads((ROOT / "golden_snapshots" / "test_drift--baseline.json").read_text())
    windows = [w for case in record["cases"].values() for w in case["result"]["windows"]]
    sequences = [w["token_ids"] for w in windows]
    gather = [drift.gather_request(drift.baseline_window("w", w), len(w["token_ids"])) for w in windows]
    batch = spec.generation.batch_size

    def raw() -> None:
        for start in range(0, len(sequences), batch):
            engine._forward_logprobs(torch.tensor(sequences[start : start + batch]))

    def score() -> None:
        engine.score(sequences, 5, gather=gather)

    timings = {}
    for name, fn in (("raw forward", raw), ("engine.score + gather", score)):
        runs = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - started)
        timings[name] = statistics.median(runs)

    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "pytest", f"--quant-candidate={args.candidate}", "-m", "drift",
             "--quantgate-suite=only", "-p", "no:cacheprovider", f"--quantgate-report={tmp}/r.json"],
            cwd=ROOT, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        timings["whole drift gate via pytest (fresh process)"] = time.perf_counter() - started

    positions = sum(len(w["actual_lp"]) for w in windows)
    print(f"candidate {args.candidate}: {len(sequences)} windows of {len(sequences[0])} tokens, {positions} scored positions")
    for name, seconds in timings.items():
        print(f"  {name:45s} {seconds:7.2f} s")
    print(f"  scoring overhead over raw forward            {timings['engine.score + gather'] / timings['raw forward'] - 1:7.1%}")


if __name__ == "__main__":
    main()
