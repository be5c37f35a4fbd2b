"""What a gate test does, in one place: the `quantgate` fixture runs a registered gate for
the current candidate. It implements `gates.context.GateContext`: cases -> baseline answers
(from records when they are valid) -> candidate answers (one batched engine call) -> the
gate's pure decision -> a report entry. Errors become outcomes in `outcomes.py` only."""

from __future__ import annotations

import functools
import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import pytest

from . import models
from .config import CandidateSpec, QuantgateConfig
from .engines.base import Engine, EngineStats, EngineUnavailable, Generation, GenerationRequest
from .environment import describe
from .errors import UsageError
from .gates import registry
from .gates.context import using
from .gates.verdict import GateVerdict
from .outcomes import gate_outcome
from .records import BaselineRecords
from .release.verdict_report import GATE_TAG, PROPERTY, gate_entry

if TYPE_CHECKING:
    from .engines.serving import ServedModel
    from .gates.common.cases import CaseKind
    from .plugin import QuantgateState


def fingerprint(spec: CandidateSpec, cache_dir: Path) -> dict[str, Any]:
    """What decides a baseline's answers: its weights (and its adapter's), its engine and its
    flags."""
    found = {
        "engine": spec.engine,
        "model_sha256": models.model_hash(models.resolve(spec.model, cache_dir)),
        "flags": spec.flags(),
    }
    if spec.adapter:  # absent without one: older records stay valid
        found["adapter_sha256"] = models.model_hash(models.resolve_adapter(spec.adapter, cache_dir))
    return found


