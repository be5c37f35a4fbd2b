"""The transformers engine: CPU or GPU, with torchao / optimum-quanto weight and activation
quantization and transformers' quantized KV cache (quanto backend)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

from ..config import CandidateSpec, ConfigError
from ..config.specs import WeightQuant
from . import hf_tokenizer
from .base import (
    Capabilities,
    EngineUnavailable,
    FinishReason,
    Gather,
    Generation,
    GenerationRequest,
    ScoredSequence,
    Timings,
    TokenizerFacts,
    TokenLogprobs,
    hf_sampling_defaults,
)
from .batching import length_batches


RUNTIME_KEYS = ("from_pretrained",)  # extra from_pretrained() keyword arguments (a table)
# Weight dtypes each quantization method takes on this engine.
WEIGHT_DTYPES = {"torchao": ("int8",), "quanto": ("int8", "int4", "float8"), "bitsandbytes": ("int8", "nf4", "fp4")}


def check_spec(spec: CandidateSpec) -> None:
    """Reject runtime keys and quantization settings this engine cannot express, before
    anything loads."""
    unknown = sorted(set(spec.runtime) - set(RUNTIME_KEYS))
    if unknown:
        raise ConfigError(
            f"unknown key candidates.{spec.name}.runtime.{unknown[0]}; the hf engine takes: "
            f"{', '.join(RUNTIME_KEYS)} (a table of from_pretrained() arguments)"
        )
    if not isinstance(spec.runtime.get("from_pretrained", {}), dict):
        raise ConfigError(f"key candidates.{spec.name}.runtime.from_pretrained: expected a table of from_pretrained() arguments")
    q = spec.quantization
    where = f"candidates.{spec.name}.quantization"
    if q.weights:
        allowed = WEIGHT_DTYPES[q.weights.method]
        if q.weights.dtype not in allowed:
            raise ConfigError(
                f"key {where}.weights.dtype: the hf engine's {q.weights.method} weights take dtype "
                f"{' / '.join(allowed)}; got {q.weights.dtype!r} ("
                + "; ".join(f"{m}: {', '.join(d)}" for m, d in WEIGHT_DTYPES.items()) + ")"
            )
        four_bit = q.weights.method == "bitsandbytes" and q.weights.dtype in ("nf4", "fp4")
        for key in ("compute_dtype", "double_quant"):
            if getattr(q.weights, key) is not None and not four_bit:
                raise ConfigError(
                    f"key {where}.weights.{key}: only bitsandbytes 4-bit weights (dtype nf4 or fp4) take it; remove it"
                )
    if q.activations and not (q.weights and q.weights.method == "torchao"):
        raise ConfigError(
            f"key {where}.activations: int8 dynamic activations need torchao int8 weights "
            "(weights = {method = 'torchao', dtype = 'int8'})"
        )


def _quantization_config(spec: CandidateSpec) -> Any:
    q = spec.quantization
    if q.weights is None:
        return None
    try:
        if q.weights.method == "torchao":
            from torchao.quantization import (
                Int8DynamicActivationInt8WeightConfig,
                Int8WeightOnlyConfig,
            )
            from transformers import TorchAoConfig

            scheme = Int8DynamicActivationInt8WeightConfig() if q.activations else Int8WeightOnlyConfig()
            return TorchAoConfig(scheme)
        if q.weights.method == "bitsandbytes":
            return _bitsandbytes_config(q.weights, spec.dtype)
        from transformers import QuantoConfig

        return QuantoConfig(weights=q.weights.dtype)
    except ImportError as exc:
        extra = "pip install 'pytest-quantgate[bitsandbytes]'" if q.weights.method == "bitsandbytes" else "pip install 'pytest-quantgate[hf]'"
        raise EngineUnavailable(f"{q.weights.method} is not installed ({extra}): {exc}") from exc


def _bitsandbytes_config(weights: WeightQuant, dtype: str) -> Any:
    """LLM.int8() or 4-bit NF4/FP4; 4-bit matmuls compute in `compute_dtype` (default: the
    candidate's dtype, so a float32 demo computes in float32)."""
    import bitsandbytes  # noqa: F401  (transformers checks it too, with a less direct message)
    import torch
    from transformers import BitsAndBytesConfig

    if weights.dtype == "int8":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=weights.dtype,
        bnb_4bit_compute_dtype=getattr(torch, weights.compute_dtype or dtype),
        bnb_4bit_use_double_quant=bool(weights.double_quant),
    )


