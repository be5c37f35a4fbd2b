"""The lm_eval verdict: per task, the paired rule over both models' per-sample scores."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

from ...stats import PairedOutcomes, combine, decide, paired_summary
from ..verdict import CaseOutcome, GateVerdict
from .thresholds import LmEvalThresholds


@dataclass(frozen=True)
class SampleScore:
    """One sample of one task as lm-eval logged it: the 0/1 score under the chosen metric and
    filter, the hashes that say which document and target it was, and the filtered answer."""

    doc_id: int
    score: float
    doc_hash: str
    target_hash: str
    response: str

    @property
    def passed(self) -> bool:
        return self.score == 1.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> "SampleScore":
        return cls(**record)


@dataclass(frozen=True)
class TaskScores:
    """A task's samples for one model, which metric (metric,filter) scored them, and the
    task's score as lm-eval itself reported it (its results table)."""

    task: str
    metric: str
    samples: tuple[SampleScore, ...]
    reported: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "metric": self.metric, "reported": self.reported, "samples": [s.to_dict() for s in self.samples]}

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> "TaskScores":
        samples = tuple(SampleScore.from_dict(s) for s in record["samples"])
        return cls(record["task"], record["metric"], samples, record.get("reported"))


class MismatchedSamples(ValueError):
    """Both models were not scored on the same documents and targets (a changed task or data)."""


def evaluate(baseline: Sequence[TaskScores], candidate: Sequence[TaskScores], limits: LmEvalThresholds) -> GateVerdict:
    thresholds = {k: v for k, v in asdict(limits).items() if v not in (None, (), {})}  # the settings in force
    outcomes: list[CaseOutcome] = []
    metrics: dict[str, Any] = {"tasks": {}}
    decisions, reasons, keys = [], [], []
    for base, cand in zip(baseline, candidate, strict=True):
        pairs = _paired_samples(base, cand)
        paired = PairedOutcomes.from_pairs([b.passed for b, _ in pairs], [c.passed for _, c in pairs])
        decision = decide(paired, limits.decision, limits.margin, limits.confidence)
        metrics["tasks"][base.task] = {
            "metric": base.metric,
            "samples": paired.n,
            "lm_eval_reported": {"baseline": base.reported, "candidate": cand.reported},
            **paired_summary(paired, "score", limits.confidence),
            "decision": decision.to_dict(),
        }
        decisions.append(decision.decision)
        reasons.append(f"{base.task} ({base.metric}): {decision.reason}")
        keys.append(f"{base.task} {paired.candidate_rate:.0%} vs {paired.baseline_rate:.0%}")
        outcomes += [_outcome(base.task, b, c) for b, c in pairs]
    if not outcomes:
        return GateVerdict("lm_eval", "error", "the lm-eval tasks logged no samples", thresholds=thresholds)
    metrics["cases"] = len(outcomes)
    return GateVerdict("lm_eval", combine(decisions), "; ".join(reasons), metrics, thresholds, ", ".join(keys), tuple(outcomes))


def _paired_samples(base: TaskScores, cand: TaskScores) -> list[tuple[SampleScore, SampleScore]]:
    by_id = {s.doc_id: s for s in cand.samples}
    if base.metric != cand.metric or set(by_id) != {s.doc_id for s in base.samples}:
        raise MismatchedSamples(
            f"lm-eval task {base.task!r}: the baseline was scored on {len(base.samples)} samples by {base.metric}, "
            f"the candidate on {len(cand.samples)} by {cand.metric}; re-record the baseline (--snapshot-update)"
        )
    pairs = [(b, by_id[b.doc_id]) for b in base.samples]
    changed = [b.doc_id for b, c in pairs if (b.doc_hash, b.target_hash) != (c.doc_hash, c.target_hash)]
    if changed:
        raise MismatchedSamples(
            f"lm-eval task {base.task!r}: documents or targets changed since the baseline was recorded "
            f"(doc ids {changed[:5]}); re-record the baseline (--snapshot-update)"
        )
    return pairs


def _outcome(task: str, base: SampleScore, cand: SampleScore) -> CaseOutcome:
    lost = base.passed and not cand.passed
    flip = "pass->fail" if lost else "fail->pass" if cand.passed and not base.passed else None
    problems = (f"scored {cand.score:g} (baseline {base.score:g}) under the task's metric",) if lost else ()
    return CaseOutcome(
        f"{task}/{base.doc_id}",
        passed=not lost,
        problems=problems,
        details={"baseline_ok": base.passed, "candidate_ok": cand.passed, "flip": flip,
                 "baseline_text": base.response, "candidate_text": cand.response},
    )
