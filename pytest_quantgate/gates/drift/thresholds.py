from __future__ import annotations

from dataclasses import dataclass

from ...config.schema import setting
from ..common.thresholds import FILES


@dataclass(frozen=True)
class DriftThresholds:
    # Baseline log-probs kept per position (packed in the record); the KLD estimate over them held
    # 97.5-99.5% of the full-vocabulary KLD on the demo at 256, 92-96% at 32 (decision.py).
    top_k: int = setting(256, type="integer", minimum=5, maximum=1024)
    context: int = setting(256, type="integer", minimum=16)  # tokens per window; the second half of each is scored
    max_mean_kld: float = setting(0.05, type="number", exclusiveMinimum=0)
    max_p99_kld: float = setting(0.5, type="number", exclusiveMinimum=0)
    min_same_top1: float = setting(0.85, type="number", minimum=0, maximum=1)
    confidence: float = setting(0.95, type="number", exclusiveMinimum=0.5, exclusiveMaximum=1)
    corpus: tuple[str, ...] = setting((), **FILES)
    builtin_corpus: bool = setting(True, type="boolean")