def bitsandbytes_backend() -> dict[str, Any]:
    """Which bitsandbytes code runs here: its native library or the PyTorch fallback, and
    the int8 matmul (bitsandbytes registers torch._int_mm on CPU only with AVX-512; without
    it LLM.int8 runs a pure-PyTorch path several times slower than float32)."""
    import bitsandbytes
    import torch
    from bitsandbytes import cextension

    cpu = not torch.cuda.is_available()
    capability = torch.backends.cpu.get_cpu_capability() if cpu else None
    return {
        "version": bitsandbytes.__version__,
        "device": cextension.BNB_BACKEND,
        "native_library": not isinstance(cextension.lib, cextension.ErrorHandlerMockBNBNativeLibrary),
        "cpu_capability": capability,
        "int8_matmul": ("torch._int_mm" if capability == "AVX512" else "pure PyTorch fallback (no AVX-512)") if cpu else "CUDA kernels",
    }


def _load_model(spec: CandidateSpec, model_dir: Path) -> Any:
    """The causal LM, quantized as the candidate says (a transformers model, untyped here:
    its own annotations do not cover generate() with quantized caches and streamers)."""
    import torch
    from transformers import AutoModelForCausalLM

    # Only a candidate's own quantization is passed: `quantization_config=None` would override
    # the one a pre-quantized checkpoint declares (compressed-tensors, GPTQ, AWQ), whose packed
    # weights were then dropped and its layers left at random initialisation.
    quantization = _quantization_config(spec)
    model, info = AutoModelForCausalLM.from_pretrained(
        str(model_dir),
        dtype=getattr(torch, spec.dtype),
        output_loading_info=True,
        **({"quantization_config": quantization} if quantization is not None else {}),
        **dict(spec.runtime.get("from_pretrained", {})),
    )
    missing = sorted(info.get("missing_keys") or ())
    if missing:
        shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        raise EngineUnavailable(
            f"{model_dir}: transformers found no weights for {shown} (they would run at random "
            "initialisation); is the checkpoint complete, and its quantization format one transformers "
            "loads (for compressed-tensors: pip install compressed-tensors)?"
        )
    return model


