from __future__ import annotations

from dataclasses import dataclass

from ...config.schema import setting
from ..common.thresholds import CaseGateThresholds, GeneratedCases, StagedCases, max_new_tokens


@dataclass(frozen=True)
class StructuredThresholds(CaseGateThresholds, StagedCases, GeneratedCases):
    """Decided on the share of cases whose answer is clean, schema-valid JSON that stops by
    itself (and equals the baseline's values where the baseline's was valid). `generated`
    cases (families.py: a record given in words, asked back as JSON) join them in both modes."""

    max_new_tokens: int = max_new_tokens(96)
    # guided: the engine's constrained decoding
    modes: tuple[str, ...] = setting(
        ("free", "guided"), type="array", items={"enum": ["free", "guided"]}, minItems=1, uniqueItems=True
    )
