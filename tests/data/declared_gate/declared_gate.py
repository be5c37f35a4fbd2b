"""A third-party gate, registered through the `pytest_quantgate.gates` entry point: the
candidate must say what it is (a `description`). It shows the whole extension point: a
settings dataclass (its [gates.declared] table), a pure decision, a runner, a suite module."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pytest_quantgate.config import setting
from pytest_quantgate.gates.context import GateContext
from pytest_quantgate.gates.registry import Gate
from pytest_quantgate.gates.verdict import GateVerdict


@dataclass(frozen=True)
class DeclaredSettings:
    min_words: int = setting(2, type="integer", minimum=1)


def decide(description: str, settings: DeclaredSettings) -> GateVerdict:
    words = len(description.split())
    verdict = "pass" if words >= settings.min_words else "fail"
    return GateVerdict("declared", verdict, f"description has {words} word(s), {settings.min_words} needed", {"words": words})


def run(context: GateContext, thresholds: DeclaredSettings | None = None) -> GateVerdict:
    settings: DeclaredSettings = context.settings("declared", thresholds)
    return decide(context.candidate.description, settings)


GATE = Gate(
    name="declared",
    help="the candidate says what it is",
    runner=run,
    settings=DeclaredSettings,
    suite=(Path(__file__).with_name("gate_declared.py"),),
)
