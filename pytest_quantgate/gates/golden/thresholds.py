from __future__ import annotations

from dataclasses import dataclass

from ...config.schema import setting
from ..common.thresholds import FILES, CaseGateThresholds, StagedCases
from .families import FAMILIES


@dataclass(frozen=True)
class GoldenThresholds(CaseGateThresholds, StagedCases):
    # A divergent token inside the baseline's top-k is a near-tie, not a change of answer.
    top_k: int = setting(5, type="integer", minimum=1, maximum=20)
    diverge_outside_top_k_before: int = setting(16, type="integer", minimum=0)
    # The share of cases that may do so: a guard against broken decoding, not a zero-tolerance
    # rule that a bigger suite makes stricter (2 of 512 cases tripped it for a W8A8 build
    # whose expectations held). 0 tolerates none.
    max_early_divergence_rate: float = setting(0.01, type="number", minimum=0, maximum=1)
    min_similarity: float = setting(0.0, type="number", minimum=0, maximum=1)
    # Generated task families (families.py) beside the built-in and file cases: `family_size`
    # seeded cases of each one named; all of them unless switched off (`families = []`). The
    # paired rule needs hundreds of cases for a margin of a few points, and the staged run
    # (`stage`) asks the candidate for only as many as its decision needs.
    families: tuple[str, ...] = setting(tuple(FAMILIES), type="array", items={"enum": list(FAMILIES)}, uniqueItems=True)
    family_size: int = setting(200, type="integer", minimum=1)
    family_seed: int = setting(0, type="integer")
    # Recorded traffic (JSONL of OpenAI chat request bodies, as gates.canary.traffic reads):
    # `traffic_sample` requests drawn with `traffic_seed` become cases on which the candidate
    # must agree with the baseline's recorded answer (similarity and the facts it states).
    traffic: tuple[str, ...] = setting((), **FILES)
    traffic_sample: int = setting(200, type="integer", minimum=1)
    traffic_seed: int = setting(0, type="integer")
    traffic_min_similarity: float = setting(0.3, type="number", minimum=0, maximum=1)
