"""Compatibility: does the candidate's runtime see the same tokens, special tokens, chat
template, stop ids, sampling defaults and context as the baseline's?

These are exact checks, not statistics: one golden prompt rendered to different token ids
means every answer is conditioned on a different prompt. Differences that cannot change
what the model is fed (the template's text when it renders the same ids, the pad token)
are reported as notes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ...engines.base import TokenizerFacts
from ..verdict import CaseOutcome, GateVerdict

# Sampling settings a runtime applies unless the client overrides them, with the value that
# leaves greedy decoding unchanged (a missing key means the same as its neutral value).
NEUTRAL_SAMPLING = {"temperature": 0.0, "top_p": 1.0, "top_k": 0, "min_p": 0.0, "repetition_penalty": 1.0}
# Texts whose tokenization must agree beyond the golden prompts: merges, digits, unicode,
# whitespace runs, code, and chat markers written as plain text (must not become specials).
# An adapter's settings that must be the baseline's when both serve one (the same adapter).
ADAPTER_SETTINGS = ("target_modules", "r", "lora_alpha", "dtype")
TOKENIZER_PROBES = {
    "numbers": "In 1987, 3.14159 x 2048 = 6433.98; call +1-555-0100 before 23:59.",
    "unicode": "Café naïve façade — Zürich, São Paulo, 東京, Москва, emoji 🙂👍.",
    "whitespace": "  two spaces\ttab\n\nblank line   trailing   ",
    "code": "def f(x):\n    return {'a': [1, 2], \"b\": None}  # comment",
    "markers_as_text": "Literal <|im_start|> and <|im_end|> and <|endoftext|> in user text.",
    "json": '{"name": "Ann", "age": 31, "tags": ["x", "y"], "ok": true}',
}


@dataclass(frozen=True)
class ModelFacts(TokenizerFacts):
    """An engine's tokenizer facts plus what it made of the probes (recorded for the baseline)."""

    tokenized: Mapping[str, Sequence[int]] = field(default_factory=dict)  # probe text id -> ids
    rendered: Mapping[str, Sequence[int]] = field(default_factory=dict)  # chat case id -> ids
    adapter: Mapping[str, Any] | None = None  # base_model, target_modules, missing_modules

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelFacts":
        return cls(**{**data, "eos_token_ids": tuple(data["eos_token_ids"])})


def effective_sampling(defaults: Mapping[str, Any]) -> dict[str, float]:
    """The defaults that change greedy decoding (neutral values dropped, names normalized)."""
    renamed = {"repeat_penalty": "repetition_penalty"}
    out = {}
    for key, value in defaults.items():
        key = renamed.get(key, key)
        if key in NEUTRAL_SAMPLING and value is not None and float(value) != NEUTRAL_SAMPLING[key]:
            out[key] = float(value)
    return out


def _first_difference(a: Sequence[int], b: Sequence[int]) -> int:
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def _sequence_check(name: str, base: Mapping[str, Sequence[int]], cand: Mapping[str, Sequence[int]], what: str) -> CaseOutcome:
    differing = []
    for key, ids in base.items():
        other = cand.get(key)
        if other is None or list(other) != list(ids):
            at = _first_difference(ids, other or [])
            differing.append(f"{key}: {what} differ from token {at} ({len(ids)} vs {len(other or [])} tokens)")
    return CaseOutcome(
        name,
        passed=not differing,
        problems=tuple(differing[:5]) + ((f"... {len(differing) - 5} more",) if len(differing) > 5 else ()),
        details={"compared": len(base), "differing": len(differing)},
    )


