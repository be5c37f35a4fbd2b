"""How much the plugin adds over the engine's own time, for a golden-gate run with records.

    python benchmarks/golden_overhead.py [--candidate hf-int8] [--repeat 3]

Each repeat runs `pytest --quant-candidate=C -m golden --quantgate-suite=only` in a fresh
process (what a user runs) and reads the JSON report, which carries the engine's own
load and generate seconds. Overhead = pytest wall time - interpreter/library import time -
engine load - engine generate. Import time is measured separately (a process that only
imports torch, transformers and the plugin) because it is paid by any tool that uses the engine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMPORTS = "import torch, transformers, torchao.quantization, optimum.quanto, pytest_quantgate.engines.hf"


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidate", default="hf-int8")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    imports = [timed([sys.executable, "-c", IMPORTS]) for _ in range(args.repeat)]
    rows = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            report_path = Path(tmp) / "report.json"
            wall = timed([
                sys.executable, "-m", "pytest", f"--quant-candidate={args.candidate}", "-m", "golden",
                "--quantgate-suite=only", "-p", "no:cacheprovider", f"--quantgate-report={report_path}",
            ])
            report = json.loads(report_path.read_text())
        (gate,) = report["candidates"][0]["gates"]
        stats = gate["engines"]["candidate_stats"]
        assert gate["baseline_source"] == "record" and not gate["engines"]["baseline_loaded"]
        rows.append({"wall_s": wall, "load_s": stats["load_s"], "generate_s": stats["generate_s"],
                     "tokens": stats["generated_tokens"], "calls": stats["generate_calls"]})

    imp = statistics.median(imports)
    wall = statistics.median(r["wall_s"] for r in rows)
    load = statistics.median(r["load_s"] for r in rows)
    gen = statistics.median(r["generate_s"] for r in rows)
    engine = load + gen
    overhead = wall - imp - engine
    print(f"candidate {args.candidate}, {args.repeat} runs (medians), records present, baseline not loaded")
    print(f"  pytest wall time            {wall:7.2f} s")
    print(f"  imports (torch, transformers, plugin) {imp:7.2f} s")
    print(f"  engine load                 {load:7.2f} s")
    print(f"  engine generate             {gen:7.2f} s  ({rows[0]['tokens']} tokens in {rows[0]['calls']} batched calls)")
    print(f"  plugin overhead             {overhead:7.2f} s  = {overhead / engine:.1%} of the engine's time")


if __name__ == "__main__":
    main()
