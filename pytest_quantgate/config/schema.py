"""The config's JSON Schema. Gate tables are derived from the gates' settings dataclasses
(each field carries its own schema through `setting`), so a key cannot exist in one and not
the other; the candidate table is written out and held to `CandidateSpec` by a test."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

SCHEMA_KEY = "quantgate_schema"
ENGINE_KINDS = ("hf", "vllm", "llamacpp", "openai")
# Candidate names become parts of record and report file names: a safe, documented set.
NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]*$"
RESERVED_NAME = "all"  # --quant-candidate=all selects every candidate


def setting(default: Any = dataclasses.MISSING, *, default_factory: Any = dataclasses.MISSING, **schema: Any) -> Any:
    """A settings field with its JSON Schema: `margin: float = setting(0.1, type="number")`."""
    return dataclasses.field(default=default, default_factory=default_factory, metadata={SCHEMA_KEY: schema})


def schema_of(settings: type) -> dict[str, Any]:
    """The JSON Schema of a settings dataclass: one property per field, nothing else allowed."""
    properties = {}
    for f in dataclasses.fields(settings):
        if SCHEMA_KEY not in f.metadata:
            raise TypeError(f"{settings.__name__}.{f.name} has no schema: declare it with config.setting(...)")
        properties[f.name] = f.metadata[SCHEMA_KEY]
    return {"type": "object", "additionalProperties": False, "properties": properties}


_WEIGHTS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["method", "dtype"],
    "properties": {
        "method": {"enum": ["torchao", "quanto", "bitsandbytes"]},
        "dtype": {"enum": ["int8", "int4", "float8", "nf4", "fp4"]},
        "compute_dtype": {"enum": ["float32", "bfloat16", "float16"]},
        "double_quant": {"type": "boolean"},
    },
}
_ACTIVATIONS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["dtype"],
    "properties": {"dtype": {"enum": ["int8"]}, "dynamic": {"type": "boolean"}},
}
_KV_CACHE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["method", "bits"],
    "properties": {
        "method": {"enum": ["quanto"]},
        "bits": {"enum": [2, 4]},
        "residual_length": {"type": "integer", "minimum": 0},
    },
}
_GENERATION = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "max_new_tokens": {"type": "integer", "minimum": 1},
        "top_logprobs": {"type": "integer", "minimum": 1, "maximum": 20},
        "batch_size": {"type": "integer", "minimum": 1},
    },
}
# An OpenAI-compatible endpoint (engine "openai"): the key is read from the environment
# variable it names, never from the file, and never written to a report.
_ENDPOINT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["base_url"],
    "properties": {
        "base_url": {"type": "string", "pattern": "^https?://"},
        "model": {"type": "string", "minLength": 1},
        "api_key_env": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        # header -> environment variable holding its value (keys never sit in the file)
        "headers_env": {"type": "object", "additionalProperties": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}},
        "timeout_s": {"type": "number", "exclusiveMinimum": 0},
        "concurrency": {"type": "integer", "minimum": 1},
        "stream": {"type": "boolean"},
        "api": {"enum": ["chat", "completions"]},
    },
}
CANDIDATE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["engine", "model"],
    "properties": {
        "engine": {"enum": list(ENGINE_KINDS)},
        "endpoint": _ENDPOINT,
        # engine "openai" only: start this server for the candidate on a loopback port.
        "server": {"enum": ["vllm", "llamacpp"]},
        "server_args": {"type": "array", "items": {"type": "string"}},
        "adapter": {"type": "string", "minLength": 1},
        # What the machine must have; elsewhere the candidate's gates are skipped with the reason.
        "requires": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "gpu": {"type": "boolean"},
                "min_compute_capability": {"type": "number", "minimum": 1},
                "min_gpu_memory_gb": {"type": "number", "exclusiveMinimum": 0},
            },
        },
        "model": {"type": "string", "minLength": 1},
        "baseline": {"type": "string"},
        "description": {"type": "string"},
        "dtype": {"enum": ["float32", "bfloat16", "float16"]},
        "quantization": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "weights": _WEIGHTS,
                "activations": _ACTIVATIONS,
                "kv_cache": _KV_CACHE,
            },
        },
        "runtime": {"type": "object"},
        "generation": _GENERATION,
    },
}


def config_schema(gate_settings: Mapping[str, type | None]) -> dict[str, Any]:
    """The whole file's schema; `gate_settings` maps each gate to its settings dataclass
    (None: a gate with no settings, whose table must then be absent or empty)."""
    gates = {
        name: schema_of(settings) if settings is not None else {"type": "object", "additionalProperties": False}
        for name, settings in gate_settings.items()
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "required": ["baseline", "candidates"],
        "properties": {
            "baseline": {"type": "string"},
            "cache_dir": {"type": "string"},
            "snapshot_dir": {"type": "string"},
            "candidates": {
                "type": "object",
                "minProperties": 1,
                "propertyNames": {"pattern": NAME_PATTERN, "not": {"enum": [RESERVED_NAME]}},
                "additionalProperties": CANDIDATE_SCHEMA,
            },
            "gates": {"type": "object", "additionalProperties": False, "properties": gates},
        },
    }
