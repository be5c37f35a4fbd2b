from __future__ import annotations

from typing import Any, Mapping, Sequence

from ... import models
from ...engines.base import ChatMessage, Engine, GenerationRequest
from ..context import GateContext
from ..golden.cases import GOLDEN, GoldenCase
from ..verdict import GateVerdict
from . import decision


def run(context: GateContext, cases: Sequence[GoldenCase] | None = None) -> GateVerdict:
    """Tokenizer, special tokens, the chat template's rendering of the golden prompts,
    stop ids, sampling defaults, context and any LoRA adapter, baseline vs candidate."""
    chosen = context.cases(GOLDEN, context.config.thresholds("golden"), cases)
    chats = {c.id: c.request(1) for c in chosen}
    chats["multi-turn"] = GenerationRequest.chat(
        chosen[0].prompt, 1, system="You are a terse assistant.",
        history=(ChatMessage("user", "Hello."), ChatMessage("assistant", "Hi.")),
    )
    keys = {"facts": {"probes": decision.TOKENIZER_PROBES, "chats": {cid: r.record_key() for cid, r in chats.items()}}}
    recorded = context.load_or_record(keys, lambda: [_facts(context.baseline_engine(), chats)])
    candidate = _facts(context.candidate_engine(), chats)
    if context.candidate.adapter:
        baseline_model = models.resolve(context.baseline.model, context.cache_dir)
        candidate["adapter"] = models.adapter_facts(
            models.resolve_adapter(context.candidate.adapter, context.cache_dir),
            models.resolve(context.candidate.model, context.cache_dir),
            baseline_model,
        )
        if context.baseline.adapter:  # the same adapter on both sides: its settings must match
            served = models.adapter_facts(models.resolve_adapter(context.baseline.adapter, context.cache_dir), baseline_model, baseline_model)
            # A GGUF LoRA converted from the baseline's PEFT adapter may hold it at another
            # precision: that is the candidate's quantization, which the other gates measure.
            same_form = served.get("form") == candidate["adapter"].get("form")
            candidate["adapter"]["baseline_adapter"] = {k: served[k] for k in decision.ADAPTER_SETTINGS if same_form or k != "dtype"}
    return decision.evaluate(decision.ModelFacts.from_dict(recorded[0]), decision.ModelFacts.from_dict(candidate))


def _facts(engine: Engine, chats: Mapping[str, GenerationRequest]) -> dict[str, Any]:
    probes = {name: engine.tokenize(text) for name, text in decision.TOKENIZER_PROBES.items()}
    return {
        **engine.tokenizer_facts().to_dict(),
        "tokenized": probes,
        "rendered": {cid: engine.render_chat(r.messages, r.tools) for cid, r in chats.items()},
    }
