"""The run's verdicts: collected from test reports (so xdist workers' verdicts reach the
controller), printed as a terminal table and written as JSON atomically."""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ..config import CandidateSpec
from ..gates.verdict import GateVerdict

REPORT_FORMAT = 1
PROPERTY = "quantgate"  # user_properties key carrying a gate entry from the test to the report
GATE_TAG = f"{PROPERTY}-gate"  # user_properties key naming a gate test's gate and candidate


def gate_entry(
    candidate: str,
    verdict: GateVerdict,
    *,
    test: str,
    baseline: str,
    baseline_source: str,
    engines: Mapping[str, Any],
) -> dict[str, Any]:
    """What one gate test contributes to the report (JSON-safe, travels through xdist)."""
    entry = verdict.to_dict()
    entry.update(candidate=candidate, test=test, baseline=baseline, baseline_source=baseline_source, engines=dict(engines))
    return json.loads(json.dumps(entry, default=str))


@dataclass
class RunReport:
    candidates: Sequence[CandidateSpec]
    baselines: Mapping[str, CandidateSpec]
    entries: list[dict[str, Any]] = field(default_factory=list)
    # The gate tests selected to run ({"candidate", "gate", "test"}), the tests that reported
    # (any test: under xdist the controller knows only ids), and why the run stopped early.
    expected: list[dict[str, str]] = field(default_factory=list)
    expected_tests: set[str] = field(default_factory=set)
    finished_tests: set[str] = field(default_factory=set)
    stopped: str | None = None

    def add(self, entry: Mapping[str, Any]) -> None:
        self.entries.append(dict(entry))

    def not_run(self) -> list[dict[str, str]]:
        """The selected gate tests that never reported: by gate where the items were seen
        here, else (the xdist controller) by test id."""
        missing = [e for e in self.expected if e["test"] not in self.finished_tests]
        known = {e["test"] for e in self.expected}
        missing += [{"test": t} for t in sorted(self.expected_tests - self.finished_tests - known)]
        return missing

    def incomplete(self) -> dict[str, Any] | None:
        """Why this run cannot speak for the gates it was asked to run (None: it can)."""
        missing = self.not_run()
        if self.stopped is None and not missing:
            return None
        return {"reason": self.stopped or "some selected gate tests did not run", "not_run": missing}

    def add_outcome(self, candidate: str, gate: str, test: str, verdict: str, reason: str) -> None:
        """A gate test that ended without a verdict of its own (error or skip)."""
        baseline = self.baselines[candidate].name if candidate in self.baselines else None
        self.entries.append(
            {"candidate": candidate, "gate": gate, "test": test, "verdict": verdict, "reason": reason,
             "metrics": {}, "thresholds": {}, "key_metric": "", "cases": [], "engines": {},
             "baseline": baseline, "baseline_source": "none"}
        )

    def to_dict(self, environment: Mapping[str, Any]) -> dict[str, Any]:
        candidates = []
        incomplete = self.incomplete()
        for spec in self.candidates:
            gates = [
                {k: v for k, v in e.items() if k != "candidate"}
                for e in self.entries
                if e["candidate"] == spec.name
            ]
            not_run = [
                {k: v for k, v in e.items() if k != "candidate"}
                for e in (incomplete or {}).get("not_run", [])
                if e.get("candidate", spec.name) == spec.name
            ]
            verdict = overall(g["verdict"] for g in gates)
            if incomplete is not None and verdict not in ("error", "fail"):
                verdict = "incomplete"  # never a pass on a run that did not finish
            candidates.append(
                {
                    "name": spec.name,
                    "spec": spec.to_dict(),
                    "baseline": self.baselines[spec.name].name,
                    "verdict": verdict,
                    "gates": gates,
                    **({"not_run": not_run} if incomplete is not None else {}),
                }
            )
        baselines = {spec.name: spec.to_dict() for spec in self.baselines.values()}
        return {
            "format": REPORT_FORMAT,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "candidates": candidates,
            "baseline": next(iter(baselines.values()), None) if len(baselines) == 1 else baselines,
            "baselines": baselines,
            "environment": dict(environment),
            "complete": incomplete is None,
            **({"incomplete": incomplete} if incomplete is not None else {}),
        }

    def table_rows(self) -> list[tuple[str, str, str, str, str]]:
        rows = []
        for e in sorted(self.entries, key=lambda e: (e["candidate"], e["gate"], e["test"])):
            thresholds = ", ".join(f"{k}={v}" for k, v in e.get("thresholds", {}).items())
            detail = e.get("key_metric") or e.get("reason", "")
            gate = e["gate"] if e["test"].startswith("quantgate-suite/") else f'{e["gate"]} ({_test_name(e["test"])})'
            mode = e.get("metrics", {}).get("mode")
            gate = f"{gate} [{mode}]" if mode else gate
            rows.append((e["candidate"], gate, e["verdict"].upper(), detail, thresholds))
        return rows


def _test_name(nodeid: str) -> str:
    return nodeid.rsplit("::", 1)[-1].split("[", 1)[0]


def overall(verdicts: Any) -> str:
    """A candidate's verdict: error beats fail beats underpowered beats skipped-only beats pass
    (and a run that did not finish is "incomplete" unless something failed: `to_dict`)."""
    seen = list(verdicts)
    for worst in ("error", "fail", "underpowered"):
        if worst in seen:
            return worst
    if not seen or all(v == "skipped" for v in seen):
        return "skipped"
    return "pass"


def format_table(rows: Sequence[Sequence[str]]) -> list[str]:
    header = ("candidate", "gate", "verdict", "key metric vs baseline", "thresholds")
    all_rows = [header, *rows]
    widths = [min(max(len(r[i]) for r in all_rows), 60) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    for row in rows:
        lines.append(fmt.format(*(cell if len(cell) <= 60 else cell[:57] + "..." for cell in row)))
    return lines


