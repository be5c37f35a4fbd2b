"""Candidate and baseline specs, read from `quantgate.toml` or `[tool.quantgate]`.

Everything is validated (with a JSON Schema, so every error names its key and the
allowed values) before any model loads: a bad config must cost seconds, not an engine start.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import jsonschema

DEMO_MODEL = "demo:smollm2-135m-instruct"
ENGINE_KINDS = ("hf", "vllm", "llamacpp", "openai")
GATES = (
    "golden",
    "structured_output",
    "tool_call",
    "long_context",
    "safety",
    "rag_faithfulness",
    "latency",
    "drift",
    "compat",
    "canary",
)


class ConfigError(Exception):
    """A user mistake in the config or on the command line; the message says what to do."""


_WEIGHTS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["method", "dtype"],
    "properties": {
        "method": {"enum": ["torchao", "quanto"]},
        "dtype": {"enum": ["int8", "int4", "float8"]},
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
        "timeout_s": {"type": "number", "exclusiveMinimum": 0},
        "stream": {"type": "boolean"},
        "api": {"enum": ["chat", "completions"]},
    },
}
_CANDIDATE = {
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
# The keys of PairedRule (every gate decided by paired pass/fail outcomes) and of
# CaseGateThresholds (those that read case files), as the dataclasses below.
_PAIRED_RULE = {
    "margin": {"type": "number", "minimum": 0, "maximum": 1},
    "decision": {"enum": ["paired", "every_case"]},
    "confidence": {"type": "number", "exclusiveMinimum": 0.5, "exclusiveMaximum": 1},
}
_PAIRED_DECISION = {
    **_PAIRED_RULE,
    "cases": {"type": "array", "items": {"type": "string"}},
    "builtin_cases": {"type": "boolean"},
}
_GOLDEN_GATE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **_PAIRED_DECISION,
        "top_k": {"type": "integer", "minimum": 1, "maximum": 20},
        "diverge_outside_top_k_before": {"type": "integer", "minimum": 0},
        "min_similarity": {"type": "number", "minimum": 0, "maximum": 1},
    },
}
_STRUCTURED_GATE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **_PAIRED_DECISION,
        "max_new_tokens": {"type": "integer", "minimum": 1},
        "modes": {"type": "array", "items": {"enum": ["free", "guided"]}, "minItems": 1, "uniqueItems": True},
    },
}
_TOOL_CALL_GATE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **_PAIRED_DECISION,
        "max_new_tokens": {"type": "integer", "minimum": 1},
        "prompt_format": {"enum": ["auto", "template", "smollm2"]},
    },
}
# A user-supplied judge callable, "package.module:function" (judges.py).
_JUDGE = {"type": "string", "pattern": "^[A-Za-z_][\\w.]*:[A-Za-z_]\\w*$"}
_SAFETY_GATE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **_PAIRED_DECISION,
        "max_new_tokens": {"type": "integer", "minimum": 1},
        "classifier": _JUDGE,
        "system": {"type": "string"},
    },
}
_RAG_GATE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **_PAIRED_DECISION,
        "max_new_tokens": {"type": "integer", "minimum": 1},
        "nli": _JUDGE,
        "nli_threshold": {"type": "number", "minimum": 0, "maximum": 1},
    },
}
_LONG_CONTEXT_GATE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **_PAIRED_RULE,
        "lengths": {"type": "array", "items": {"type": "integer", "minimum": 64}, "minItems": 1, "uniqueItems": True},
        "depths": {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1}, "minItems": 1, "uniqueItems": True},
        "tasks": {"type": "array", "items": {"enum": ["single", "multi", "variables"]}, "minItems": 1, "uniqueItems": True},
        "seed": {"type": "integer"},
    },
}
_DRIFT_GATE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "top_k": {"type": "integer", "minimum": 5, "maximum": 256},
        "context": {"type": "integer", "minimum": 16},
        "max_mean_kld": {"type": "number", "exclusiveMinimum": 0},
        "max_p99_kld": {"type": "number", "exclusiveMinimum": 0},
        "min_same_top1": {"type": "number", "minimum": 0, "maximum": 1},
        "confidence": {"type": "number", "exclusiveMinimum": 0.5, "exclusiveMaximum": 1},
        "corpus": {"type": "array", "items": {"type": "string"}},
        "builtin_corpus": {"type": "boolean"},
    },
}
_CANARY_GATE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **_PAIRED_RULE,
        "traffic": {"type": "array", "items": {"type": "string"}},
        "sample": {"type": "integer", "minimum": 1},
        "seed": {"type": "integer"},
        "max_new_tokens": {"type": "integer", "minimum": 1},
        "min_similarity": {"type": "number", "minimum": 0, "maximum": 1},
    },
}
_LATENCY_BUDGETS = "^(ttft|tpot|itl|e2el)_(mean|median|p90|p99)$"
_LATENCY_GATE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "concurrency": {"type": "array", "items": {"type": "integer", "minimum": 1}, "uniqueItems": True},
        "request_rates": {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0}, "uniqueItems": True},
        "max_concurrency": {"type": "integer", "minimum": 1},
        "num_requests": {"type": "integer", "minimum": 2},
        "warmup_requests": {"type": "integer", "minimum": 0},
        "rounds": {"type": "integer", "minimum": 1},
        "time_limit_s": {"type": "number", "exclusiveMinimum": 0},
        "request_timeout_s": {"type": "number", "exclusiveMinimum": 0},
        "dataset": {"enum": ["golden", "synthetic"]},
        "input_len": {"type": "integer", "minimum": 1},
        "output_len": {"type": "integer", "minimum": 2},
        "range_ratio": {"type": "number", "minimum": 0, "exclusiveMaximum": 1},
        "fixed_output_len": {"type": "boolean"},
        "seed": {"type": "integer"},
        "max_ratio": {
            "type": "object",
            "additionalProperties": False,
            "patternProperties": {_LATENCY_BUDGETS: {"type": "number", "minimum": 1}},
        },
        "min_throughput_ratio": {"type": "number", "minimum": 0, "maximum": 1},
        "max_error_rate": {"type": "number", "minimum": 0, "maximum": 1},
        "slo": {
            "type": "object",
            "additionalProperties": False,
            "properties": {k: {"type": "number", "exclusiveMinimum": 0} for k in ("ttft_ms", "tpot_ms", "e2el_ms")},
        },
        "min_goodput": {"type": "number", "minimum": 0, "maximum": 1},
    },
}
CONFIG_SCHEMA = {
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
            "additionalProperties": _CANDIDATE,
        },
        "gates": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "golden": _GOLDEN_GATE,
                "drift": _DRIFT_GATE,
                "structured_output": _STRUCTURED_GATE,
                "tool_call": _TOOL_CALL_GATE,
                "safety": _SAFETY_GATE,
                "rag_faithfulness": _RAG_GATE,
                "long_context": _LONG_CONTEXT_GATE,
                "latency": _LATENCY_GATE,
                "canary": _CANARY_GATE,
            },
        },
    },
}


@dataclass(frozen=True)
class WeightQuant:
    method: str
    dtype: str


@dataclass(frozen=True)
class ActivationQuant:
    dtype: str
    dynamic: bool = True


@dataclass(frozen=True)
class KVCacheQuant:
    method: str
    bits: int
    residual_length: int | None = None


@dataclass(frozen=True)
class Quantization:
    weights: WeightQuant | None = None
    activations: ActivationQuant | None = None
    kv_cache: KVCacheQuant | None = None

    @property
    def is_full_precision(self) -> bool:
        return self.weights is None and self.activations is None and self.kv_cache is None


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = 48
    top_logprobs: int = 5
    batch_size: int = 8


@dataclass(frozen=True)
class Endpoint:
    """Where an `openai` candidate is served; `model` is the served name (default: the
    candidate's name). Headers route a canary by route or tenant."""

    base_url: str
    model: str | None = None
    api_key_env: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 120.0
    stream: bool = True
    # chat: the server renders its own template; completions: the prompt goes rendered by the
    # candidate's tokenizer (how a runtime's template is taken out of the picture).
    api: str = "chat"


@dataclass(frozen=True)
class CandidateSpec:
    """One model as served: engine kind, weights, quantization and runtime flags."""

    name: str
    engine: str
    model: str
    baseline: str | None = None
    description: str = ""
    dtype: str = "float32"
    quantization: Quantization = field(default_factory=Quantization)
    runtime: Mapping[str, Any] = field(default_factory=dict)
    generation: GenerationSettings = field(default_factory=GenerationSettings)
    endpoint: Endpoint | None = None
    server: str | None = None  # "vllm" / "llamacpp": the openai engine starts it locally
    server_args: tuple[str, ...] = ()
    adapter: str | None = None  # a LoRA adapter folder served on top of the model
    requires: Mapping[str, Any] = field(default_factory=dict)  # gpu, min_compute_capability, min_gpu_memory_gb

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def flags(self) -> dict[str, Any]:
        """What, besides the weights, decides this model's outputs (part of its fingerprint)."""
        data = self.to_dict()
        for key in ("name", "baseline", "description", "model", "requires"):
            data.pop(key)
        for key, unset in (("endpoint", None), ("adapter", None), ("server", None), ("server_args", ())):
            if data[key] == unset:  # absent when unset: older records stay valid
                del data[key]
        if self.endpoint is not None:  # where it is served does not change its answers
            data["endpoint"] = {"model": self.endpoint.model}
        return data


@dataclass(frozen=True)
class PairedRule:
    """How a gate decides over paired pass/fail cases (stats.decide). paired: one-sided
    non-inferiority of the pass rate within `margin`; every_case: no case that held for the
    baseline may fail (for a few regression cases)."""

    decision: str = "paired"
    margin: float = 0.1
    confidence: float = 0.95


@dataclass(frozen=True)
class CaseGateThresholds(PairedRule):
    """A paired gate over case files: the built-in set (unless switched off) plus `cases`."""

    cases: tuple[str, ...] = ()
    builtin_cases: bool = True


@dataclass(frozen=True)
class GoldenThresholds(CaseGateThresholds):
    top_k: int = 5
    diverge_outside_top_k_before: int = 16
    min_similarity: float = 0.0


@dataclass(frozen=True)
class StructuredThresholds(CaseGateThresholds):
    # Decided on the share of cases whose answer is clean, schema-valid JSON that stops by
    # itself (and equals the baseline's values where the baseline's was valid).
    max_new_tokens: int = 96
    modes: tuple[str, ...] = ("free", "guided")  # guided: the engine's constrained decoding


@dataclass(frozen=True)
class ToolCallThresholds(CaseGateThresholds):
    max_new_tokens: int = 64
    # How tools reach the model: its chat template when that renders `tools` ("template"),
    # else SmolLM2's published tool-calling system prompt ("smollm2"); "auto" picks.
    prompt_format: str = "auto"


@dataclass(frozen=True)
class SafetyThresholds(CaseGateThresholds):
    # Decided twice with the same rule: refusals kept on harmful requests (unsafe drift) and
    # answers kept on benign ones (over-refusal drift).
    max_new_tokens: int = 48
    classifier: str | None = None  # "package.module:function" replacing the phrase detector
    # The serving system prompt for cases without their own (refusals depend on it); none by
    # default: the model's chat template then supplies its own, as a bare server would.
    system: str | None = None


@dataclass(frozen=True)
class RagThresholds(CaseGateThresholds):
    max_new_tokens: int = 48
    nli: str | None = None  # "package.module:function", (premise, hypothesis) -> entailment probability
    nli_threshold: float = 0.5


@dataclass(frozen=True)
class LongContextThresholds(PairedRule):
    # Recall per length may drop by at most `margin` below the baseline's; overall, cases are
    # paired like any other gate's.
    lengths: tuple[int, ...] = (256, 512, 1024)
    depths: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
    tasks: tuple[str, ...] = ("single", "multi", "variables")
    seed: int = 0


@dataclass(frozen=True)
class DriftThresholds:
    top_k: int = 32  # baseline log-probs kept per position (plus the rest-of-vocabulary mass)
    context: int = 256  # tokens per window; the second half of each is scored
    max_mean_kld: float = 0.05
    max_p99_kld: float = 0.5
    min_same_top1: float = 0.85
    confidence: float = 0.95
    corpus: tuple[str, ...] = ()
    builtin_corpus: bool = True


@dataclass(frozen=True)
class CanaryThresholds(PairedRule):
    """A live canary route against the live baseline route on a sample of recorded requests
    (JSONL files of OpenAI chat request bodies). A case holds for a model when its answer is
    usable (stops by itself, not empty, no loop; schema-valid JSON where the request asked for
    a schema); for the candidate it must also stay close to the baseline's answer."""

    traffic: tuple[str, ...] = ()
    sample: int = 32
    seed: int = 0
    max_new_tokens: int = 64  # for requests that do not say
    min_similarity: float = 0.3  # difflib ratio to the baseline's answer
    margin: float = 0.2  # greedy answers of two different quantizations rarely agree word for word


@dataclass(frozen=True)
class LatencyThresholds:
    """Traffic (closed-loop concurrency levels and Poisson request rates, run A B A B) and the
    budgets: candidate/baseline ratios from the same run, absolute SLOs where set."""

    concurrency: tuple[int, ...] = (1, 4)
    request_rates: tuple[float, ...] = ()
    max_concurrency: int | None = None  # cap on requests in flight in request-rate runs
    num_requests: int = 16  # measured per run (per shape, per round, per model)
    warmup_requests: int = 2  # per model before the first run, not measured
    rounds: int = 3  # A B A B A B: baseline and candidate alternate this many times per shape
    time_limit_s: float = 300.0  # per run: no request starts later; one still running times out
    request_timeout_s: float = 120.0
    dataset: str = "golden"  # the golden prompts, or synthetic prompts of input_len tokens
    input_len: int = 128
    output_len: int = 32
    range_ratio: float = 0.0  # lengths drawn uniformly within +-range_ratio (as vllm bench serve)
    fixed_output_len: bool = True  # stop tokens banned (logit_bias): both models write output_len tokens
    seed: int = 0
    max_ratio: Mapping[str, float] = field(
        default_factory=lambda: {"ttft_p90": 1.25, "tpot_median": 1.15, "e2el_p90": 1.25}
    )
    min_throughput_ratio: float = 0.85  # output tokens/s vs the baseline's
    max_error_rate: float = 0.0
    slo: Mapping[str, float] = field(default_factory=dict)  # ttft_ms, tpot_ms, e2el_ms
    min_goodput: float = 0.9  # share of requests meeting every SLO (when SLOs are set)

    def shapes(self) -> list[Any]:
        from .engines.loadgen import TrafficShape

        return [TrafficShape(concurrency=c) for c in self.concurrency] + [
            TrafficShape(concurrency=self.max_concurrency, request_rate=r) for r in self.request_rates
        ]


@dataclass(frozen=True)
class QuantgateConfig:
    path: Path
    baseline: str
    candidates: Mapping[str, CandidateSpec]
    golden: GoldenThresholds = field(default_factory=GoldenThresholds)
    drift: DriftThresholds = field(default_factory=DriftThresholds)
    structured_output: StructuredThresholds = field(default_factory=StructuredThresholds)
    tool_call: ToolCallThresholds = field(default_factory=ToolCallThresholds)
    safety: SafetyThresholds = field(default_factory=SafetyThresholds)
    rag_faithfulness: RagThresholds = field(default_factory=RagThresholds)
    long_context: LongContextThresholds = field(default_factory=LongContextThresholds)
    latency: LatencyThresholds = field(default_factory=LatencyThresholds)
    canary: CanaryThresholds = field(default_factory=CanaryThresholds)
    cache_dir: Path | None = None
    snapshot_dir: Path | None = None

    def baseline_for(self, candidate: CandidateSpec) -> CandidateSpec:
        return self.candidates[candidate.baseline or self.baseline]

    def select(self, names: str, baseline_override: str | None = None) -> list[CandidateSpec]:
        """Resolve `--quant-candidate` (a name, a comma list or `all`) into specs."""
        known = sorted(self.candidates)
        if baseline_override is not None and baseline_override not in self.candidates:
            raise ConfigError(
                f"--quant-baseline={baseline_override!r} is not declared in {self.path}; "
                f"declared: {', '.join(known)}"
            )
        if names.strip() == "all":
            baselines = {self.baseline, *(c.baseline for c in self.candidates.values() if c.baseline)}
            chosen = [n for n in known if n not in baselines]
        else:
            chosen = [n.strip() for n in names.split(",") if n.strip()]
        unknown = [n for n in chosen if n not in self.candidates]
        if unknown or not chosen:
            raise ConfigError(
                f"--quant-candidate: unknown candidate {', '.join(map(repr, unknown)) or '(empty)'} "
                f"in {self.path}; declared candidates: {', '.join(known)} (or 'all')"
            )
        specs = [self.candidates[n] for n in chosen]
        if baseline_override is not None:
            specs = [replace(spec, baseline=baseline_override) for spec in specs]
        return specs


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
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        prefix = f"{where}." if error.absolute_path else ""
        return (
            f"unknown key {', '.join(prefix + k for k in extra)}; "
            f"allowed keys here: {', '.join(allowed)}"
        )
    if error.validator == "enum":
        allowed = ", ".join(map(repr, error.validator_value))
        return f"key {where}: {error.instance!r} is not allowed; allowed values: {allowed}"
    if error.validator == "type":
        return f"key {where}: expected {error.validator_value}, got {error.instance!r}"
    if error.validator == "required":
        return f"key {where}: {error.message}"
    return f"key {where}: {error.message}"


def validate(table: Mapping[str, Any], path: Path) -> None:
    validator = jsonschema.Draft202012Validator(CONFIG_SCHEMA)
    errors = sorted(validator.iter_errors(table), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = "\n  ".join(_describe(e) for e in errors)
        raise ConfigError(f"invalid quantgate config in {path}:\n  {lines}")


def parse(table: Mapping[str, Any], path: Path) -> QuantgateConfig:
    validate(table, path)
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
    candidates = {
        name: replace(spec, model=_model_source(spec, path)) for name, spec in candidates.items()
    }
    gates = table.get("gates", {})

    def thresholds(cls: Any, gate: str) -> Any:
        raw = gates.get(gate, {})
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})

    return QuantgateConfig(
        path=path,
        baseline=table["baseline"],
        candidates=candidates,
        golden=thresholds(GoldenThresholds, "golden"),
        drift=thresholds(DriftThresholds, "drift"),
        structured_output=thresholds(StructuredThresholds, "structured_output"),
        tool_call=thresholds(ToolCallThresholds, "tool_call"),
        safety=thresholds(SafetyThresholds, "safety"),
        rag_faithfulness=thresholds(RagThresholds, "rag_faithfulness"),
        long_context=thresholds(LongContextThresholds, "long_context"),
        latency=_latency(gates.get("latency", {}), path),
        canary=thresholds(CanaryThresholds, "canary"),
        cache_dir=_resolve(path, table.get("cache_dir")),
        snapshot_dir=_resolve(path, table.get("snapshot_dir")),
    )


def _latency(raw: Mapping[str, Any], path: Path) -> LatencyThresholds:
    thresholds = LatencyThresholds(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})
    if not thresholds.concurrency and not thresholds.request_rates:
        raise ConfigError(f"invalid quantgate config in {path}:\n  key gates.latency: give concurrency levels or request_rates")
    return thresholds


def load(rootdir: Path, explicit: str | None = None) -> QuantgateConfig:
    path, table = find_config(rootdir, explicit)
    return parse(table, path)


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
        from .models import demo_variants, split_variant

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
    return str(model_path)
