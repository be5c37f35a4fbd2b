from __future__ import annotations

from dataclasses import dataclass

from ...config.schema import setting
from ..common.thresholds import PairedRule


@dataclass(frozen=True)
class LongContextThresholds(PairedRule):
    """Recall per length may drop by at most `margin` below the baseline's; overall, cases are
    paired like any other gate's."""

    lengths: tuple[int, ...] = setting(
        (256, 512, 1024), type="array", items={"type": "integer", "minimum": 64}, minItems=1, uniqueItems=True
    )
    depths: tuple[float, ...] = setting(
        (0.0, 0.25, 0.5, 0.75, 1.0), type="array", items={"type": "number", "minimum": 0, "maximum": 1}, minItems=1, uniqueItems=True
    )
    tasks: tuple[str, ...] = setting(
        ("single", "multi", "variables"), type="array", items={"enum": ["single", "multi", "variables"]}, minItems=1, uniqueItems=True
    )
    seed: int = setting(0, type="integer")
