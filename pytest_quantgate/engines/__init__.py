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
_MODULES = {
    "hf": "pytest_quantgate.engines.hf",
    "vllm": "pytest_quantgate.engines.vllm",
    "llamacpp": "pytest_quantgate.engines.llamacpp",
    "openai": "pytest_quantgate.engines.openai",
}
_CLASSES = {"hf": "HFEngine", "vllm": "VLLMEngine", "llamacpp": "LlamaCppEngine", "openai": "OpenAIEngine"}


def check_spec(spec: CandidateSpec) -> None:
    """Engine-specific validation that needs no heavy imports (raises ConfigError)."""
    from ..config import ConfigError
    from ..models import is_gguf

    wants_gguf = spec.engine == "llamacpp"
    if spec.engine != "openai" and is_gguf(spec.model) != wants_gguf:
        needed = "a GGUF file (a .gguf path or demo:...@gguf-TYPE)" if wants_gguf else "a checkpoint folder, not a GGUF"
        raise ConfigError(f"key candidates.{spec.name}.model: the {spec.engine} engine loads {needed}; got {spec.model!r}")
    importlib.import_module(_MODULES[spec.engine]).check_spec(spec)


def require(spec: CandidateSpec) -> None:
    """Skip-worthy: the machine lacks what the candidate declares it needs (`requires`)."""
    from ..environment import unmet_requirements

    reason = unmet_requirements(spec.requires)
    if reason:
        raise EngineUnavailable(reason)


def load_engine(spec: CandidateSpec, cache_dir: Path) -> Engine:
    from .. import models

    require(spec)
    module = importlib.import_module(_MODULES[spec.engine])
    model_dir = models.resolve(spec.model, cache_dir)
    return getattr(module, _CLASSES[spec.engine])(spec, model_dir)
