"""What a gate test does, in one place: cases -> baseline answers (from records when they
are valid) -> candidate answers (one batched engine call) -> pure gate -> report entry."""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any, Sequence

import pytest

from . import models
from .cases import GoldenCase, builtin_golden_cases, check_unique, load_case_files
from .config import CandidateSpec, ConfigError, GoldenThresholds
from .environment import describe
from .gates import golden
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
        records = BaselineRecords(
            self.snapshot,
            test_name=self.request.node.originalname,
            baseline=self.baseline.name,
            fingerprint=fingerprint(self.baseline, self.state.cache_dir),
        )
        try:
            baseline_answers, source = records.answers(
                [c.id for c in cases],
                requests,
                run_baseline=lambda reqs: self._baseline_engine().generate(reqs, top_k),
                environment=describe(),
            )
        except RecordError as exc:
            pytest.fail(str(exc), pytrace=False)
        engine = self.request.getfixturevalue("candidate_engine")
        candidate_answers = engine.generate(requests, top_k)
        verdict = golden.evaluate(cases, baseline_answers, candidate_answers, limits)
        self._attach(verdict, source, engine)
        return verdict

    # -- plumbing ---------------------------------------------------------------------------
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
