from __future__ import annotations

from dataclasses import dataclass

from ...config.schema import setting
from ..common.thresholds import CaseGateThresholds, max_new_tokens


@dataclass(frozen=True)
class ToolCallThresholds(CaseGateThresholds):
    max_new_tokens: int = max_new_tokens(64)
    # How tools reach the model: its chat template when that renders `tools` ("template"),
    # else SmolLM2's published tool-calling system prompt ("smollm2"); "auto" picks.
    prompt_format: str = setting("auto", enum=["auto", "template", "smollm2"])
