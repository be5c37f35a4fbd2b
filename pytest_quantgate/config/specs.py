"""What the config declares: candidates (engine, weights, quantization, runtime flags) and
the run's settings. Plain frozen dataclasses; `loading.py` builds them from TOML."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from ..errors import ConfigError
from ..redaction import redact_spec

DEMO_MODEL = "demo:smollm2-135m-instruct"


@dataclass(frozen=True)
class WeightQuant:
    method: str
    dtype: str
    # bitsandbytes 4-bit only: the dtype its matmuls compute in, and double quantization of
    # the block scales. Unset keys stay out of the fingerprint (older records stay valid).
    compute_dtype: str | None = None
    double_quant: bool | None = None


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
    # Requests per forward pass (hf engine). Decoding a small model on a CPU reads every weight
    # once a step, so wider batches are nearly free: 32 decodes the demo's golden set 2.1x faster
    # than 8, with the same tokens (benchmarks/batch_size.py). A throughput knob, not part of
    # the fingerprint.
    batch_size: int = 32


@dataclass(frozen=True)
class Endpoint:
    """Where an `openai` candidate is served; `model` is the served name (default: the
    candidate's name). Headers route a canary by route or tenant."""

    base_url: str
    model: str | None = None
    api_key_env: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # Header values read from the environment when requests are made: {"X-Api-Key": "GATEWAY_KEY"}.
    headers_env: Mapping[str, str] = field(default_factory=dict)
    timeout_s: float = 120.0
    # Requests in flight per gate call. A server that reuses the previous prompt's KV cache
    # (llama.cpp's) answers in an order-dependent way under concurrency: 1 makes its answers
    # reproducible run to run.
    concurrency: int = 8
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
        """The spec as the plugin writes it (reports, manifests): header values, URL user info
        and token-like query parameters masked; environment variables are named, never read."""
        return redact_spec(asdict(self))

    def flags(self) -> dict[str, Any]:
        """What, besides the weights, decides this model's outputs (part of its fingerprint)."""
        data = self.to_dict()
        for key in ("name", "baseline", "description", "model", "requires"):
            data.pop(key)
        data["generation"].pop("batch_size")  # throughput only: the same answers at any width
        for key, unset in (("endpoint", None), ("adapter", None), ("server", None), ("server_args", ())):
            if data[key] == unset:  # absent when unset: older records stay valid
                del data[key]
        if data["quantization"]["weights"]:  # unset optional keys stay out: older records stay valid
            data["quantization"]["weights"] = {k: v for k, v in data["quantization"]["weights"].items() if v is not None}
        if self.endpoint is not None:  # where it is served does not change its answers
            data["endpoint"] = {"model": self.endpoint.model}
        return data


@dataclass(frozen=True)
class QuantgateConfig:
    path: Path
    baseline: str
    candidates: Mapping[str, CandidateSpec]
    # Each gate's settings (its dataclass from the gate registry), by gate name.
    gates: Mapping[str, Any] = field(default_factory=dict)
    cache_dir: Path | None = None
    snapshot_dir: Path | None = None

    def thresholds(self, gate: str) -> Any:
        """The settings of `gate` ([gates.<gate>] over the gate's defaults)."""
        try:
            return self.gates[gate]
        except KeyError:
            raise ConfigError(f"gate {gate!r} is not registered; registered: {', '.join(self.gates)}") from None

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


