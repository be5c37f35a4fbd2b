"""Engines behind one interface (`base.Engine`); this module picks and loads them by kind."""

from __future__ import annotations

import importlib
from pathlib import Path

from ..config import CandidateSpec
from .base import (
    Capabilities,
    ChatMessage,
    Engine,
    EngineBase,
    EngineStats,
    EngineUnavailable,
    Generation,
    GenerationRequest,
    ScoredSequence,
    TokenizerFacts,
    TokenLogprobs,
)

__all__ = [
    "Capabilities",
    "ChatMessage",
    "Engine",
    "EngineBase",
    "EngineStats",
    "EngineUnavailable",
    "Generation",
    "GenerationRequest",
    "ScoredSequence",
    "TokenizerFacts",
    "TokenLogprobs",
    "check_spec",
    "engine_class",
    "load_engine",
]

# kind -> (module, engine class); each module also has `check_spec(spec)`.
_ENGINES = {
    "hf": ("pytest_quantgate.engines.hf", "HFEngine"),
    "vllm": ("pytest_quantgate.engines.vllm", "VLLMEngine"),
    "llamacpp": ("pytest_quantgate.engines.llamacpp", "LlamaCppEngine"),
    "openai": ("pytest_quantgate.engines.openai", "OpenAIEngine"),
}


def engine_class(kind: str) -> type[EngineBase]:
    """The engine class of a kind, without loading a model: its `capabilities` say what it
    can do before anything starts (its module imports no engine runtime)."""
    module, name = _ENGINES[kind]
    cls: type[EngineBase] = getattr(importlib.import_module(module), name)
    return cls


def check_spec(spec: CandidateSpec) -> None:
    """Engine-specific validation that needs no heavy imports (raises ConfigError)."""
    from ..config import ConfigError
    from ..models import is_gguf

    wants_gguf = spec.engine == "llamacpp"
    if spec.engine != "openai" and is_gguf(spec.model) != wants_gguf:
        needed = "a GGUF file (a .gguf path or demo:...@gguf-TYPE)" if wants_gguf else "a checkpoint folder, not a GGUF"
        raise ConfigError(f"key candidates.{spec.name}.model: the {spec.engine} engine loads {needed}; got {spec.model!r}")
    importlib.import_module(_ENGINES[spec.engine][0]).check_spec(spec)


def check_reachable(spec: CandidateSpec) -> None:
    """An endpoint the candidate names (not a server it starts) must answer now: a run whose
    endpoint is down stops at once, as a missing artifact does (raises EndpointError)."""
    if spec.engine != "openai" or spec.endpoint is None or spec.server is not None:
        return
    from .openai import check_endpoint, headers_for

    endpoint = spec.endpoint
    check_endpoint(spec.name, endpoint, endpoint.model or spec.name, endpoint.base_url.rstrip("/") + "/", headers_for(endpoint))


def require(spec: CandidateSpec) -> None:
    """Skip-worthy: the machine lacks what the candidate declares it needs (`requires`)."""
    from ..environment import unmet_requirements

    reason = unmet_requirements(spec.requires)
    if reason:
        raise EngineUnavailable(reason)


def load_engine(spec: CandidateSpec, cache_dir: Path) -> Engine:
    from .. import models

    require(spec)
    cls = engine_class(spec.engine)
    model = models.resolve(spec.model, cache_dir)
    adapter = models.resolve_adapter(spec.adapter, cache_dir) if spec.adapter else None
    if adapter is not None and adapter.is_dir() and cls.capabilities.adapters == "gguf":
        from ..models import lora_gguf

        adapter = lora_gguf.convert(adapter, model, cache_dir)
    return cls(spec, model, adapter)