def evaluate(baseline: ModelFacts, candidate: ModelFacts) -> GateVerdict:
    notes: list[str] = []
    checks: list[CaseOutcome] = []

    vocab_problems = []
    if candidate.vocab_size != baseline.vocab_size:
        vocab_problems.append(f"vocabulary size {candidate.vocab_size} vs {baseline.vocab_size}")
    if baseline.vocab_sha256 and candidate.vocab_sha256 and baseline.vocab_sha256 != candidate.vocab_sha256:
        vocab_problems.append("token strings differ (vocabulary digest)")
    checks.append(CaseOutcome("vocabulary", not vocab_problems, tuple(vocab_problems)))
    checks.append(_sequence_check("tokenization", baseline.tokenized, candidate.tokenized, "token ids"))

    special = []
    if candidate.bos_token_id != baseline.bos_token_id:
        special.append(f"BOS id {candidate.bos_token_id} vs {baseline.bos_token_id}")
    missing_eos = sorted(set(baseline.eos_token_ids) - set(candidate.eos_token_ids))
    if missing_eos:
        special.append(f"stop (EOS) ids {sorted(candidate.eos_token_ids)} lack the baseline's {missing_eos}: answers run on")
    for role in ("bos_token", "eos_token"):
        a, b = baseline.special_tokens.get(role), candidate.special_tokens.get(role)
        if a is not None and b is not None and a != b:
            special.append(f"{role} {b!r} vs {a!r}")
    if candidate.pad_token_id != baseline.pad_token_id:
        notes.append(f"pad id {candidate.pad_token_id} vs {baseline.pad_token_id} (does not change single answers)")
    checks.append(CaseOutcome("special_tokens", not special, tuple(special)))

    rendered = _sequence_check("chat_template", baseline.rendered, candidate.rendered, "rendered prompt ids")
    if (candidate.chat_template or "") != (baseline.chat_template or ""):
        what = "and renders the prompts differently" if not rendered.passed else "but renders the same token ids"
        notes.append(f"the chat template's text differs {what}")
    checks.append(rendered)

    base_sampling = effective_sampling(baseline.sampling_defaults)
    cand_sampling = effective_sampling(candidate.sampling_defaults)
    sampling = [
        f"default {key} {cand_sampling.get(key, NEUTRAL_SAMPLING[key])} vs {base_sampling.get(key, NEUTRAL_SAMPLING[key])}"
        for key in sorted(set(base_sampling) | set(cand_sampling))
        if cand_sampling.get(key) != base_sampling.get(key)
    ]
    checks.append(
        CaseOutcome(
            "generation_defaults",
            not sampling,
            tuple(sampling),
            {"baseline": base_sampling, "candidate": cand_sampling},
        )
    )

    context = []
    if baseline.max_context and candidate.max_context and candidate.max_context < baseline.max_context:
        context.append(f"max context {candidate.max_context} < baseline's {baseline.max_context}")
    checks.append(CaseOutcome("max_context", not context, tuple(context)))

    if candidate.adapter is not None:
        adapter = candidate.adapter
        problems = []
        if adapter.get("missing_modules"):
            problems.append(f"target modules not in the quantized base: {', '.join(adapter['missing_modules'])}")
        if adapter.get("base_mismatch"):
            problems.append(adapter["base_mismatch"])
        served = adapter.get("baseline_adapter") or {}
        differ = [f"{k} {adapter.get(k)!r} vs the baseline's {served[k]!r}" for k in ADAPTER_SETTINGS if k in served and served[k] != adapter.get(k)]
        if differ:
            problems.append("not the baseline's adapter: " + ", ".join(differ))
        checks.append(CaseOutcome("adapter", not problems, tuple(problems), dict(adapter)))

    failed = [c.case_id for c in checks if not c.passed]
    metrics = {"checks": {c.case_id: c.passed for c in checks}, "notes": notes}
    if failed:
        reason = "; ".join(f"{c.case_id}: {c.problems[0]}" for c in checks if not c.passed)
        return GateVerdict("compat", "fail", reason, metrics, key_metric=f"{len(failed)}/{len(checks)} checks differ", cases=tuple(checks))
    reason = "tokenizer, special tokens, rendered prompts, stop ids, sampling defaults and context match"
    if notes:
        reason += " (notes: " + "; ".join(notes) + ")"
    return GateVerdict("compat", "pass", reason, metrics, key_metric=f"{len(checks)}/{len(checks)} checks match", cases=tuple(checks))
