"""Drift-gate scoring time against the engine's raw forward passes on the same windows.

    python benchmarks/drift_scoring.py [--candidate hf-int8] [--repeat 3]

Times, in one process with the engine loaded once: (1) raw forward passes of every corpus
window (the model alone, batched like the engine), (2) `engine.score` with the gather of the
baseline's recorded top-k ids (256; what the drift gate asks of the engine), (3) the whole drift gate
through pytest with records present (a fresh process, import and load included).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time

from _shared import ROOT, arguments, load, median_seconds


def main() -> None:
    args = arguments(__doc__)

    import torch

    from pytest_quantgate.gates.drift import decision as drift

    cfg, engine = load(args.candidate)
    spec = cfg.candidates[args.candidate]
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

    timings = {name: median_seconds(fn, args.repeat)[0] for name, fn in (("raw forward", raw), ("engine.score + gather", score))}

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
