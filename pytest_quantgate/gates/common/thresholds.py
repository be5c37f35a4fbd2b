"""Settings shared by the gates that decide over paired pass/fail cases (stats.decide)."""

from __future__ import annotations

from dataclasses import dataclass

from ...config.schema import setting

_FILES = {"type": "array", "items": {"type": "string"}}


@dataclass(frozen=True)
class PairedRule:
    """paired: one-sided non-inferiority of the pass rate within `margin` at `confidence`;
    every_case: no case that held for the baseline may fail (for a few regression cases)."""

    decision: str = setting("paired", enum=["paired", "every_case"])
    margin: float = setting(0.1, type="number", minimum=0, maximum=1)
    confidence: float = setting(0.95, type="number", exclusiveMinimum=0.5, exclusiveMaximum=1)


@dataclass(frozen=True)
class CaseGateThresholds(PairedRule):
    """A paired gate over case files: the built-in set (unless switched off) plus `cases`."""

    cases: tuple[str, ...] = setting((), **_FILES)
    builtin_cases: bool = setting(True, type="boolean")


@dataclass(frozen=True)
class StagedCases:
    """A paired gate whose cases run in stages (gates/common/staged.py): the first `stage`
    cases, doubling, then all, stopping at the first look that decides; 0 runs them all at
    once. `spending`: how the false-pass rate is shared among the looks (sequential.py)."""

    stage: int = setting(64, type="integer", minimum=0)
    spending: str = setting("obrien_fleming", enum=["obrien_fleming", "pocock"])


@dataclass(frozen=True)
class GeneratedCases:
    """Seeded generated cases (the gate's families.py) beside the built-in and file ones:
    `generated` of each kind drawn with `generated_seed`; 0 switches them off."""

    generated: int = setting(0, type="integer", minimum=0)
    generated_seed: int = setting(0, type="integer")


def max_new_tokens(default: int) -> int:
    """The `max_new_tokens` setting of a gate that generates answers."""
    return setting(default, type="integer", minimum=1)


# A user-supplied judge callable, "package.module:function" (gates/common/judges.py).
JUDGE = {"type": ["string", "null"], "pattern": "^[A-Za-z_][\\w.]*:[A-Za-z_]\\w*$"}
FILES = _FILES