class _StepClock:
    """A generate() streamer that timestamps each decoding step (first put is the prompt)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.steps: list[float] = []

    def put(self, value: Any) -> None:
        self.steps.append(time.perf_counter())

    def end(self) -> None:
        pass

    @property
    def ttft_s(self) -> float:
        return (self.steps[1] if len(self.steps) > 1 else self.start) - self.start


class HFEngine(hf_tokenizer.HFTokenizerEngine):
    # guided JSON through xgrammar's transformers logits processor; adapters through peft
    capabilities = Capabilities(guided_json=True, adapters="peft")

    def _prepare(self, spec: CandidateSpec) -> None:
        try:
            import torch  # noqa: F401
            import transformers  # noqa: F401
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise EngineUnavailable(f"the hf engine needs torch and transformers: {exc}") from exc
        check_spec(spec)

    def _load(self, model_dir: Path) -> None:
        import torch
        from transformers import AutoTokenizer

        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.model = _load_model(self.spec, model_dir)
        self.model.eval()
        self.runtime["weights_bytes"] = int(self.model.get_memory_footprint())
        weights = self.spec.quantization.weights
        if weights is not None and weights.method == "bitsandbytes":
            self.runtime["bitsandbytes"] = bitsandbytes_backend()
        self._eos_ids = frozenset(self.tokenizer_facts().eos_token_ids)
        self._grammar_compiler: Any = None

    def _apply_adapter(self, adapter_path: Path) -> None:
        """The LoRA adapter on the (quantized) model, unmerged, as peft serves it: its
        low-rank update runs in the adapter's dtype beside the quantized base layers."""
        try:
            from peft import PeftModel
        except ImportError as exc:
            raise EngineUnavailable(f"applying a LoRA adapter needs peft (pip install 'pytest-quantgate[adapters]'): {exc}") from exc
        try:
            self.model = PeftModel.from_pretrained(self.model, str(adapter_path), is_trainable=False)
        except (ValueError, NotImplementedError, TypeError) as exc:  # e.g. a quantized layer peft cannot wrap
            raise EngineUnavailable(f"peft cannot apply the adapter {adapter_path.name} to this base: {exc}") from exc
        self.model.eval()
        config = self.model.peft_config["default"]
        self.runtime["adapter"] = {"path": str(adapter_path), "r": config.r, "lora_alpha": config.lora_alpha,
                                   "target_modules": sorted(config.target_modules or ())}

    # -- generation ---------------------------------------------------------------------
    def cache_kwargs(self) -> dict[str, Any]:
        """What `generate` needs for the candidate's quantized KV cache (none without one)."""
        kv = self.spec.quantization.kv_cache
        if kv is None:
            return {}
        cache_config: dict[str, Any] = {"backend": kv.method, "nbits": kv.bits}
        if kv.residual_length is not None:
            cache_config["residual_length"] = kv.residual_length
        return {"cache_implementation": "quantized", "cache_config": cache_config}

    def _generate(self, requests: Sequence[GenerationRequest], top_logprobs: int) -> list[Generation]:
        prompts = [self.render_chat(r.messages, r.tools) for r in requests]
        results: dict[int, Generation] = {}
        # Constrained and free requests go in separate batches: a grammar masks every row.
        for guided in (False, True):
            indices = [i for i, r in enumerate(requests) if (r.json_schema is not None) == guided]
            for batch in length_batches([len(prompts[i]) for i in indices], self.spec.generation.batch_size):
                chunk = [indices[b] for b in batch]
                answers = self._generate_batch([requests[i] for i in chunk], [prompts[i] for i in chunk], top_logprobs)
                results.update(zip(chunk, answers))
        return [results[i] for i in range(len(requests))]

    def _grammar(self, requests: Sequence[GenerationRequest]) -> list[Any]:
        """xgrammar's logits processor for a batch of JSON-schema requests (none when free)."""
        if requests[0].json_schema is None:
            return []
        try:
            import xgrammar
            from xgrammar.contrib.hf import LogitsProcessor
        except ImportError as exc:
            raise EngineUnavailable(f"guided JSON on the hf engine needs xgrammar: {exc}") from exc
        if self._grammar_compiler is None:
            info = xgrammar.TokenizerInfo.from_huggingface(self.tokenizer, vocab_size=self.model.config.vocab_size)
            self._grammar_compiler = xgrammar.GrammarCompiler(info)
        compiled = [self._grammar_compiler.compile_json_schema(r.json_schema) for r in requests]
        return [LogitsProcessor(compiled)]

    def _generate_batch(self, requests: Sequence[GenerationRequest], prompts: Sequence[list[int]], top_k: int) -> list[Generation]:
        torch = self._torch
        batch = self.tokenizer.pad({"input_ids": prompts}, return_tensors="pt")
        max_new = max(r.max_new_tokens for r in requests)
        clock = _StepClock()
        started = time.perf_counter()
        with torch.no_grad():
            out = self.model.generate(
                **batch,
                max_new_tokens=max_new,
                do_sample=False,
                num_beams=1,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=self.tokenizer.pad_token_id,
                return_dict_in_generate=True,
                output_logits=True,
                streamer=clock,
                logits_processor=self._grammar(requests) or None,
                **self.cache_kwargs(),
            )
        elapsed = time.perf_counter() - started
        logprobs = torch.stack(out.logits, dim=1).float().log_softmax(dim=-1)  # [batch, steps, vocab]
        top_values, top_ids = logprobs.topk(top_k, dim=-1)
        new_tokens = out.sequences[:, batch["input_ids"].shape[1] :]
        results = []
        for row, request in enumerate(requests):
            ids: list[int] = new_tokens[row, : request.max_new_tokens].tolist()
            finish: FinishReason = "length"
            for pos, tid in enumerate(ids):
                if tid in self._eos_ids:
                    ids, finish = ids[: pos + 1], "stop"
                    break
            steps = []
            for pos, tid in enumerate(ids):
                steps.append(
                    TokenLogprobs(
                        token_id=tid,
                        logprob=float(logprobs[row, pos, tid]),
                        top=tuple(zip(top_ids[row, pos].tolist(), top_values[row, pos].tolist())),
                    )
                )
            results.append(
                Generation(
                    text=self.tokenizer.decode(ids, skip_special_tokens=True),
                    token_ids=tuple(ids),
                    logprobs=tuple(steps),
                    finish_reason=finish,
                    timings=Timings(
                        prompt_tokens=len(prompts[row]), ttft_s=clock.ttft_s, total_s=elapsed
                    ),
                )
            )
        return results

    # -- teacher-forced scoring ----------------------------------------------------------
    # Tokens fed per forward pass after the first half of a sequence, when the KV cache is
    # quantized: later tokens then attend to the quantized keys and values, as in serving.
    KV_SCORE_CHUNK = 16

    def _score(self, sequences: Sequence[Sequence[int]], top_logprobs: int, gather: Gather | None) -> list[ScoredSequence]:
        results: dict[int, ScoredSequence] = {}
        by_length: dict[int, list[int]] = {}
        for index, seq in enumerate(sequences):
            by_length.setdefault(len(seq), []).append(index)
        for length, indices in by_length.items():  # equal lengths batch without padding
            batch_size = self._score_rows(length)
            for begin in range(0, len(indices), batch_size):
                chunk = indices[begin : begin + batch_size]
                scored = self._score_batch(
                    [sequences[i] for i in chunk], top_logprobs, [gather[i] for i in chunk] if gather else None
                )
                results.update(zip(chunk, scored))
        return [results[i] for i in range(len(sequences))]

    # Full-vocabulary log-probs of a scored batch (and their log-softmax copy) stay under this.
    SCORE_LOGITS_BYTES = 1 << 30

    def _score_rows(self, length: int) -> int:
        """Sequences of `length` tokens per forward pass: the batch size, fewer where their
        full-vocabulary log-probs would pass SCORE_LOGITS_BYTES (long windows, big vocabularies)."""
        per_row = length * self.model.config.vocab_size * 4 * 2
        return max(1, min(self.spec.generation.batch_size, self.SCORE_LOGITS_BYTES // per_row))

    def _forward_logprobs(self, input_ids: Any) -> Any:
        torch = self._torch
        kv = self.spec.quantization.kv_cache
        with torch.no_grad():
            if kv is None:
                logits = self.model(input_ids=input_ids).logits
            else:
                from transformers import QuantizedCache

                cache = QuantizedCache(
                    backend=kv.method, config=self.model.config, nbits=kv.bits, residual_length=kv.residual_length
                )
                length = input_ids.shape[1]
                bounds = [0, *range(max(length // 2, 1), length, self.KV_SCORE_CHUNK), length]
                logits = torch.cat(
                    [
                        self.model(input_ids=input_ids[:, a:b], past_key_values=cache, use_cache=True).logits
                        for a, b in zip(bounds, bounds[1:])
                    ],
                    dim=1,
                )
            return logits.float().log_softmax(dim=-1)[:, :-1]  # position i predicts token i+1

    def _score_batch(self, sequences: Sequence[Sequence[int]], top_k: int, gather: Gather | None) -> list[ScoredSequence]:
        torch = self._torch
        input_ids = torch.tensor([list(s) for s in sequences])
        logprobs = self._forward_logprobs(input_ids)  # [batch, length-1, vocab]
        targets = input_ids[:, 1:]
        chosen = logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1).tolist()
        top_values, top_ids = (t.tolist() for t in logprobs.topk(top_k, dim=-1))
        gathered = self._gather(logprobs, gather) if gather else None
        results = []
        for row, seq in enumerate(sequences):
            steps = tuple(
                TokenLogprobs(seq[pos + 1], chosen[row][pos], tuple(zip(top_ids[row][pos], top_values[row][pos])))
                for pos in range(len(seq) - 1)
            )
            results.append(ScoredSequence(tuple(seq), steps, gathered[row] if gathered else ()))
        return results

    def _gather(self, logprobs: Any, gather: Gather) -> list[tuple[tuple[float, ...], ...]]:
        """Log-probs of requested token ids per position (empty where none were requested)."""
        torch = self._torch
        width = max((len(ids) for per_seq in gather for ids in per_seq), default=0)
        index = torch.zeros((*logprobs.shape[:2], max(width, 1)), dtype=torch.long)
        for row, per_seq in enumerate(gather):
            for pos, ids in enumerate(per_seq):
                if ids:
                    index[row, pos, : len(ids)] = torch.tensor(ids)
        values = logprobs.gather(-1, index).tolist()
        return [
            tuple(tuple(values[row][pos][: len(ids)]) for pos, ids in enumerate(per_seq))
            for row, per_seq in enumerate(gather)
        ]

    # -- facts ---------------------------------------------------------------------------
    def tokenizer_facts(self) -> TokenizerFacts:
        config = self.model.generation_config
        return hf_tokenizer.tokenizer_facts(
            self.tokenizer,
            config.eos_token_id,
            getattr(self.model.config, "max_position_embeddings", None),
            hf_sampling_defaults(config),
        )

    def close(self) -> None:
        self.model = None
        self.tokenizer = None
        import gc

        gc.collect()
