"""What engines that read a Hugging Face tokenizer share (hf, vllm, openai): the chat
rendering a server applies and the facts the compat gate compares."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from .base import (
    ChatMessage,
    EngineBase,
    EngineUnavailable,
    TokenizerFacts,
    vocab_digest,
)


def load_tokenizer(model_path: Path) -> Any:
    """The tokenizer of local weights: a checkpoint folder, or a GGUF file (transformers
    reads the tokenizer a GGUF embeds)."""
    try:
        from transformers import AutoTokenizer
    except ImportError as exc:
        raise EngineUnavailable(f"the openai engine reads the model's tokenizer with transformers: {exc}") from exc
    if model_path.is_file():  # a GGUF: transformers reads its tokenizer
        return AutoTokenizer.from_pretrained(str(model_path.parent), gguf_file=model_path.name)
    return AutoTokenizer.from_pretrained(str(model_path))


def render_chat(tokenizer: Any, messages: Sequence[ChatMessage], tools: Sequence[Mapping[str, Any]] = ()) -> list[int]:
    """Token ids of a chat with the generation prompt, tools passed as a server passes them."""
    rendered = tokenizer.apply_chat_template(
        [{"role": m.role, "content": m.content} for m in messages],
        tools=[dict(t) for t in tools] or None,
        add_generation_prompt=True,
        tokenize=True,
        return_dict=True,
    )
    return list(rendered["input_ids"])


def tokenizer_facts(
    tokenizer: Any,
    config_eos: int | list[int] | tuple[int, ...] | None,
    max_context: int | None,
    sampling_defaults: Mapping[str, Any],
) -> TokenizerFacts:
    """Facts of a Hugging Face tokenizer; `config_eos` is the model's generation/config EOS."""
    eos = list(config_eos) if isinstance(config_eos, (list, tuple)) else [config_eos] if config_eos is not None else []
    if tokenizer.eos_token_id is not None:
        eos.append(tokenizer.eos_token_id)
    return TokenizerFacts(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_ids=tuple(dict.fromkeys(eos)),
        pad_token_id=tokenizer.pad_token_id,
        special_tokens={k: str(v) for k, v in tokenizer.special_tokens_map.items()},
        chat_template=tokenizer.chat_template,
        max_context=max_context,
        vocab_sha256=vocab_digest(tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))),
        sampling_defaults=dict(sampling_defaults),
    )


class HFTokenizerEngine(EngineBase):
    """An engine that tokenizes and renders chats with a Hugging Face tokenizer (`tokenizer`,
    set by `_load`; a transformers tokenizer, untyped upstream)."""

    tokenizer: Any

    def tokenize(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def render_chat(self, messages: Sequence[ChatMessage], tools: Sequence[Mapping[str, Any]] = ()) -> list[int]:
        return render_chat(self.tokenizer, messages, tools)
