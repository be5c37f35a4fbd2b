from __future__ import annotations

from dataclasses import dataclass

from ...config.schema import setting
from ..common.thresholds import FILES


@dataclass(frozen=True)
class DriftThresholds:
    top_k: int = setting(32, type="integer", minimum=5, maximum=256)  # baseline log-probs kept per position (+ the rest mass)
    context: int = setting(256, type="integer", minimum=16)  # tokens per window; the second half of each is scored
    max_mean_kld: float = setting(0.05, type="number", exclusiveMinimum=0)
    max_p99_kld: float = setting(0.5, type="number", exclusiveMinimum=0)
    min_same_top1: float = setting(0.85, type="number", minimum=0, maximum=1)
    confidence: float = setting(0.95, type="number", exclusiveMinimum=0.5, exclusiveMaximum=1)
    corpus: tuple[str, ...] = setting((), **FILES)
    builtin_corpus: bool = setting(True, type="boolean")
