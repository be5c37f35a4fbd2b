"""Engines behind one interface (`base.Engine`); this module picks and loads them by kind."""

from __future__ import annotations

import importlib
from pathlib import Path

from ..config import CandidateSpec
from .base import (
    ChatMessage,
    Engine,
    EngineStats,
    EngineUnavailable,
    Generation,
    GenerationRequest,
    ScoredSequence,
    TokenizerFacts,
    TokenLogprobs,
)

__all__ = [
    "ChatMessage",
    "Engine",
    "EngineStats",
    "EngineUnavailable",
    "Generation",
    "GenerationRequest",
    "ScoredSequence",
    "TokenizerFacts",
    "TokenLogprobs",
    "check_spec",
    "load_engine",
]

# kind -> module; each module has `check_spec(spec)` and an engine class named in _CLASSES.
_MODULES = {"hf": "pytest_quantgate.engines.hf"}
_CLASSES = {"hf": "HFEngine"}


def check_spec(spec: CandidateSpec) -> None:
    """Engine-specific validation that needs no heavy imports (raises ConfigError)."""
    importlib.import_module(_MODULES[spec.engine]).check_spec(spec)


def load_engine(spec: CandidateSpec, cache_dir: Path) -> Engine:
    from .. import models

    module = importlib.import_module(_MODULES[spec.engine])
    model_dir = models.resolve(spec.model, cache_dir)
    return getattr(module, _CLASSES[spec.engine])(spec, model_dir)
