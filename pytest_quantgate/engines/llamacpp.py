"""The llama.cpp engine (llama-cpp-python) over GGUF files.

Chats are rendered the way llama-cpp-python's own chat completion renders them (the GGUF's
embedded template through its Jinja2 formatter, tokenized with its BOS rule), so a gate sees
the prompt a llama.cpp deployment feeds the model. Decoding is greedy over the full logits,
which also gives exact top-k log-probabilities and teacher-forced scores.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import numpy.typing as npt

from ..config import CandidateSpec, ConfigError
from .base import (
    DEFAULT_CONTEXT as DEFAULT_CONTEXT,  # re-exported: the footprint gate reads it here
)
from .base import (
    Capabilities,
    ChatMessage,
    EngineBase,
    EngineUnavailable,
    FinishReason,
    Gather,
    Generation,
    GenerationRequest,
    ScoredSequence,
    Timings,
    TokenizerFacts,
    TokenLogprobs,
    refuse_quantization,
    vocab_digest,
)

# llama-cpp-python's create_chat_completion() sampling defaults (0.3.x): what a user of its
# chat API gets unless they set them. Reported as generation defaults (compat gate).
CHAT_COMPLETION_DEFAULTS = {"temperature": 0.2, "top_p": 0.95, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.0}
# Llama() arguments a candidate's `runtime` table may set; KV-cache types by ggml name.
RUNTIME_KEYS = frozenset({"n_ctx", "n_batch", "n_threads", "n_threads_batch", "type_k", "type_v", "flash_attn", "seed", "use_mmap"})


def default_threads() -> int:
    """llama.cpp's threads spin-wait: oversubscribed, a 38-token prompt took 7.5 s instead of
    0.16 s here. Leave one core to the test process (and any local server or client)."""
    return max(1, (os.cpu_count() or 2) - 1)


def check_spec(spec: CandidateSpec) -> None:
    where = f"candidates.{spec.name}"
    refuse_quantization(
        spec,
        "the llamacpp engine takes its quantization from the GGUF file "
        "(model = 'demo:smollm2-135m-instruct@gguf-q4_k_m' or a .gguf path) and KV-cache types "
        "from runtime.type_k / runtime.type_v",
    )
    unknown = sorted(set(spec.runtime) - RUNTIME_KEYS)
    if unknown:
        raise ConfigError(f"unknown key {where}.runtime.{unknown[0]}; allowed keys: {', '.join(sorted(RUNTIME_KEYS))}")


def llama_options(spec: CandidateSpec) -> dict[str, Any]:
    """Llama() arguments from the candidate's runtime table (KV-cache types by ggml name),
    with this machine's defaults; llama.cpp's server takes the same names as flags."""
    options = dict(spec.runtime)
    for key in ("type_k", "type_v"):
        if isinstance(options.get(key), str):
            import llama_cpp

            name = f"GGML_TYPE_{options[key].upper()}"
            if not hasattr(llama_cpp, name):
                raise ConfigError(f"key candidates.{spec.name}.runtime.{key}: unknown ggml type {options[key]!r}")
            options[key] = getattr(llama_cpp, name)
    options.setdefault("n_ctx", DEFAULT_CONTEXT)
    options.setdefault("n_threads", default_threads())
    options.setdefault("n_threads_batch", options["n_threads"])
    return options


def _log_softmax(logits: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    values = logits.astype(np.float64)
    shifted = values - values.max(axis=-1, keepdims=True)
    result: npt.NDArray[np.float64] = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return result


def _top(logprobs: npt.NDArray[np.float64], k: int) -> tuple[tuple[int, float], ...]:
    ids = np.argpartition(-logprobs, k)[:k]
    ids = ids[np.argsort(-logprobs[ids], kind="stable")]
    return tuple((int(i), float(logprobs[i])) for i in ids)


class LlamaCppEngine(EngineBase):
    # llama.cpp grammars are not wired into the greedy loop; llama-cpp-python's server serves it.
    capabilities = Capabilities(guided_json=False, serving_runtime="llamacpp", adapters="gguf")

    def _prepare(self, spec: CandidateSpec) -> None:
        try:
            import llama_cpp  # noqa: F401
            from llama_cpp import llama_chat_format  # noqa: F401
        except ImportError as exc:
            raise EngineUnavailable(f"the llamacpp engine needs llama-cpp-python: {exc}") from exc
        check_spec(spec)

    def _load(self, model_path: Path) -> None:
        import llama_cpp
        from llama_cpp import llama_chat_format

        self._model_path = model_path
        self.llm: Any = self._open()
        self._formatter = self._chat_formatter(llama_chat_format)
        model = self.llm._model  # the vocabulary digest walks 49k tokens: once, not per call
        self._vocab_sha256 = vocab_digest([model.token_get_text(i) for i in range(self.llm.n_vocab())])
        self._eos_ids = frozenset(self.tokenizer_facts().eos_token_ids)

    def _open(self, **extra: Any) -> Any:
        import llama_cpp

        return llama_cpp.Llama(model_path=str(self._model_path), logits_all=True, verbose=False, **llama_options(self.spec), **extra)

    def _apply_adapter(self, adapter_path: Path) -> None:
        """llama-cpp-python applies a LoRA GGUF when it creates the context (`lora_path`, as
        llama.cpp's `--lora`): the model is opened again with it (mapped, so the weights are
        not read twice)."""
        self.llm.close()
        try:
            self.llm = self._open(lora_path=str(adapter_path))
        except (RuntimeError, ValueError) as exc:
            raise EngineUnavailable(f"{self.spec.name}: llama.cpp cannot apply the LoRA {adapter_path.name} to this GGUF: {exc}") from exc
        self.runtime["adapter"] = {"path": str(adapter_path), "served_as": "llama.cpp LoRA GGUF (lora_path)"}

    # -- chat rendering, as llama-cpp-python's create_chat_completion does it --------------
    def _chat_formatter(self, llama_chat_format: Any) -> Any:
        template = self.llm.metadata.get("tokenizer.chat_template")
        guessed = llama_chat_format.guess_chat_format_from_gguf_metadata(self.llm.metadata)
        if guessed is not None:  # a named built-in format replaces the GGUF's template
            return getattr(llama_chat_format, f"format_{guessed.replace('-', '_')}")
        if template is None:
            raise EngineUnavailable(f"{self.spec.name}: the GGUF has no chat template (tokenizer.chat_template)")
        model = self.llm._model
        return llama_chat_format.Jinja2ChatFormatter(
            template=template,
            eos_token=model.token_get_text(self.llm.token_eos()),
            bos_token=model.token_get_text(self.llm.token_bos()),
            stop_token_ids=[self.llm.token_eos()],
        )

    def render_chat(self, messages: Sequence[ChatMessage], tools: Sequence[Mapping[str, Any]] = ()) -> list[int]:
        result = self._formatter(
            messages=[{"role": m.role, "content": m.content} for m in messages],
            **({"tools": [dict(t) for t in tools]} if tools else {}),
        )
        return list(self.llm.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True))

    # -- generation ----------------------------------------------------------------------
    def _eval(self, tokens: Sequence[int], reset: bool) -> None:
        if reset:
            self.llm.reset()
        self.llm.eval(list(tokens))

    def _next_logprobs(self) -> npt.NDArray[np.float64]:
        return _log_softmax(np.asarray(self.llm.scores[self.llm.n_tokens - 1]))

    def _generate(self, requests: Sequence[GenerationRequest], top_logprobs: int) -> list[Generation]:
        return [self._generate_one(r, top_logprobs) for r in requests]

    def _generate_one(self, request: GenerationRequest, top_k: int) -> Generation:
        prompt = self.render_chat(request.messages, request.tools)
        limit = self.llm.n_ctx() - len(prompt)
        started = time.perf_counter()
        self._eval(prompt, reset=True)
        ttft = time.perf_counter() - started
        ids: list[int] = []
        steps: list[TokenLogprobs] = []
        finish: FinishReason = "length"
        while len(ids) < min(request.max_new_tokens, limit):
            logprobs = self._next_logprobs()
            token = int(np.argmax(logprobs))
            ids.append(token)
            steps.append(TokenLogprobs(token, float(logprobs[token]), _top(logprobs, top_k)))
            if token in self._eos_ids:
                finish = "stop"
                break
            self._eval([token], reset=False)
        elapsed = time.perf_counter() - started
        text_ids = [t for t in ids if t not in self._eos_ids]
        return Generation(
            text=self.llm.detokenize(text_ids).decode("utf-8", errors="replace"),
            token_ids=tuple(ids),
            logprobs=tuple(steps),
            finish_reason=finish,
            timings=Timings(prompt_tokens=len(prompt), ttft_s=ttft, total_s=elapsed),
        )

    # -- teacher-forced scoring ----------------------------------------------------------
    def tokenize(self, text: str) -> list[int]:
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _score(self, sequences: Sequence[Sequence[int]], top_logprobs: int, gather: Gather | None) -> list[ScoredSequence]:
        results = []
        for index, seq in enumerate(sequences):
            self._eval(seq, reset=True)
            logprobs = _log_softmax(np.asarray(self.llm.scores[: len(seq) - 1]))
            steps = tuple(
                TokenLogprobs(int(seq[pos + 1]), float(logprobs[pos, seq[pos + 1]]), _top(logprobs[pos], top_logprobs))
                for pos in range(len(seq) - 1)
            )
            gathered = (
                tuple(tuple(float(logprobs[pos, i]) for i in ids) for pos, ids in enumerate(gather[index]))
                if gather
                else ()
            )
            results.append(ScoredSequence(tuple(seq), steps, gathered))
        return results

    # -- facts ---------------------------------------------------------------------------
    def tokenizer_facts(self) -> TokenizerFacts:
        llm, model = self.llm, self.llm._model
        eos = [llm.token_eos()]
        eot = model.token_eot() if hasattr(model, "token_eot") else -1
        if eot is not None and eot >= 0:
            eos.append(eot)
        pad = self.llm.metadata.get("tokenizer.ggml.padding_token_id")
        specials = {
            "bos_token": model.token_get_text(llm.token_bos()),
            "eos_token": model.token_get_text(llm.token_eos()),
            **({"pad_token": model.token_get_text(int(pad))} if pad is not None else {}),
        }
        return TokenizerFacts(
            vocab_size=llm.n_vocab(),
            bos_token_id=llm.token_bos(),
            eos_token_ids=tuple(dict.fromkeys(eos)),
            pad_token_id=int(pad) if pad is not None else None,
            special_tokens=specials,
            chat_template=self.llm.metadata.get("tokenizer.chat_template"),
            max_context=self.llm.n_ctx(),
            vocab_sha256=self._vocab_sha256,
            # What its create_chat_completion (and its OpenAI server) samples with by default.
            sampling_defaults=dict(CHAT_COMPLETION_DEFAULTS),
        )

    def close(self) -> None:
        if self.llm is not None:
            self.llm.close()
            self.llm = None
