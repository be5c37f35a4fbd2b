"""Reading the config: find the file, validate it against the schema (every error names its
key and the allowed values) and build the specs, before any model loads: a bad config must
cost seconds, not an engine start."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

import jsonschema

from ..errors import ConfigError
from .schema import NAME_PATTERN, RESERVED_NAME, config_schema
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


def find_config(rootdir: Path, explicit: str | None) -> tuple[Path, dict[str, Any]]:
    """The config table and its file: an explicit path, else quantgate.toml, else pyproject."""
    if explicit:
        path = Path(explicit)
        if not path.is_absolute():
            path = rootdir / path
        if not path.is_file():
            raise ConfigError(f"--quantgate-config: {path} does not exist")
        candidates = [path]
    else:
        candidates = [rootdir / "quantgate.toml", rootdir / "pyproject.toml"]
    for path in candidates:
        if not path.is_file():
            continue
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        if path.name == "pyproject.toml" and not explicit:
            table = data.get("tool", {}).get("quantgate")
            if table is None:
                continue
            return path, table
        if path.name == "pyproject.toml":
            return path, data.get("tool", {}).get("quantgate", {})
        return path, data
    raise ConfigError(
        f"no quantgate config found in {rootdir}: add quantgate.toml or a [tool.quantgate] "
        "table to pyproject.toml, or pass --quantgate-config=PATH"
    )


def _key_path(error: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    where = _key_path(error)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict) and isinstance(error.schema, dict):
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        prefix = f"{where}." if error.absolute_path else ""
        return (
            f"unknown key {', '.join(prefix + k for k in extra)}; "
            f"allowed keys here: {', '.join(allowed)}"
        )
    if error.validator == "enum":
        options = error.validator_value if isinstance(error.validator_value, (list, tuple)) else [error.validator_value]
        values = ", ".join(map(repr, options))
        return f"key {where}: {error.instance!r} is not allowed; allowed values: {values}"
    if error.validator == "type":
        return f"key {where}: expected {error.validator_value}, got {error.instance!r}"
    if "propertyNames" in error.schema_path and error.validator == "not":
        return f"key {where}: the name {error.instance!r} is reserved (--quant-candidate={RESERVED_NAME} selects every candidate); rename it"
    if "propertyNames" in error.schema_path:
        return (
            f"key {where}: name {error.instance!r} is not allowed; names use letters, digits, '_', '.' "
            f"and '-' and start with a letter or digit ({NAME_PATTERN})"
        )
    if error.validator == "required":
        return f"key {where}: {error.message}"
    return f"key {where}: {error.message}"


def validate(table: Mapping[str, Any], path: Path, gate_settings: Mapping[str, type | None]) -> None:
    validator = jsonschema.Draft202012Validator(config_schema(gate_settings))
    errors = sorted(validator.iter_errors(table), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = "\n  ".join(_describe(e) for e in errors)
        raise ConfigError(f"invalid quantgate config in {path}:\n  {lines}")


def parse(table: Mapping[str, Any], path: Path, gate_settings: Mapping[str, type | None]) -> QuantgateConfig:
    """The config in `table` (read from `path`); `gate_settings`: each gate's settings dataclass
    (the gate registry's `settings_types()`), which validates and builds its [gates.*] table."""
    validate(table, path, gate_settings)
    candidates = {name: _candidate(name, raw) for name, raw in table["candidates"].items()}
    referenced = {table["baseline"]: "baseline"} | {
        c.baseline: f"candidates.{c.name}.baseline" for c in candidates.values() if c.baseline
    }
    for name, key in referenced.items():
        if name not in candidates:
            raise ConfigError(
                f"invalid quantgate config in {path}:\n  key {key}: {name!r} is not a declared "
                f"candidate; declared: {', '.join(sorted(candidates))}"
            )
    for spec in candidates.values():
        _check_serving_keys(spec, path)
    candidates = {
        name: replace(spec, model=_model_source(spec, path), adapter=_adapter_source(spec, path))
        for name, spec in candidates.items()
    }
    tables = table.get("gates", {})
    gates = {}
    for name, settings in gate_settings.items():
        if settings is None:
            continue
        values = settings(**{k: tuple(v) if isinstance(v, list) else v for k, v in tables.get(name, {}).items()})
        problem = values.problem() if hasattr(values, "problem") else None
        if problem:
            raise ConfigError(f"invalid quantgate config in {path}:\n  key gates.{name}: {problem}")
        gates[name] = values
    return QuantgateConfig(
        path=path,
        baseline=table["baseline"],
        candidates=candidates,
        gates=gates,
        cache_dir=_resolve(path, table.get("cache_dir")),
        snapshot_dir=_resolve(path, table.get("snapshot_dir")),
    )


def load(rootdir: Path, explicit: str | None, gate_settings: Mapping[str, type | None]) -> QuantgateConfig:
    path, table = find_config(rootdir, explicit)
    return parse(table, path, gate_settings)


def _resolve(config_path: Path, value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else config_path.parent / path


def _candidate(name: str, raw: Mapping[str, Any]) -> CandidateSpec:
    quant = raw.get("quantization", {})
    return CandidateSpec(
        name=name,
        engine=raw["engine"],
        model=raw["model"],
        baseline=raw.get("baseline"),
        description=raw.get("description", ""),
        dtype=raw.get("dtype", "float32"),
        quantization=Quantization(
            weights=WeightQuant(**quant["weights"]) if "weights" in quant else None,
            activations=ActivationQuant(**quant["activations"]) if "activations" in quant else None,
            kv_cache=KVCacheQuant(**quant["kv_cache"]) if "kv_cache" in quant else None,
        ),
        runtime=dict(raw.get("runtime", {})),
        generation=GenerationSettings(**raw.get("generation", {})),
        endpoint=Endpoint(**raw["endpoint"]) if "endpoint" in raw else None,
        server=raw.get("server"),
        server_args=tuple(raw.get("server_args", ())),
        adapter=raw.get("adapter"),
        requires=dict(raw.get("requires", {})),
    )


def _model_source(spec: CandidateSpec, config_path: Path) -> str:
    """The demo marker as is, or the model's absolute path, which must exist."""
    if spec.model.startswith("demo:"):
        from ..models import demo_variants, split_variant

        base, variant = split_variant(spec.model)
        if base != DEMO_MODEL or (variant is not None and variant not in demo_variants()):
            raise ConfigError(
                f"invalid quantgate config in {config_path}:\n  key candidates.{spec.name}.model: "
                f"unknown demo model {spec.model!r}; allowed: {DEMO_MODEL!r}, "
                f"{DEMO_MODEL}@VARIANT with VARIANT in {', '.join(demo_variants())}, or a local path"
            )
        return spec.model
    model_path = Path(spec.model).expanduser()
    if not model_path.is_absolute():
        model_path = config_path.parent / model_path
    if not model_path.exists():
        raise ConfigError(
            f"invalid quantgate config in {config_path}:\n  key candidates.{spec.name}.model: "
            f"model file {model_path} does not exist; build or download it, or fix the path"
        )
    from ..models import source_problem

    problem = source_problem(model_path, spec.engine)
    if problem:
        raise ConfigError(f"invalid quantgate config in {config_path}:\n  key candidates.{spec.name}.model: {problem}")
    return str(model_path)


def _adapter_source(spec: CandidateSpec, config_path: Path) -> str | None:
    """A demo adapter's name as is, or the absolute path of a PEFT adapter folder (with its
    adapter_config.json) or of a llama.cpp LoRA GGUF file."""
    if spec.adapter is None:
        return None
    where = f"invalid quantgate config in {config_path}:\n  key candidates.{spec.name}.adapter"
    if spec.adapter.startswith("demo:"):
        from ..models import lora

        if lora.demo_name(spec.adapter) not in lora.PLANS:
            raise ConfigError(f"{where}: unknown demo adapter {spec.adapter!r}; allowed: "
                              f"{', '.join(lora.DEMO_ADAPTER + n for n in lora.PLANS)}, or a local adapter folder")
        return spec.adapter
    folder = Path(spec.adapter).expanduser()
    folder = folder if folder.is_absolute() else config_path.parent / folder
    if folder.suffix == ".gguf" and folder.is_file():
        if spec.engine != "llamacpp":
            raise ConfigError(f"{where}: {folder.name} is a GGUF LoRA, which only the llamacpp engine serves; give "
                              f"the {spec.engine} engine the PEFT adapter folder it was converted from")
        return str(folder)
    if not (folder / "adapter_config.json").is_file():
        raise ConfigError(f"{where}: {folder} is neither a PEFT LoRA adapter folder (no adapter_config.json) nor a "
                          "GGUF LoRA file; save it with model.save_pretrained() or fix the path")
    return str(folder)


def _check_serving_keys(spec: CandidateSpec, config_path: Path) -> None:
    """endpoint / server / server_args describe an openai candidate's server; on another engine
    they would be ignored silently, so they are refused."""
    if spec.engine == "openai":
        return
    for key, value in (("endpoint", spec.endpoint), ("server", spec.server), ("server_args", spec.server_args)):
        if value:
            raise ConfigError(
                f"invalid quantgate config in {config_path}:\n  key candidates.{spec.name}.{key}: only an openai "
                f"candidate has a {key}; a {spec.engine} candidate is served by its own runtime (remove the key, "
                "or declare engine = \"openai\" with a server to start)"
            )
