from __future__ import annotations

from dataclasses import dataclass

from ...config.schema import setting
from ..common.thresholds import FILES, PairedRule, max_new_tokens


@dataclass(frozen=True)
class CanaryThresholds(PairedRule):
    """A live canary route against the live baseline route on a sample of recorded requests
    (JSONL files of OpenAI chat request bodies). A case holds for a model when its answer is
    usable (stops by itself, not empty, no loop; schema-valid JSON where the request asked for
    a schema); for the candidate it must also stay close to the baseline's answer."""

    traffic: tuple[str, ...] = setting((), **FILES)
    sample: int = setting(32, type="integer", minimum=1)
    seed: int = setting(0, type="integer")
    max_new_tokens: int = max_new_tokens(64)  # for requests that do not say
    min_similarity: float = setting(0.3, type="number", minimum=0, maximum=1)  # difflib ratio to the baseline's answer
    # greedy answers of two different quantizations rarely agree word for word
    margin: float = setting(0.2, type="number", minimum=0, maximum=1)
