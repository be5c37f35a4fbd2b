"""Print CI's per-stage timing table: the set-up steps .ci/run timed itself, then every tox
environment's installs and commands from tox's --result-json journal."""

from __future__ import annotations

import json
import sys


def rows(journal: dict) -> list[tuple[str, float, str]]:
    table = []
    for env, data in journal.get("testenvs", {}).items():
        setup = data.get("setup", [])
        if setup:
            table.append((f"{env}: install", sum(step["elapsed"] for step in setup), "ok" if all(_ok(s) for s in setup) else "FAILED"))
        for step in data.get("test", []):
            command = " ".join(step["command"])
            command = command if len(command) <= 60 else command[:57] + "..."
            table.append((f"{env}: {command}", step["elapsed"], "ok" if _ok(step) else f"exit {step['retcode']}"))
    return table


def _ok(step: dict) -> bool:
    """A step that exited 0, or one tox ran in-process (its packaging env records no exit code)."""
    return step.get("retcode") in (0, None)


def main() -> None:
    """argv: the journal, then `stage=seconds` for each step .ci/run timed itself; a stage named
    `~stage` ran beside another (shown, not added up); `--wall=seconds`: .ci/run from start to end."""
    args = sys.argv[2:]
    wall = next((float(a.split("=", 1)[1]) for a in args if a.startswith("--wall=")), None)
    steps = [arg.split("=", 1) for arg in args if not arg.startswith("--wall=")]
    beside = [(name[1:] + " (beside other stages)", float(seconds), "ok") for name, seconds in steps if name.startswith("~")]
    timed = [(name, float(seconds), "ok") for name, seconds in steps if not name.startswith("~")]
    try:
        with open(sys.argv[1]) as handle:
            journal = json.load(handle)
    except (OSError, ValueError) as exc:
        journal = {}
        print(f"(no tox journal: {exc})")
    table = timed + rows(journal)
    width = max((len(name) for name, _, _ in table + beside), default=10)
    print(f"\n{'stage':<{width}}  {'seconds':>8}  {'minutes':>7}  result")
    for name, seconds, result in beside + table:
        print(f"{name:<{width}}  {seconds:>8.0f}  {seconds / 60:>7.1f}  {result}")
    total = sum(seconds for _, seconds, _ in table)
    print(f"{'total (stages in turn)':<{width}}  {total:>8.0f}  {total / 60:>7.1f}")
    if wall is not None:
        print(f"{'wall clock':<{width}}  {wall:>8.0f}  {wall / 60:>7.1f}")


if __name__ == "__main__":
    main()
