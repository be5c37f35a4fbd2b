"""The one interface every engine implements, and the result types gates consume.

Engines know nothing of gates: they turn prompts into `Generation`s and token sequences into
`ScoredSequence`s. Results are plain dataclasses so that they can be recorded as baseline
snapshots and compared with a candidate's without the baseline engine being loaded.
"""

from __future__ import annotations

import hashlib
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, Mapping, Protocol, Sequence, runtime_checkable

from ..config import CandidateSpec, ConfigError
from ..errors import Unavailable

FinishReason = Literal["stop", "length"]
# score(gather=...): per sequence, per position, the token ids whose log-probs are wanted.
Gather = Sequence[Sequence[Sequence[int]]]

# Tokens of context an engine (and its server) gets unless the candidate's runtime sets it.
DEFAULT_CONTEXT = 2048


class EngineUnavailable(Unavailable):
    """The engine or quantization method cannot run here; the gate is skipped with this reason."""


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class GenerationRequest:
    """One greedy generation: a chat (rendered by the model's template) and a token cap.

    `tools` (OpenAI `tools` format) go to the chat template, as a server passes them;
    `tool_choice` (OpenAI's: "auto", "none", "required", {"type": "function", "function":
    {"name": ...}}; a plain function name means that last form) goes to a served model with
    its tools, where a server's tool parser may answer native `tool_calls` (local engines
    render tools with the template and ignore it); `json_schema` (canonical JSON text) asks
    for constrained decoding, on engines that have it.
    """

    messages: tuple[ChatMessage, ...]
    max_new_tokens: int
    tools: tuple[Mapping[str, Any], ...] = ()
    json_schema: str | None = None
    tool_choice: str | Mapping[str, Any] | None = None

    @classmethod
    def chat(
        cls,
        prompt: str,
        max_new_tokens: int,
        system: str | None = None,
        history: Sequence[ChatMessage] = (),
        **options: Any,
    ) -> "GenerationRequest":
        messages = ((ChatMessage("system", system),) if system else ()) + tuple(history) + (ChatMessage("user", prompt),)
        return cls(messages=messages, max_new_tokens=max_new_tokens, **options)

    def record_key(self) -> dict[str, Any]:
        """What the answer depends on, as a baseline record stores it (unused options left
        out, so records made before an option existed stay valid)."""
        key = asdict(self)
        for name, unused in (("tools", ()), ("json_schema", None), ("tool_choice", None)):
            if key[name] == unused:
                del key[name]
        return key


@dataclass(frozen=True)
class TokenLogprobs:
    """The chosen token at one position, its log-probability and the top-k alternatives."""

    token_id: int
    logprob: float
    top: tuple[tuple[int, float], ...]

    def rank_of(self, token_id: int) -> int | None:
        """0-based rank of `token_id` among the recorded top-k, or None if outside it."""
        for rank, (tid, _) in enumerate(self.top):
            if tid == token_id:
                return rank
        return None


@dataclass(frozen=True)
class Timings:
    prompt_tokens: int
    ttft_s: float
    total_s: float


