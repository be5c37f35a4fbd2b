"""Stop behaviour and degeneration, for any gate that compares generations.

Quantization often shows first in how an answer ends: it no longer stops (length-cap hits),
loops on a phrase, emits runs of one character ("!!!!"), comes back empty, or grows much
longer than the baseline's. These facts are computed per answer and compared per case, so a
loop the baseline had too is not blamed on the candidate.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import asdict, dataclass
from typing import Any, Sequence

from ...engines.base import Generation
from ...sequential import Plan, look_level
from ...stats import (
    PairedOutcomes,
    decide,
    mcnemar_exact,
    paired_summary,
    significant_loss,
)

# A repeated phrase counts as a loop when it repeats this often back to back and the repeats
# cover at least LOOP_MIN_WORDS words; a short unit repeated RUN_MIN_REPEATS times is a run.
LOOP_MIN_REPEATS = 3
LOOP_MIN_WORDS = 8
LOOP_MAX_PHRASE = 8
RUN_MIN_REPEATS = 8
_RUN = re.compile(r"(\S{1,4}?)\1{%d,}" % (RUN_MIN_REPEATS - 1))
_BLANK_LINES = re.compile(r"\n(?:[ \t\r]*\n){5,}")


def repetition_loop(text: str) -> str | None:
    """The first phrase of 1..8 words repeated back to back (e.g. "in the function" x4)."""
    words = text.split()
    for start in range(len(words)):
        for size in range(1, LOOP_MAX_PHRASE + 1):
            phrase = words[start : start + size]
            if len(phrase) < size:
                break
            repeats = 1
            while words[start + repeats * size : start + (repeats + 1) * size] == phrase:
                repeats += 1
            if repeats >= LOOP_MIN_REPEATS and repeats * size >= LOOP_MIN_WORDS:
                return f"{' '.join(phrase)!r} x{repeats}"
    return None


def character_run(text: str) -> str | None:
    """A unit of 1..4 characters repeated 8+ times ("!!!!!!!!", "1.1.1.1."), or 6+ blank
    lines; digits alone do not count (2000000000 is a number, not a run)."""
    for match in _RUN.finditer(text):
        if not match.group(1).isdigit():
            return f"{match.group(0)[:24]!r}"
    if _BLANK_LINES.search(text):
        return "6+ blank lines"
    return None


@dataclass(frozen=True)
class StopFacts:
    finish_reason: str
    tokens: int
    empty: bool
    loop: str | None
    run: str | None

    @classmethod
    def of(cls, generation: Generation) -> "StopFacts":
        text = generation.text
        return cls(generation.finish_reason, len(generation.token_ids), not text.strip(), repetition_loop(text), character_run(text))

    @property
    def healthy(self) -> bool:
        """Stopped by itself with a non-empty answer that neither loops nor runs."""
        return self.finish_reason == "stop" and not (self.empty or self.loop or self.run)

    def problems(self) -> list[str]:
        found = []
        if self.finish_reason != "stop":
            found.append(f"hit the length cap ({self.tokens} tokens)")
        if self.empty:
            found.append("empty answer")
        if self.loop:
            found.append(f"repetition loop {self.loop}")
        if self.run:
            found.append(f"character run {self.run}")
        return found


def compare_case(baseline: Generation, candidate: Generation) -> dict[str, Any]:
    """Per case: both sides' facts, the length ratio, and the problems only the candidate has."""
    b, c = StopFacts.of(baseline), StopFacts.of(candidate)
    had = set(b.problems())
    new = [p for p in c.problems() if p not in had and not (p.startswith("hit the length") and b.finish_reason != "stop")]
    if c.loop and b.loop:
        new = [p for p in new if not p.startswith("repetition loop")]
    if c.run and b.run:
        new = [p for p in new if not p.startswith("character run")]
    return {
        "baseline": asdict(b),
        "candidate": asdict(c),
        "baseline_healthy": b.healthy,
        "candidate_healthy": c.healthy,
        "length_ratio": round(c.tokens / max(b.tokens, 1), 3),
        "new_problems": new,
    }


@dataclass(frozen=True)
class StopSummary:
    cases: tuple[dict[str, Any], ...]
    metrics: dict[str, Any]
    decision: Any  # stats.NonInferiority over "healthy" per case
    significant: bool  # the decision failed and the loss is significant (stats.significant_loss)


def summarize(
    baseline: Sequence[Generation],
    candidate: Sequence[Generation],
    rule: str = "paired",
    margin: float = 0.1,
    confidence: float = 0.95,
) -> StopSummary:
    """Stop behaviour over paired answers, decided with the gate's own rule and margin."""
    return summarize_cases([compare_case(b, c) for b, c in zip(baseline, candidate)], rule, margin, confidence)


def summarize_cases(
    cases: Sequence[dict[str, Any]], rule: str = "paired", margin: float = 0.1, confidence: float = 0.95,
    plan: Plan | None = None,
) -> StopSummary:
    """The same, from per-case comparisons a gate already made (`compare_case`); at a look of a
    staged run (`plan`) the loss must be significant at that look's alpha to count."""
    paired = PairedOutcomes.from_pairs([d["baseline_healthy"] for d in cases], [d["candidate_healthy"] for d in cases])
    decision = decide(paired, rule, margin, confidence)

    def count(side: str, test: Any) -> int:
        return sum(bool(test(d[side])) for d in cases)

    ratios = [d["length_ratio"] for d in cases]
    metrics: dict[str, Any] = {
        "decision": decision.to_dict(),
        **paired_summary(paired, "healthy", confidence),
        "mcnemar_p_one_sided": round(mcnemar_exact(paired.pass_to_fail, paired.fail_to_pass, alternative="greater"), 6),
    }
    for side in ("baseline", "candidate"):
        metrics[f"{side}_finish_reasons"] = {
            reason: count(side, lambda f, r=reason: f["finish_reason"] == r) for reason in ("stop", "length")
        }
        metrics[f"{side}_length_cap_hits"] = count(side, lambda f: f["finish_reason"] == "length")
        metrics[f"{side}_loops"] = count(side, lambda f: f["loop"])
        metrics[f"{side}_character_runs"] = count(side, lambda f: f["run"])
        metrics[f"{side}_empty"] = count(side, lambda f: f["empty"])
    metrics["length_ratio_median"] = round(statistics.median(ratios), 3) if ratios else None
    metrics["length_ratio_max"] = max(ratios, default=None)
    level = look_level(plan, confidence)
    metrics["significance_level"] = round(level, 6)
    return StopSummary(tuple(cases), metrics, decision, significant_loss(paired, decision, 1 - level))
