"""The verdict of a gate whose cases each pass or fail for both models: the paired rule
(stats.decide) on the gate's own outcome, and the same rule on stop behaviour."""

from __future__ import annotations

from dataclasses import asdict
from typing import AbstractSet, Any, Mapping, Sequence

from ...engines.base import Generation
from ...sequential import Plan, decide_at
from ...stats import Decision, PairedOutcomes, combine, paired_summary
from ..verdict import CaseOutcome, GateVerdict
from . import stops


def case_outcome(
    case_id: str,
    baseline_ok: bool,
    candidate_ok: bool,
    problems: Sequence[str],
    answers: tuple[Generation, Generation],
    details: Mapping[str, Any],
) -> CaseOutcome:
    """A case fails when the candidate lost what the baseline had: the gate's outcome or a
    healthy stop (compared here, from the (baseline, candidate) `answers`). `problems` say
    what is wrong with the candidate's answer either way."""
    stop = stops.compare_case(*answers)
    lost = baseline_ok and not candidate_ok
    lost_stop = stop["baseline_healthy"] and not stop["candidate_healthy"]
    shown = list(problems) if lost else []
    if lost_stop:
        shown += [p for p in stop["new_problems"] if p not in shown]
    flip = "pass->fail" if lost else "fail->pass" if candidate_ok and not baseline_ok else None
    return CaseOutcome(
        case_id,
        passed=not (lost or lost_stop),
        problems=tuple(shown),
        details={**details, "baseline_ok": baseline_ok, "candidate_ok": candidate_ok, "flip": flip, "stop": dict(stop)},
    )


def verdict(
    gate: str,
    what: str,
    outcomes: Sequence[CaseOutcome],
    limits: Any,
    metrics: Mapping[str, Any] | None = None,
    groups: Mapping[str, Sequence[int]] | None = None,
    must_hold: AbstractSet[str] = frozenset(),
    plan: Plan | None = None,
) -> GateVerdict:
    """Decide `what` (e.g. "conforming") with the gate's rule and margin; with `groups`
    (name -> case indices), each group is decided on its own (e.g. harmful and benign
    requests) and the worst decision wins. Stop behaviour is decided the same way and
    reported; it fails the gate only when it fails and the loss is significant (exact
    McNemar, one-sided, at the gate's confidence): a few answers cut at the token cap are
    not enough to fail a gate on their own. Cases in `must_hold` (ids) may lose nothing
    (`must_hold_rule`). `plan`: the look of a staged run (gates/common/staged.py), if any."""
    thresholds = {k: v for k, v in asdict(limits).items() if k != "cases"}
    if not outcomes:
        return GateVerdict(gate, "error", f"no {gate} cases to compare", thresholds=thresholds)
    groups = groups or {what: range(len(outcomes))}
    all_metrics: dict[str, Any] = {"cases": len(outcomes)}
    rule, lost, held = must_hold_rule(outcomes, must_hold, limits.decision)
    decisions: list[Decision] = ["fail" if lost else "pass"] if held else []
    reasons, keys = ([held] if held else []), []
    all_metrics.update({"must_hold_lost": lost} if held else {})
    for name, indices in groups.items():
        chosen = [outcomes[i] for i in indices]
        paired = PairedOutcomes.from_pairs([o.details["baseline_ok"] for o in chosen], [o.details["candidate_ok"] for o in chosen])
        decision = decide_at(paired, rule, limits.margin, limits.confidence, plan)
        summary = paired_summary(paired, name, limits.confidence)
        if len(groups) > 1:
            summary = {k if name in k else f"{name}_{k}": v for k, v in summary.items()}
        all_metrics.update(summary)
        all_metrics[name] = decision.to_dict()
        decisions.append(decision.decision)
        reasons.append(f"{name}: {decision.reason}")
        keys.append(f"{name} {paired.candidate_rate:.0%} vs {paired.baseline_rate:.0%}")
    stop = stops.summarize_cases([o.details["stop"] for o in outcomes], limits.decision, limits.margin, limits.confidence, plan)
    result = combine([*decisions, "fail" if stop.significant else "pass"])
    if stop.decision.decision == "fail" and not stop.significant:
        p, level = stop.metrics["mcnemar_p_one_sided"], stop.metrics["significance_level"]
        reasons.append(f"stop behaviour (reported; not significant at {level:.2g}, p={p:.3g}): {stop.decision.reason}")
    elif stop.decision.decision != "pass" or result == "pass":
        reasons.append(f"stop behaviour: {stop.decision.reason}")
    all_metrics.update(metrics or {})
    all_metrics["stop_behaviour"] = stop.metrics
    key = ", ".join(keys) + (
        f", length-cap hits {stop.metrics['candidate_length_cap_hits']} vs {stop.metrics['baseline_length_cap_hits']}"
    )
    return GateVerdict(gate, result, "; ".join(reasons), all_metrics, thresholds, key, tuple(outcomes))


def must_hold_rule(outcomes: Sequence[CaseOutcome], must_hold: AbstractSet[str], rule: str) -> tuple[str, list[str], str]:
    """The rule for the gate's cases as a whole, the must-hold cases lost, and what to say of
    them ("" when there are none). A case file's must-hold cases are regression cases: losing
    one fails the gate whatever the paired rule says of the rest; when every case must hold,
    the whole gate is decided case by case (five regression cases are never underpowered)."""
    marked = [o for o in outcomes if o.case_id in must_hold]
    if not marked:
        return rule, [], ""
    lost = [o.case_id for o in marked if not o.passed]
    said = f"must-hold cases: {len(lost)} of {len(marked)} lost" + (f" ({', '.join(lost)})" if lost else "")
    return ("every_case" if len(marked) == len(outcomes) else rule), lost, said
