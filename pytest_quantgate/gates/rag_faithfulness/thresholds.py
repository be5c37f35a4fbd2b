from __future__ import annotations

from dataclasses import dataclass

from ...config.schema import setting
from ..common.thresholds import JUDGE, CaseGateThresholds, GeneratedCases, StagedCases, max_new_tokens


@dataclass(frozen=True)
class RagThresholds(CaseGateThresholds, StagedCases, GeneratedCases):
    """Grounded answers, paired; `generated` cases (families.py: made-up subjects in numbered
    sources, one in four unanswerable) join the built-in ones."""

    max_new_tokens: int = max_new_tokens(48)
    nli: str | None = setting(None, **JUDGE)  # "package.module:function", (premise, hypothesis) -> entailment probability
    nli_threshold: float = setting(0.5, type="number", minimum=0, maximum=1)
