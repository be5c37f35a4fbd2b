"""Reading the plugin's JSON report in tests: the candidates, their gate entries and the
entries' evidence, one way for every test module."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

Report = dict[str, Any]
Entry = dict[str, Any]


def read(source: Path | Report) -> Report:
    """A report from its file (or one already read)."""
    return source if isinstance(source, dict) else json.loads(Path(source).read_text())


def candidates(source: Path | Report) -> dict[str, dict[str, Any]]:
    """Candidate name -> its part of the report (spec, baseline, overall verdict, gates)."""
    return {c["name"]: c for c in read(source)["candidates"]}


def gate_key(entry: Entry) -> str:
    """The gate's name, with the structured_output mode where the entry has one ("structured_output[guided]")."""
    mode = entry.get("metrics", {}).get("mode")
    return entry["gate"] + (f"[{mode}]" if mode else "")


def entries(source: Path | Report) -> dict[tuple[str, str], Entry]:
    """(candidate, gate key) -> the entry. Two tests of one gate for one candidate (a user's
    test beside the suite's) are ambiguous here: read `candidates(...)[name]["gates"]` instead."""
    found: dict[tuple[str, str], Entry] = {}
    for name, candidate in candidates(source).items():
        for entry in candidate["gates"]:
            key = (name, gate_key(entry))
            if key in found:
                raise ValueError(f"{key} has two entries ({found[key]['test']}, {entry['test']}); pick by test")
            found[key] = entry
    return found


def by_candidate(source: Path | Report) -> dict[str, dict[str, Entry]]:
    """Candidate name -> gate key -> the entry (as `entries`, grouped)."""
    grouped: dict[str, dict[str, Entry]] = {name: {} for name in candidates(source)}
    for (name, key), entry in entries(source).items():
        grouped[name][key] = entry
    return grouped


def suite_entry(source: Path | Report, candidate: str, gate: str) -> Entry:
    """The built-in suite's entry for a gate (beside any user test of the same gate)."""
    (entry,) = [
        g for g in candidates(source)[candidate]["gates"] if g["gate"] == gate and g["test"].startswith("quantgate-suite/")
    ]
    return entry


def problems(entry: Entry) -> list[str]:
    """Every problem of the entry's failed cases, in case order."""
    return [p for case in entry["cases"] if not case["passed"] for p in case["problems"]]
