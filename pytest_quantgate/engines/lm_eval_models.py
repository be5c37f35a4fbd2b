"""An engine as an lm-evaluation-harness model, so lm-eval's own model code scores its tasks.

A transformers candidate is lm-eval's `HFLM` over the engine's loaded (quantized) model and
tokenizer, with its quantized KV cache passed to `generate` as the engine passes it; any other
candidate is lm-eval's `local-chat-completions` model against the candidate's served endpoint
(the runtime's own server, as `vllm serve` or llama.cpp's server serve it; the server applies
the model's chat template). Both models of a
comparison therefore run through the same lm-eval model kind on their own engines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from ..config import CandidateSpec
from .base import Engine, EngineUnavailable

if TYPE_CHECKING:
    from .serving import ServedModel


@dataclass(frozen=True)
class LmEvalModel:
    """lm-eval's model object and the generation kwargs every generative task must add."""

    lm: Any
    kind: str  # what lm-eval calls the model class: "hf" or "local-chat-completions"
    gen_kwargs: Mapping[str, Any] = field(default_factory=dict)


def require_lm_eval() -> None:
    try:
        import lm_eval  # noqa: F401
    except ImportError as exc:
        raise EngineUnavailable(f"the lm_eval gate needs lm-evaluation-harness: pip install 'pytest-quantgate[lm-eval]' ({exc})") from exc


def lm_eval_model(
    spec: CandidateSpec, engine: Callable[[], Engine], served: Callable[[], "ServedModel"], batch_size: int | None, chat: bool
) -> LmEvalModel:
    """lm-eval's model for a candidate: HFLM over its transformers engine's model (`engine()`
    loads it once per session), else its endpoint (`served()` starts its runtime's server
    when it has one; the in-process engine is never loaded); `chat`: the tasks are asked
    through the model's chat template."""
    require_lm_eval()
    from .hf import HFEngine

    if spec.engine == "hf":
        from lm_eval.models.huggingface import HFLM

        loaded = engine()
        assert isinstance(loaded, HFEngine)

        lm = HFLM(
            pretrained=loaded.model,
            tokenizer=loaded.tokenizer,
            batch_size=batch_size or spec.generation.batch_size,
            max_length=loaded.tokenizer_facts().max_context,
        )
        return LmEvalModel(lm, "hf", loaded.cache_kwargs())
    return _served_model(served(), batch_size, chat)


def _served_model(model: "ServedModel", batch_size: int | None, chat: bool) -> LmEvalModel:
    """lm-eval's `local-chat-completions` model: the server applies the model's own chat
    template (generative tasks). Raw-prompt tasks over an endpoint would need lm-eval's
    `local-completions` with token-id prompts and echoed prompt log-probs, which llama-cpp-
    python's server does not take; not offered until it is proven on a server that does."""
    from lm_eval.models.openai_completions import LocalChatCompletion

    if not chat:
        raise EngineUnavailable(
            f"{model.name}: a served candidate runs lm-eval tasks through its chat template only "
            "(gates.lm_eval.apply_chat_template = true); raw-prompt and log-likelihood tasks need the hf engine"
        )
    lm = LocalChatCompletion(
        base_url=f"{model.base_url}chat/completions",  # base_url ends in /v1/
        model=model.served_model,
        num_concurrent=4,
        max_retries=1,
        header=dict(model.headers),
    )
    return LmEvalModel(lm, "local-chat-completions")
