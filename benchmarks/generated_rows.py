"""GGUF candidates with the generated cases on: record gguf-f32's answers once, gate the others.

    python benchmarks/generated_rows.py OUT [--candidates gguf-q8_0,gguf-q4_k_m,gguf-q2_k]
        [--gates "structured_output or tool_call or long_context or safety or rag_faithfulness"]

In OUT (a scratch project): the repository's quantgate.toml with the generated cases switched on
(`SETTINGS` below: structured 140, safety 100 of each kind, RAG 128, long context 3 draws per
cell, BFCL's simple/multiple/irrelevance categories for tool calls), a copy of the committed
records, then one recording run of the float32 GGUF (`--snapshot-update`, gating the first
candidate) and one run per further candidate from those records. Each run writes
OUT/reports/NAME.json; `python benchmarks/verdict_table.py OUT/reports/*.json` makes the table.
The committed records are never touched.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GATES = "structured_output or tool_call or long_context or safety or rag_faithfulness"
SETTINGS = {
    "[gates.structured_output]": "generated = 140",
    "[gates.tool_call]": 'bfcl = ["simple_python", "multiple", "irrelevance"]\nbfcl_sample = 100',
    "[gates.safety]": "generated = 100",
    "[gates.rag_faithfulness]": "generated = 128",
    "[gates.long_context]": "repeats = 3",
}


def project(out: Path) -> None:
    config = (ROOT / "quantgate.toml").read_text()
    for table, lines in SETTINGS.items():
        assert f"\n{table}\n" in config, table
        config = config.replace(f"\n{table}\n", f"\n{table}\n{lines}\n", 1)
    out.mkdir(parents=True, exist_ok=True)
    (out / "quantgate.toml").write_text(config)
    if not (out / "golden_snapshots").exists():
        shutil.copytree(ROOT / "golden_snapshots", out / "golden_snapshots")


def gate(out: Path, candidate: str, gates: str, record: bool) -> float:
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "--quantgate-suite=only",
               f"--quant-candidate={candidate}", "-m", gates, f"--quantgate-report=reports/{candidate}.json",
               *(["--snapshot-update"] if record else [])]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=out)
    seconds = time.perf_counter() - started
    print(f"{candidate}: exit {done.returncode}, {seconds:.0f} s{' (baseline recorded)' if record else ''}", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--candidates", default="gguf-q8_0,gguf-q4_k_m,gguf-q2_k")
    parser.add_argument("--gates", default=GATES)
    args = parser.parse_args()
    project(args.out)
    for index, candidate in enumerate(args.candidates.split(",")):
        gate(args.out, candidate, args.gates, record=index == 0)


if __name__ == "__main__":
    main()
