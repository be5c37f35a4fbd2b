from __future__ import annotations

import hashlib
from typing import Any, Sequence

from ...errors import ConfigError
from ..common.corpus import CorpusText, builtin_corpus, load_corpus_files, make_windows
from ..context import GateContext, using
from ..verdict import GateVerdict
from . import decision
from .thresholds import DriftThresholds


def corpus(context: GateContext, limits: DriftThresholds) -> list[CorpusText]:
    """The built-in corpus (unless `builtin_corpus = false`) plus `gates.drift.corpus` files."""
    texts = [builtin_corpus()] if limits.builtin_corpus else []
    texts += load_corpus_files(context.config.path.parent / p for p in limits.corpus)
    if not texts:
        raise ConfigError(f"{context.config.path}: gates.drift has no corpus (builtin_corpus = false and no files)")
    return texts


def run(context: GateContext, texts: Sequence[CorpusText] | None = None, thresholds: DriftThresholds | None = None) -> GateVerdict:
    """Teacher-forced next-token drift on a corpus: the baseline's top-k log-probs come from
    the record; the candidate scores the recorded tokens in one batched call."""
    limits: DriftThresholds = context.settings("drift", thresholds)
    chosen = list(texts) if texts is not None else corpus(context, limits)
    keys = {
        t.name: {"sha256": hashlib.sha256(t.text.encode()).hexdigest(), "context": limits.context, "top_k": limits.top_k,
                 "scored_rows": decision.SCORED_ROWS}
        for t in chosen
    }

    def run_baseline() -> list[dict[str, Any]]:
        with using(context.baseline_engine()) as engine:
            windows = [(t.name, w) for t in chosen for w in make_windows(t.name, engine.tokenize(t.text), limits.context)]
            scored = engine.score([w.token_ids for _, w in windows], limits.top_k)
        per_text: dict[str, list[dict[str, Any]]] = {t.name: [] for t in chosen}
        for (name, window), result in zip(windows, scored):
            per_text[name].append(decision.baseline_record(window.token_ids, result, limits.top_k))
        return [{"windows": per_text[t.name]} for t in chosen]

    recorded = context.load_or_record(keys, run_baseline)
    windows = [
        (f"{name}:{i}", w["token_ids"], decision.baseline_window(f"{name}:{i}", w))
        for name, rec in zip(keys, recorded)
        for i, w in enumerate(rec["windows"])
    ]
    with using(context.candidate_engine()) as engine:
        scored = engine.score(
            [ids for _, ids, _ in windows], 5, gather=[decision.gather_request(b, len(ids)) for _, ids, b in windows]
        )
    candidate = [decision.candidate_window(wid, s) for (wid, _, _), s in zip(windows, scored)]
    return decision.evaluate([b for _, _, b in windows], candidate, limits)
