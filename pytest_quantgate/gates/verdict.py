"""What a gate decides: a verdict with its metrics and the per-case evidence behind it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Mapping

# underpowered: the cases cannot tell whether the candidate is within the margin (not a pass).
Verdict = Literal["pass", "fail", "underpowered", "error", "skipped"]


@dataclass(frozen=True)
class CaseOutcome:
    case_id: str
    passed: bool
    problems: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GateVerdict:
    gate: str
    verdict: Verdict
    reason: str
    metrics: Mapping[str, Any] = field(default_factory=dict)
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    key_metric: str = ""
    cases: tuple[CaseOutcome, ...] = ()

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    @property
    def failed_cases(self) -> tuple[CaseOutcome, ...]:
        return tuple(c for c in self.cases if not c.passed)

    def __repr__(self) -> str:  # short, so pytest's assertion report stays readable
        return f"<GateVerdict {self.gate}: {self.verdict}, {len(self.cases)} cases>"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def explain(self, limit: int = 10) -> str:
        """A pytest failure message: the reason, then the cases that failed and why."""
        lines = [f"{self.gate} gate: {self.verdict.upper()}: {self.reason}"]
        for case in self.failed_cases[:limit]:
            lines.append(f"  - {case.case_id}: {'; '.join(case.problems)}")
        hidden = len(self.failed_cases) - limit
        if hidden > 0:
            lines.append(f"  ... and {hidden} more (see the JSON report)")
        return "\n".join(lines)
