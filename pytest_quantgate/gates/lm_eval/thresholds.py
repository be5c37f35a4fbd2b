from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ...config.schema import setting
from ..common.thresholds import PairedRule

_NAMES = {"type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": True}


@dataclass(frozen=True)
class LmEvalThresholds(PairedRule):
    """lm-evaluation-harness tasks run on both models with the same lm-eval model kind, each
    task decided by the paired rule over its per-sample scores (`log_samples`)."""

    # lm-eval task names (its registry, `include_path` folders) or paths to task YAML files,
    # relative to the config file; none: the gate is skipped.
    tasks: tuple[str, ...] = setting((), **_NAMES)
    include_path: tuple[str, ...] = setting((), **_NAMES)  # folders of task YAMLs, relative to the config file
    # task -> "metric,filter" as lm-eval names its results (e.g. "exact_match,strict-match");
    # default: the task's first metric under its first filter. It must score 0 or 1 per sample.
    metrics: Mapping[str, str] = setting(
        default_factory=dict, type="object", additionalProperties={"type": "string", "pattern": "^[^,]+(,[^,]+)?$"}
    )
    limit: int | None = setting(None, type=["integer", "null"], minimum=1)  # samples per task (the first ones)
    num_fewshot: int | None = setting(None, type=["integer", "null"], minimum=0)
    apply_chat_template: bool = setting(True, type="boolean")  # instruct models answer through their template
    system_instruction: str | None = setting(None, type=["string", "null"])
    batch_size: int | None = setting(None, type=["integer", "null"], minimum=1)  # default: the candidate's
