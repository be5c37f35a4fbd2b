"""An engine as an lm-evaluation-harness model, so lm-eval's own model code scores its tasks.

A transformers candidate is lm-eval's `HFLM` over the engine's loaded (quantized) model and
tokenizer, with its quantized KV cache passed to `generate` as the engine passes it; any other
candidate is lm-eval's `local-completions` model against the candidate's served endpoint (the
runtime's own server, as `vllm serve` or llama.cpp's server serve it). Both models of a
comparison therefore run through the same lm-eval model kind on their own engines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from .base import Engine, EngineUnavailable

if TYPE_CHECKING:
    from .serving import ServedModel


@dataclass(frozen=True)
class LmEvalModel:
    """lm-eval's model object and the generation kwargs every generative task must add."""

    lm: Any
    kind: str  # "hf" or "local-completions": what lm-eval calls the model class
    gen_kwargs: Mapping[str, Any] = field(default_factory=dict)


def require_lm_eval() -> None:
    try:
        import lm_eval  # noqa: F401
    except ImportError as exc:
        raise EngineUnavailable(f"the lm_eval gate needs lm-evaluation-harness: pip install 'pytest-quantgate[lm-eval]' ({exc})") from exc


def lm_eval_model(engine: Engine, served: Callable[[], "ServedModel"], batch_size: int | None) -> LmEvalModel:
    """lm-eval's model for `engine`: HFLM over a transformers engine's model, else the
    candidate's endpoint (`served()` starts its runtime's server when it has one)."""
    require_lm_eval()
    from .hf import HFEngine

    if isinstance(engine, HFEngine):
        from lm_eval.models.huggingface import HFLM

        lm = HFLM(
            pretrained=engine.model,
            tokenizer=engine.tokenizer,
            batch_size=batch_size or engine.spec.generation.batch_size,
            max_length=engine.tokenizer_facts().max_context,
        )
        return LmEvalModel(lm, "hf", engine.cache_kwargs())
    return _completions_model(served(), batch_size)


def _completions_model(model: "ServedModel", batch_size: int | None) -> LmEvalModel:
    from lm_eval.models.openai_completions import LocalCompletionsAPI

    if model.model_path is None:
        raise EngineUnavailable(
            f"{model.name}: lm-eval's local-completions model needs the served model's tokenizer; "
            "give the candidate the weights' path (model = ...)"
        )
    lm = LocalCompletionsAPI(
        base_url=f"{model.base_url}v1/completions",
        model=model.served_model,
        tokenizer_backend="huggingface",
        tokenizer=str(model.model_path),
        batch_size=batch_size or 1,
        num_concurrent=4,
        max_retries=1,
        header=dict(model.headers),
    )
    return LmEvalModel(lm, "local-completions")