@dataclass(frozen=True)
class Generation:
    text: str
    token_ids: tuple[int, ...]
    logprobs: tuple[TokenLogprobs, ...]
    finish_reason: FinishReason
    timings: Timings

    def to_record(self) -> dict[str, Any]:
        """The parts of a generation that identify the answer (timings are not recorded)."""
        return {
            "text": self.text,
            "token_ids": list(self.token_ids),
            "finish_reason": self.finish_reason,
            "logprobs": [
                {"id": lp.token_id, "lp": round(lp.logprob, 5), "top": [[t, round(p, 5)] for t, p in lp.top]}
                for lp in self.logprobs
            ],
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "Generation":
        return cls(
            text=record["text"],
            token_ids=tuple(record["token_ids"]),
            finish_reason=record["finish_reason"],
            logprobs=tuple(
                TokenLogprobs(lp["id"], lp["lp"], tuple((int(t), float(p)) for t, p in lp["top"]))
                for lp in record["logprobs"]
            ),
            timings=Timings(prompt_tokens=0, ttft_s=0.0, total_s=0.0),
        )


@dataclass(frozen=True)
class ScoredSequence:
    """Teacher-forced scores: position i holds the distribution that predicted token i+1."""

    token_ids: tuple[int, ...]
    logprobs: tuple[TokenLogprobs, ...]
    gathered: tuple[tuple[float, ...], ...] = ()  # log-probs of the ids asked for per position
    # Where the engine can only return its own top-k (vLLM's V1 runner): per position, the
    # smallest log-prob it returned; an id asked for but not returned is NaN in `gathered` and
    # lies at or below this floor. Empty where every id asked for was scored.
    gather_floor: tuple[float, ...] = ()


@dataclass(frozen=True)
class TokenizerFacts:
    """What an engine feeds and stops the model with (the compat gate compares these)."""

    vocab_size: int
    bos_token_id: int | None
    eos_token_ids: tuple[int, ...]
    pad_token_id: int | None
    special_tokens: Mapping[str, str]
    chat_template: str | None
    max_context: int | None
    vocab_sha256: str | None = None  # token strings in id order
    # Sampling the runtime applies unless a request overrides it (e.g. generation_config.json).
    sampling_defaults: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def vocab_digest(tokens: Sequence[str]) -> str:
    """One hash for a vocabulary (token strings in id order, BPE byte-level spelling)."""
    return hashlib.sha256("\n".join(tokens).encode("utf-8", errors="surrogatepass")).hexdigest()


def hf_sampling_defaults(generation_config: Any) -> dict[str, Any]:
    """The sampling a transformers generation_config applies (none unless it samples)."""
    if generation_config is None or not getattr(generation_config, "do_sample", False):
        return {}
    keys = ("temperature", "top_p", "top_k", "min_p", "repetition_penalty")
    return {k: getattr(generation_config, k) for k in keys if getattr(generation_config, k, None) is not None}


@dataclass
class EngineStats:
    """The engine's own time, so the plugin's overhead can be measured against it: whole
    generate() / score() calls (prompt rendering included) and the model's loading."""

    load_s: float = 0.0
    generate_s: float = 0.0
    score_s: float = 0.0
    generate_calls: int = 0
    generated_tokens: int = 0

    def since(self, earlier: "EngineStats") -> "EngineStats":
        """What the engine did after `earlier` (a copy taken then): one gate's share of an
        engine that every gate of the session shares."""
        return EngineStats(**{f.name: getattr(self, f.name) - getattr(earlier, f.name) for f in fields(self)})


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do beyond greedy generation; gates that need more are skipped."""

    guided_json: bool = False  # generate() honours GenerationRequest.json_schema
    teacher_forcing: bool = True  # score() works (an HTTP API has no prompt log-probs)
    # The server (servers.SERVER_KINDS) that serves the same weights with the same runtime
    # flags, for what only serving shows; None: no serving runtime (an openai candidate is
    # an endpoint already).
    serving_runtime: str | None = None
    # The LoRA adapter form the engine applies to its model (`adapter = ...`): "peft" (a
    # PEFT folder), "gguf" (llama.cpp's LoRA GGUF; PEFT folders are converted); None: none.
    adapters: Literal["peft", "gguf"] | None = None


def refuse_quantization(spec: CandidateSpec, instead: str) -> None:
    """For engines whose quantization is the artifact's or the server's: a candidate's
    `quantization` table is a config error, `instead` says where it is set."""
    if not spec.quantization.is_full_precision:
        raise ConfigError(f"key candidates.{spec.name}.quantization: {instead}")


@runtime_checkable
class Engine(Protocol):
    spec: CandidateSpec
    stats: EngineStats
    capabilities: Capabilities
    runtime: dict[str, Any]

    def generate(self, requests: Sequence[GenerationRequest], top_logprobs: int) -> list[Generation]:
        """Greedy generation for every request in as few forward batches as the engine allows."""

    def score(self, sequences: Sequence[Sequence[int]], top_logprobs: int, gather: Gather | None = None) -> list[ScoredSequence]:
        """Teacher-forced log-probabilities of given token sequences; `gather[s][i]` names
        token ids whose log-probs at position i of sequence s are wanted as well."""

    def tokenize(self, text: str) -> list[int]:
        """Token ids of plain text (no special tokens)."""

    def render_chat(self, messages: Sequence[ChatMessage], tools: Sequence[Mapping[str, Any]] = ()) -> list[int]:
        """Token ids the engine feeds the model for a chat, generation prompt included."""

    def tokenizer_facts(self) -> TokenizerFacts: ...

    def close(self) -> None: ...


class EngineBase(ABC):
    """What every engine shares: its candidate, the bookkeeping of its own time (`stats`)
    and the public calls around what each engine implements (`_load`, `_generate`, `_score`).

    A subclass sets `capabilities` and implements the abstract methods; it never touches
    `stats`. A JSON-schema request to an engine without `guided_json` is refused here.
    """

    capabilities: Capabilities

    def __init__(self, spec: CandidateSpec, model_path: Path, adapter_path: Path | None = None) -> None:
        self._prepare(spec)
        if spec.adapter is not None and not self.capabilities.adapters:
            raise EngineUnavailable(
                f"{spec.name}: the {spec.engine} engine does not apply LoRA adapters here; gate the adapter on the hf "
                "engine, or merge it into the weights first (models.lora.merged)"
            )
        self.spec = spec
        self.stats = EngineStats()
        # What actually ran, where the spec cannot say (a library's backend, the weights'
        # size in memory): the report shows it beside the verdicts.
        self.runtime: dict[str, Any] = {}
        started = time.perf_counter()
        self._load(model_path)
        if adapter_path is not None:
            self._apply_adapter(adapter_path)
        self.stats.load_s = time.perf_counter() - started

    @abstractmethod
    def _prepare(self, spec: CandidateSpec) -> None:
        """Before anything loads (and before the load clock starts): raise EngineUnavailable
        for a missing package or method, ConfigError for settings the engine cannot express."""

    @abstractmethod
    def _load(self, model_path: Path) -> None:
        """Load the model (or connect to it); `self.spec` is set."""

    def _apply_adapter(self, adapter_path: Path) -> None:
        """Put the LoRA adapter at `adapter_path` on the loaded model (engines whose
        capabilities say `adapters`)."""
        raise NotImplementedError

    def generate(self, requests: Sequence[GenerationRequest], top_logprobs: int) -> list[Generation]:
        """Greedy generation for every request in as few forward batches as the engine allows."""
        if not self.capabilities.guided_json and any(r.json_schema is not None for r in requests):
            raise EngineUnavailable(f"{self.spec.name} ({self.spec.engine} engine) has no constrained JSON decoding here")
        started = time.perf_counter()
        results = self._generate(requests, top_logprobs)
        self.stats.generate_s += time.perf_counter() - started
        self.stats.generate_calls += 1
        self.stats.generated_tokens += sum(len(g.token_ids) for g in results)
        return results

    @abstractmethod
    def _generate(self, requests: Sequence[GenerationRequest], top_logprobs: int) -> list[Generation]: ...

    def score(self, sequences: Sequence[Sequence[int]], top_logprobs: int, gather: Gather | None = None) -> list[ScoredSequence]:
        """Teacher-forced log-probabilities of given token sequences; `gather[s][i]` names
        token ids whose log-probs at position i of sequence s are wanted as well."""
        started = time.perf_counter()
        results = self._score(sequences, top_logprobs, gather)
        self.stats.score_s += time.perf_counter() - started
        return results

    @abstractmethod
    def _score(self, sequences: Sequence[Sequence[int]], top_logprobs: int, gather: Gather | None) -> list[ScoredSequence]: ...

    @abstractmethod
    def tokenize(self, text: str) -> list[int]:
        """Token ids of plain text (no special tokens)."""

    @abstractmethod
    def render_chat(self, messages: Sequence[ChatMessage], tools: Sequence[Mapping[str, Any]] = ()) -> list[int]:
        """Token ids the engine feeds the model for a chat, generation prompt included."""

    @abstractmethod
    def tokenizer_facts(self) -> TokenizerFacts: ...

    @abstractmethod
    def close(self) -> None: ...
