"""Verdict rows with the generated cases on: the demo's candidates on every case gate of the
built-in suite, each against its baseline's records, with structured output, safety, RAG and
long context widened by their seeded generated cases (tool calls too) (README "The demo's verdicts").

    python benchmarks/generated_rows.py --workdir /tmp/rows --record gguf-q8_0 \\
        --candidates gguf-q8_0,gguf-q4_k_m,gguf-q2_k,hf-fp8 [--parallel 2] \\
        [--widen safety,rag_faithfulness,long_context] [--gates golden,tool_call,safety,...]

The repository's quantgate.toml and a copy of golden_snapshots/ go to WORKDIR (the committed
records are never written). `--record C`: C's first run re-records its baseline's answers for
the widened gates (`--snapshot-update`, those gates only), before any other run reads them.
Then every candidate runs the case gates (`--gates`; all six by default) from the records, PARALLEL processes at a time,
one torch/llama.cpp thread each; each writes WORKDIR/NAME.json. Prints the candidate x gate
table (benchmarks/verdict_table.py) and each run's seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _shared import ROOT

# The generated cases of README's tables: the committed records of the float32 baselines (hf and
# gguf) hold them, long context up to repeats 8 (gguf) and 11 (hf), RAG up to 128 (gguf) and 940 (hf),
# free structured output up to 140 (gguf) and 2,470 (hf)
# (README's rows; edit the lines to match).
GENERATED = {
    "tool_call": "generated = 200",
    "structured_output": "generated = 140",
    "safety": "generated = 100",
    "rag_faithfulness": "generated = 128",
    "long_context": "repeats = 3",
}
CASE_GATES = ("golden", *GENERATED)


def workdir_config(workdir: Path, widen: list[str]) -> None:
    """WORKDIR/quantgate.toml: the repository's, its records in WORKDIR/records, the generated
    cases on for the gates in `widen`."""
    text = (ROOT / "quantgate.toml").read_text()
    for gate, line in ((g, GENERATED[g]) for g in widen):
        header = f"[gates.{gate}]\n"
        assert header in text, f"quantgate.toml has no {header.strip()} table"
        text = text.replace(header, header + line + "\n", 1)
    records = workdir / "records"
    if not records.exists():
        shutil.copytree(ROOT / "golden_snapshots", records)
    (workdir / "quantgate.toml").write_text(f'snapshot_dir = "{records}"\n' + text)


def run(workdir: Path, name: str, candidate: str, marks: str, *extra: str) -> tuple[str, float, int]:
    """One pytest run of `candidate` on the gates `marks` selects; its report is WORKDIR/NAME.json."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}
    argv = [sys.executable, "-m", "pytest", f"--quant-candidate={candidate}", "--quantgate-suite=only", "-m", marks,
            f"--quantgate-report={workdir / name}.json", "-p", "no:cacheprovider", "-p", "no:randomly", "-q", *extra]
    started = time.perf_counter()
    with (workdir / f"{name}.log").open("w") as log:
        code = subprocess.run(argv, cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT).returncode
    return name, time.perf_counter() - started, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--candidates", required=True, help="comma-separated candidate names")
    parser.add_argument("--record", default="", help="the candidate whose first run re-records its baseline")
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--widen", default=",".join(GENERATED), help=f"gates given their generated cases (of {', '.join(GENERATED)})")
    parser.add_argument("--gates", default=",".join(CASE_GATES), help="the gates each candidate runs")
    args = parser.parse_args()
    widen = [g for g in args.widen.split(",") if g]
    unknown = set(widen) - set(GENERATED)
    if unknown:
        parser.error(f"--widen: no generated cases for {sorted(unknown)}; choose from {', '.join(GENERATED)}")
    args.workdir.mkdir(parents=True, exist_ok=True)
    workdir_config(args.workdir, widen)
    candidates = [c for c in args.candidates.split(",") if c]
    gates = [g for g in args.gates.split(",") if g]
    widened, rest = " or ".join(g for g in gates if g in widen), " or ".join(g for g in gates if g not in widen)

    from pytest_quantgate.gates import registry

    config = registry.load_config(args.workdir)
    recorded = config.baseline_for(config.candidates[args.record]).name if args.record else None
    # The recording run first, beside every run that reads none of the records it writes (the
    # recorded candidate's other gates, candidates of another baseline); the rest after it.
    first: list[tuple[str, str, str, tuple[str, ...]]] = []
    later: list[tuple[str, str, str, tuple[str, ...]]] = []
    for candidate in candidates:
        if candidate == args.record:
            first.insert(0, (f"{candidate}-recorded", candidate, widened, ("--snapshot-update",)))
            if rest:
                first.append((f"{candidate}-rest", candidate, rest, ()))
        elif config.baseline_for(config.candidates[candidate]).name == recorded:
            later.append((candidate, candidate, " or ".join(gates), ()))
        else:
            first.append((candidate, candidate, " or ".join(gates), ()))
    phases = [first, later]
    timings = []
    for phase in phases:
        with ThreadPoolExecutor(args.parallel) as pool:
            timings += list(pool.map(lambda job: run(args.workdir, job[0], job[1], job[2], *job[3]), phase))
    for name, seconds, code in timings:
        print(f"{name}: {seconds:.0f} s (pytest exit {code}; log {args.workdir / name}.log)")
    reports = sorted(str(p) for p in args.workdir.glob("*.json"))
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "verdict_table.py"), *reports], check=False)


if __name__ == "__main__":
    main()