class GateHarness:
    """The `quantgate` fixture: `quantgate.golden(cases)`, `quantgate.run("drift")`, or any
    gate registered through the `pytest_quantgate.gates` entry points."""

    def __init__(self, request: pytest.FixtureRequest, state: "QuantgateState", candidate: CandidateSpec, snapshot: Any) -> None:
        assert state.config is not None
        self.request = request
        self.state = state
        self.config: QuantgateConfig = state.config
        self.cache_dir: Path = state.cache_dir
        self.candidate = candidate
        self.baseline = state.config.baseline_for(candidate)
        self.snapshot = snapshot
        self._baseline_source = "none"

    def run(self, gate: str, *args: Any, **options: Any) -> GateVerdict:
        """Run `gate` (a registered name) for the current candidate with the runner's own
        arguments (`quantgate.golden(cases, thresholds)`); its verdict goes to the report and
        back to the test."""
        before = self._candidate_stats()
        with gate_outcome():
            definition = registry.get(gate)
            self._check_needs(definition)
            verdict = definition.run(self, *args, **options)
        return self._attach(verdict, before)

    def __getattr__(self, name: str) -> Callable[..., GateVerdict]:
        if name.startswith("_") or name not in registry.gates():
            raise AttributeError(f"quantgate has no gate {name!r}; registered gates: {', '.join(registry.gates())}")
        return functools.partial(self.run, name)

    # -- GateContext ------------------------------------------------------------------------
    @property
    def recording(self) -> bool:
        return bool(self.snapshot.update_snapshots) and not self.state.live_baseline

    def settings(self, gate: str, given: Any = None, regression_cases: Sequence[Any] | None = None) -> Any:
        if given is not None:
            return given
        configured = self.config.thresholds(gate)
        if regression_cases is not None and hasattr(configured, "decision"):
            return replace(configured, decision="every_case")
        return configured

    def cases(self, kind: "CaseKind[Any]", settings: Any, given: Sequence[Any] | None = None) -> list[Any]:
        if given is not None:
            return list(given)
        return kind.collect(settings.builtin_cases, settings.cases, self.config.path.parent)

    def candidate_engine(self) -> Engine:
        engine: Engine = self.request.getfixturevalue("candidate_engine")
        return engine

    def baseline_engine(self) -> Engine:
        engine: Engine = self.request.getfixturevalue("baseline_engine")
        return engine

    def served(self, spec: CandidateSpec) -> "ServedModel":
        try:
            return self.state.engine_pool().served(spec)
        except EngineUnavailable as exc:
            raise EngineUnavailable(f"{spec.name} ({spec.engine} engine) cannot be served here: {exc}") from exc

    def answers(
        self, case_ids: Sequence[str], requests: Sequence[GenerationRequest], top_k: int
    ) -> tuple[list[Generation], list[Generation]]:
        baseline = self.baseline_answers(case_ids, requests, top_k)
        return baseline, self.candidate_answers(case_ids, requests, top_k)

    def baseline_answers(self, case_ids: Sequence[str], requests: Sequence[GenerationRequest], top_k: int) -> list[Generation]:
        def run_baseline() -> list[Any]:
            if self.state.live_baseline:
                return [g.to_record() for g in self.live_baseline(requests, top_k, case_ids)]
            with using(self.baseline_engine()) as engine:
                _check_fits(engine, case_ids, requests)
                return [g.to_record() for g in engine.generate(requests, top_k)]

        recorded = self.load_or_record({cid: req.record_key() for cid, req in zip(case_ids, requests)}, run_baseline)
        return [Generation.from_record(r) for r in recorded]

    def candidate_answers(self, case_ids: Sequence[str], requests: Sequence[GenerationRequest], top_k: int) -> list[Generation]:
        with using(self.candidate_engine()) as engine:
            _check_fits(engine, case_ids, requests)
            return engine.generate(requests, top_k)

    def live_baseline(self, requests: Sequence[GenerationRequest], top_k: int, case_ids: Sequence[str] = ()) -> list[Generation]:
        memo = self.state.live_answers
        keys = [(self.baseline.name, top_k, json.dumps(r.record_key(), sort_keys=True, default=str)) for r in requests]
        missing = [i for i, key in enumerate(keys) if key not in memo]
        if missing:
            with using(self.baseline_engine()) as engine:
                if case_ids:
                    _check_fits(engine, [case_ids[i] for i in missing], [requests[i] for i in missing])
                for i, answer in zip(missing, engine.generate([requests[i] for i in missing], top_k)):
                    memo[keys[i]] = answer
        self.answered_live()
        return [memo[key] for key in keys]

    def load_or_record(self, keys: Mapping[str, Any], run_baseline: Callable[[], list[Any]]) -> list[Any]:
        if self.state.live_baseline:  # --quant-live-baseline: the baseline answers now; nothing is recorded
            self.answered_live()
            return list(run_baseline())
        records = self._records()
        recorded, self._baseline_source = records.load_or_record(keys, self._once_per_session(records.name, keys, run_baseline), environment=describe())
        return recorded

    def _once_per_session(self, record: str, keys: Mapping[str, Any], run_baseline: Callable[[], list[Any]]) -> Callable[[], list[Any]]:
        """Under --snapshot-update the baseline answers a record's cases once in the session:
        the other candidates that share it re-write the same record from those answers (a
        recording run of `--quant-candidate=all` would otherwise rerun the baseline per candidate)."""
        memo = self.state.recorded_answers
        wanted = [(record, cid, json.dumps(key, sort_keys=True, default=str)) for cid, key in keys.items()]

        def answered() -> list[Any]:
            if all(w in memo for w in wanted):
                return [memo[w] for w in wanted]
            results = list(run_baseline())
            memo.update(zip(wanted, results))
            return results

        return answered

    def answered_live(self) -> None:
        self._baseline_source = "live"

    def artifact_path(self, suffix: str) -> Path:
        """Beside the report (or in pytest's base temp folder without one)."""
        report = self.state.report_path
        if report is not None:
            return report.parent / f"{report.stem}-{self.candidate.name}-{suffix}"
        base = self.request.getfixturevalue("tmp_path_factory").getbasetemp()
        return Path(base) / f"quantgate-{self.candidate.name}-{suffix}"

    # -- plumbing ---------------------------------------------------------------------------
    def _check_needs(self, gate: registry.Gate) -> None:
        if "teacher_forcing" in gate.needs:
            engine = self.candidate_engine()
            if not engine.capabilities.teacher_forcing:
                raise EngineUnavailable(f"{engine.spec.name} ({engine.spec.engine} engine): cannot score given tokens")

    def _records(self) -> BaselineRecords:
        return BaselineRecords(
            self.snapshot,
            test_name=self.request.node.originalname,
            baseline=self.baseline.name,
            fingerprint=fingerprint(self.baseline, self.cache_dir),
            refresh=self._refresh_command(),
        )

    def _refresh_command(self) -> str:
        """The command that re-records this test's baseline file (the candidate's run records
        its baseline's answers: the baseline engine runs once, the candidate's is compared)."""
        gates = registry.gates()
        marker = next((m.name for m in self.request.node.iter_markers() if m.name in gates), None)
        selection = f" -m {marker}" if marker else f" -k {self.request.node.originalname}"
        suite = " --quantgate-suite=only" if self.request.node.nodeid.startswith("quantgate-suite/") else ""
        return f"pytest --quant-candidate={self.candidate.name}{suite}{selection} --snapshot-update"

    def _candidate_stats(self) -> EngineStats:
        """A copy of the candidate engine's running totals (zeros before it is loaded)."""
        engine = self.state.engine_pool().loaded(self.candidate.name)
        return replace(engine.stats) if engine is not None else EngineStats()

    def _attach(self, verdict: GateVerdict, before: EngineStats) -> GateVerdict:
        """Put the verdict in the run's report (through user_properties, so xdist workers'
        verdicts reach the controller) and hand it back to the test. `before`: the candidate
        engine's totals when the gate began, so `gate_stats` is this gate's own engine time
        (`candidate_stats` is the engine's since it was loaded, every gate of the session)."""
        pool = self.state.engine_pool()
        engine = pool.loaded(self.candidate.name)  # the latency gate serves; it loads no engine
        engines = {
            "acquired_this_session": list(pool.acquired),
            "baseline_loaded": pool.is_loaded(self.baseline.name),
            "candidate_stats": asdict(engine.stats) if engine is not None else {},
            "gate_stats": asdict(engine.stats.since(before)) if engine is not None else {},
            "candidate_runtime": dict(engine.runtime) if engine is not None else {},
        }
        entry = gate_entry(
            self.candidate.name,
            verdict,
            test=self.request.node.nodeid,
            baseline=self.baseline.name,
            baseline_source=self._baseline_source,
            engines=engines,
        )
        properties = self.request.node.user_properties
        if not any(key == GATE_TAG for key, _ in properties):  # a test without the gate's marker
            properties.append((GATE_TAG, {"gate": verdict.gate, "candidate": self.candidate.name}))
        properties.append((PROPERTY, entry))
        return verdict


def _check_fits(engine: Engine, case_ids: Sequence[str], requests: Sequence[GenerationRequest]) -> None:
    """Cases whose prompt and answer cannot fit the engine's context are named before any
    generation (the engine's context is known; a long prompt is not a mid-run surprise)."""
    context = engine.tokenizer_facts().max_context
    if not context:
        return
    too_long = []
    for case_id, request in zip(case_ids, requests):
        prompt = len(engine.render_chat(request.messages, request.tools))
        if prompt + request.max_new_tokens > context:
            too_long.append(f"{case_id} ({prompt} prompt + {request.max_new_tokens} new tokens)")
    if too_long:
        raise UsageError(
            f"{len(too_long)} case(s) do not fit {engine.spec.name}'s {context}-token context: "
            f"{', '.join(too_long[:5])}{' ...' if len(too_long) > 5 else ''}; shorten them, lower their max_new_tokens "
            "or give the engine a longer context"
        )
