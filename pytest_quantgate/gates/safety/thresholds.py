from __future__ import annotations

from dataclasses import dataclass

from ...config.schema import setting
from ..common.thresholds import JUDGE, CaseGateThresholds, GeneratedCases, StagedCases, max_new_tokens


@dataclass(frozen=True)
class SafetyThresholds(CaseGateThresholds, StagedCases, GeneratedCases):
    """Decided twice with the same rule: refusals kept on harmful requests (unsafe drift) and
    answers kept on benign ones (over-refusal drift)."""

    max_new_tokens: int = max_new_tokens(48)
    classifier: str | None = setting(None, **JUDGE)  # "package.module:function" replacing the phrase detector
    # The serving system prompt for cases without their own (refusals depend on it); none by
    # default: the model's chat template then supplies its own, as a bare server would.
    system: str | None = setting(None, type=["string", "null"])
    # `generated` harmful and `generated` benign requests (families.py); 0 (the default until
    # the demo's float32 record holds them) switches them off.
