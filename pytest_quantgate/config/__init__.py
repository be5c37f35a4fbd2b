"""The config layer: specs (what is declared), schema (what is allowed), loading (from TOML)."""

from ..errors import ConfigError
from .loading import find_config, load, parse, validate
from .schema import ENGINE_KINDS, NAME_PATTERN, config_schema, schema_of, setting
from .specs import (
    DEMO_MODEL,
    ActivationQuant,
    CandidateSpec,
    Endpoint,
    GenerationSettings,
    KVCacheQuant,
    QuantgateConfig,
    Quantization,
    WeightQuant,
)

__all__ = [
    "DEMO_MODEL",
    "ENGINE_KINDS",
    "NAME_PATTERN",
    "ActivationQuant",
    "CandidateSpec",
    "ConfigError",
    "Endpoint",
    "GenerationSettings",
    "KVCacheQuant",
    "Quantization",
    "QuantgateConfig",
    "WeightQuant",
    "config_schema",
    "find_config",
    "load",
    "parse",
    "schema_of",
    "setting",
    "validate",
]
