"""What a gate test does, in one place: cases -> baseline answers (from records when they
are valid) -> candidate answers (one batched engine call) -> pure gate -> report entry."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any, Sequence

import pytest

from . import models
from .cases import GoldenCase, builtin_golden_cases, check_unique, load_case_files
from .config import CandidateSpec, ConfigError, DriftThresholds, GoldenThresholds
from .corpus import CorpusText, builtin_corpus, load_corpus_files, make_windows
from .engines.base import Generation
from .environment import describe
from .gates import drift, golden
from .records import BaselineRecords, RecordError
from .report import PROPERTY, gate_entry
from .verdict import GateVerdict

if TYPE_CHECKING:
    from .plugin import QuantgateState


def fingerprint(spec: CandidateSpec, cache_dir: Any) -> dict[str, Any]:
    """What decides a baseline's answers: its weights, its engine and its flags."""
    return {
        "engine": spec.engine,
        "model_sha256": models.model_hash(models.resolve(spec.model, cache_dir)),
        "flags": spec.flags(),
    }


class GateHarness:
    """The `quantgate` fixture: runs a gate for the current candidate from any test."""

    def __init__(self, request: pytest.FixtureRequest, state: "QuantgateState", candidate: CandidateSpec, snapshot: Any) -> None:
        self.request = request
        self.state = state
        self.candidate = candidate
        self.baseline = state.config.baseline_for(candidate)
        self.snapshot = snapshot

    # -- cases ------------------------------------------------------------------------------
    def golden_cases(self) -> list[GoldenCase]:
        """The built-in golden set plus the case files named in `gates.golden.cases`."""
        cfg = self.state.config
        extra = load_case_files(cfg.path.parent / p for p in cfg.golden.cases)
        cases = builtin_golden_cases() + extra
        check_unique(cases, f"golden cases (built-in + {', '.join(cfg.golden.cases) or 'none'})")
        return cases

    # -- gates ------------------------------------------------------------------------------
    def golden(self, cases: Sequence[GoldenCase] | None = None, thresholds: GoldenThresholds | None = None) -> GateVerdict:
        """Gate the candidate on `cases` (default: the built-in set and the configured case
        files, decided with paired statistics). Cases given by a test are regression cases:
        unless `thresholds` say otherwise, none that held for the baseline may be lost."""
        limits = thresholds or self.state.config.golden
        if cases is not None and thresholds is None:
            limits = replace(limits, decision="every_case")
        try:
            cases = list(cases) if cases is not None else self.golden_cases()
        except ConfigError as exc:
            pytest.fail(str(exc), pytrace=False)
        top_k = self.baseline.generation.top_logprobs
        if limits.top_k > top_k:
            pytest.fail(
                f"gates.golden.top_k={limits.top_k} exceeds the {top_k} log-probs the baseline records; "
                f"raise candidates.{self.baseline.name}.generation.top_logprobs",
                pytrace=False,
            )
        requests = [c.request(self.baseline.generation.max_new_tokens) for c in cases]
        records = self._records()
        try:
            recorded, source = records.load_or_record(
                {c.id: asdict(req) for c, req in zip(cases, requests)},
                run_baseline=lambda: [g.to_record() for g in self._baseline_engine().generate(requests, top_k)],
                environment=describe(),
            )
        except RecordError as exc:
            pytest.fail(str(exc), pytrace=False)
        baseline_answers = [Generation.from_record(r) for r in recorded]
        engine = self.request.getfixturevalue("candidate_engine")
        candidate_answers = engine.generate(requests, top_k)
        verdict = golden.evaluate(cases, baseline_answers, candidate_answers, limits)
        self._attach(verdict, source, engine)
        return verdict

    def drift_corpus(self) -> list[CorpusText]:
        """The built-in corpus (unless `builtin_corpus = false`) plus `gates.drift.corpus` files."""
        cfg = self.state.config
        texts = [builtin_corpus()] if cfg.drift.builtin_corpus else []
        texts += load_corpus_files(cfg.path.parent / p for p in cfg.drift.corpus)
        if not texts:
            raise ConfigError(f"{cfg.path}: gates.drift has no corpus (builtin_corpus = false and no files)")
        return texts

    def drift(self, texts: Sequence[CorpusText] | None = None, thresholds: DriftThresholds | None = None) -> GateVerdict:
        """Teacher-forced next-token drift on a corpus: the baseline's top-k log-probs come from
        the record; the candidate scores the recorded tokens in one batched call."""
        limits = thresholds or self.state.config.drift
        try:
            texts = list(texts) if texts is not None else self.drift_corpus()
        except ConfigError as exc:
            pytest.fail(str(exc), pytrace=False)
        keys = {
            t.name: {"sha256": hashlib.sha256(t.text.encode()).hexdigest(), "context": limits.context, "top_k": limits.top_k}
            for t in texts
        }

        def run_baseline() -> list[dict[str, Any]]:
            engine = self._baseline_engine()
            windows = [(t.name, w) for t in texts for w in make_windows(t.name, engine.tokenize(t.text), limits.context)]
            scored = engine.score([w.token_ids for _, w in windows], limits.top_k)
            per_text: dict[str, list[dict[str, Any]]] = {t.name: [] for t in texts}
            for (name, window), result in zip(windows, scored):
                per_text[name].append(drift.baseline_record(window.token_ids, result, limits.top_k))
            return [{"windows": per_text[t.name]} for t in texts]

        records = self._records()
        try:
            recorded, source = records.load_or_record(keys, run_baseline, environment=describe())
        except RecordError as exc:
            pytest.fail(str(exc), pytrace=False)
        windows = [
            (f"{name}:{i}", w["token_ids"], drift.baseline_window(f"{name}:{i}", w))
            for name, rec in zip(keys, recorded)
            for i, w in enumerate(rec["windows"])
        ]
        engine = self.request.getfixturevalue("candidate_engine")
        scored = engine.score(
            [ids for _, ids, _ in windows], 5, gather=[drift.gather_request(b, len(ids)) for _, ids, b in windows]
        )
        candidate = [drift.candidate_window(wid, s) for (wid, _, _), s in zip(windows, scored)]
        verdict = drift.evaluate([b for _, _, b in windows], candidate, limits)
        self._attach(verdict, source, engine)
        return verdict

    # -- plumbing ---------------------------------------------------------------------------
    def _records(self) -> BaselineRecords:
        return BaselineRecords(
            self.snapshot,
            test_name=self.request.node.originalname,
            baseline=self.baseline.name,
            fingerprint=fingerprint(self.baseline, self.state.cache_dir),
        )

    def _baseline_engine(self) -> Any:
        return self.request.getfixturevalue("baseline_engine")

    def _attach(self, verdict: GateVerdict, baseline_source: str, engine: Any) -> None:
        pool = self.state.engine_pool()
        engines = {
            "acquired_this_session": list(pool.acquired),
            "baseline_loaded": pool.is_loaded(self.baseline.name),
            "candidate_stats": asdict(engine.stats),
        }
        entry = gate_entry(
            self.candidate.name,
            verdict,
            test=self.request.node.nodeid,
            baseline=self.baseline.name,
            baseline_source=baseline_source,
            engines=engines,
        )
        self.request.node.user_properties.append((PROPERTY, entry))
