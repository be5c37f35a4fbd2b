"""A candidate x gate table from one or more JSON reports: the verdict, the cases used of those
planned and the look a staged gate stopped at, and the gate test's seconds (its engine's load
included where it loaded first; README "The demo's verdicts" is made with it). Markdown on stdout.

    python benchmarks/verdict_table.py reports/*.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

ORDER = ("golden", "structured_output[free]", "structured_output[guided]", "tool_call", "long_context", "safety",
         "rag_faithfulness", "drift", "compat", "latency", "lm_eval", "canary", "adapter")


def cell(entry: dict[str, Any]) -> str:
    """`PASS 256/1058 (look 3 of 5), 41 s`: what a release manager reads first."""
    metrics = entry.get("metrics", {})
    text = entry["verdict"].upper()
    staged = metrics.get("sequential")
    if staged:
        text += f" {staged['cases_used']}/{staged['cases_planned']} (look {staged['look']} of {staged['looks']})"
    elif metrics.get("n") or metrics.get("cases"):
        text += f" {metrics.get('n') or metrics.get('cases')}"
    seconds = entry.get("seconds")
    return f"{text}, {seconds:.0f} s" if isinstance(seconds, (int, float)) else text


def rows(reports: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    table: dict[str, dict[str, str]] = {}
    for report in reports:
        for candidate in report["candidates"]:
            for entry in candidate["gates"]:
                mode = entry.get("metrics", {}).get("mode")
                table.setdefault(candidate["name"], {})[entry["gate"] + (f"[{mode}]" if mode else "")] = cell(entry)
    gates = [g for g in ORDER if any(g in t for t in table.values())]
    gates += sorted({g for t in table.values() for g in t} - set(gates))
    # A gate skipped for every candidate (no traffic, no adapter, not served) says nothing here.
    gates = [g for g in gates if not all(t.get(g, "SKIPPED").startswith("SKIPPED") for t in table.values())]
    return gates, [[name, *(t.get(g, "") for g in gates)] for name, t in table.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", type=Path)
    args = parser.parse_args()
    gates, body = rows([json.loads(p.read_text()) for p in args.reports])
    print("| candidate | " + " | ".join(gates) + " |")
    print("|---" * (len(gates) + 1) + "|")
    for row in body:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
