from __future__ import annotations

from dataclasses import dataclass

from ...config.schema import setting
from ..common.thresholds import StagedCases, JUDGE, CaseGateThresholds, max_new_tokens


@dataclass(frozen=True)
class RagThresholds(CaseGateThresholds, StagedCases):
    max_new_tokens: int = max_new_tokens(48)
    nli: str | None = setting(None, **JUDGE)  # "package.module:function", (premise, hypothesis) -> entailment probability
    nli_threshold: float = setting(0.5, type="number", minimum=0, maximum=1)
