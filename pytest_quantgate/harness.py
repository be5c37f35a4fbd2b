"""What a gate test does, in one place: cases -> baseline answers (from records when they
are valid) -> candidate answers (one batched engine call) -> pure gate -> report entry."""

from __future__ import annotations

import contextlib
import hashlib
import os
import warnings
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence

import pytest

from . import models
from . import haystack, judges, latency_stats, recorded_traffic, tool_format, traffic
from .cases import (
    GOLDEN,
    RAG,
    SAFETY,
    STRUCTURED,
    TOOL_CALLS,
    CaseKind,
    GoldenCase,
    RagCase,
    SafetyCase,
    StructuredCase,
    ToolCase,
)
from .config import (
    GATES,
    CanaryThresholds,
    CandidateSpec,
    CaseGateThresholds,
    ConfigError,
    DriftThresholds,
    GoldenThresholds,
    LatencyThresholds,
    LongContextThresholds,
    RagThresholds,
    SafetyThresholds,
    StructuredThresholds,
    ToolCallThresholds,
)
from .corpus import CorpusText, builtin_corpus, load_corpus_files, make_windows
from .engines.base import ChatMessage, EngineUnavailable, Generation, GenerationRequest
from .environment import describe
from .gates import canary, compat, drift, golden, latency, long_context, rag_faithfulness, refusal, safety, structured_output, tool_call
from .recorded_traffic import RecordedRequest
from .records import BaselineRecords, RecordError
from .report import PROPERTY, gate_entry
from .verdict import GateVerdict

if TYPE_CHECKING:
    from .plugin import QuantgateState


NLI_CONTRACT = "a callable (premise, hypothesis) -> entailment probability in [0, 1]"


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
        self._baseline_source = "none"

    # -- cases ------------------------------------------------------------------------------
    def default_cases(self, kind: CaseKind[Any], limits: CaseGateThresholds) -> list[Any]:
        """A gate's default cases: its built-in set (unless `builtin_cases = false`) plus the
        case files named in `gates.<gate>.cases`."""
        return kind.collect(limits.builtin_cases, limits.cases, self.state.config.path.parent)

    # -- gates ------------------------------------------------------------------------------
    def golden(self, cases: Sequence[GoldenCase] | None = None, thresholds: GoldenThresholds | None = None) -> GateVerdict:
        """Gate the candidate on `cases` (default: the built-in set and the configured case
        files, decided with paired statistics). Cases given by a test are regression cases:
        unless `thresholds` say otherwise, none that held for the baseline may be lost."""
        limits = _regression_limits(self.state.config.golden, cases, thresholds)
        cases = self._cases(cases, lambda: self.default_cases(GOLDEN, limits))
        top_k = self.baseline.generation.top_logprobs
        if limits.top_k > top_k:
            pytest.fail(
                f"gates.golden.top_k={limits.top_k} exceeds the {top_k} log-probs the baseline records; "
                f"raise candidates.{self.baseline.name}.generation.top_logprobs",
                pytrace=False,
            )
        requests = [c.request(self.baseline.generation.max_new_tokens) for c in cases]
        baseline, candidate = self._answers([c.id for c in cases], requests, top_k)
        return self._attach(golden.evaluate(cases, baseline, candidate, limits))

    def structured_output(
        self,
        cases: Sequence[StructuredCase] | None = None,
        thresholds: StructuredThresholds | None = None,
        mode: str = "free",
    ) -> GateVerdict:
        """JSON answers against their schemas. `mode="guided"` hands each schema to the
        engine's constrained decoding (skipped where an engine has none)."""
        limits = _regression_limits(self.state.config.structured_output, cases, thresholds)
        if mode not in ("free", "guided"):
            pytest.fail(f"structured_output mode {mode!r}; allowed: 'free', 'guided'", pytrace=False)
        if mode not in limits.modes:
            pytest.skip(f"structured_output mode {mode!r} is off (gates.structured_output.modes = {list(limits.modes)})")
        guided = mode == "guided"
        if guided:
            self._require_guided_json()
        cases = self._cases(cases, lambda: self.default_cases(STRUCTURED, limits))
        requests = [c.request(limits.max_new_tokens, guided=guided) for c in cases]
        baseline, candidate = self._answers([c.id for c in cases], requests, top_k=1)
        return self._attach(structured_output.evaluate(cases, baseline, candidate, limits, mode=mode))

    def tool_call(self, cases: Sequence[ToolCase] | None = None, thresholds: ToolCallThresholds | None = None) -> GateVerdict:
        """Tool calls against the expected calls and the baseline's, per case."""
        limits = _regression_limits(self.state.config.tool_call, cases, thresholds)
        cases = self._cases(cases, lambda: self.default_cases(TOOL_CALLS, limits))
        engine = self.request.getfixturevalue("candidate_engine")
        prompt_format = tool_format.resolve_format(limits.prompt_format, engine.tokenizer_facts().chat_template)
        requests = [tool_format.request(c, prompt_format, limits.max_new_tokens) for c in cases]
        baseline, candidate = self._answers([c.id for c in cases], requests, top_k=1)
        return self._attach(tool_call.evaluate(cases, baseline, candidate, limits, prompt_format=prompt_format))

    def safety(self, cases: Sequence[SafetyCase] | None = None, thresholds: SafetyThresholds | None = None) -> GateVerdict:
        """Refusals kept on harmful requests and answers kept on benign ones."""
        limits = _regression_limits(self.state.config.safety, cases, thresholds)
        try:
            judge = refusal.load_classifier(limits.classifier)
        except judges.JudgeError as exc:
            pytest.fail(str(exc), pytrace=False)
        cases = self._cases(cases, lambda: self.default_cases(SAFETY, limits))
        requests = [c.request(limits.max_new_tokens, limits.system) for c in cases]
        baseline, candidate = self._answers([c.id for c in cases], requests, top_k=1)
        return self._attach(safety.evaluate(cases, baseline, candidate, limits, judge))

    def rag_faithfulness(self, cases: Sequence[RagCase] | None = None, thresholds: RagThresholds | None = None) -> GateVerdict:
        """Answers grounded in the numbered sources given with each question."""
        limits = _regression_limits(self.state.config.rag_faithfulness, cases, thresholds)
        try:
            entails = judges.load(limits.nli, "gates.rag_faithfulness.nli", NLI_CONTRACT) if limits.nli else None
        except judges.JudgeError as exc:
            pytest.fail(str(exc), pytrace=False)
        cases = self._cases(cases, lambda: self.default_cases(RAG, limits))
        requests = [c.request(limits.max_new_tokens) for c in cases]
        baseline, candidate = self._answers([c.id for c in cases], requests, top_k=1)
        return self._attach(rag_faithfulness.evaluate(cases, baseline, candidate, limits, entails))

    def long_context(self, thresholds: LongContextThresholds | None = None) -> GateVerdict:
        """Needle retrieval over the configured grid of lengths, depths and tasks; prompts are
        sized with the candidate's tokenizer and made reproducibly from the seed."""
        limits = thresholds or self.state.config.long_context
        engine = self.request.getfixturevalue("candidate_engine")
        usable = engine.tokenizer_facts().max_context
        too_long = [n for n in limits.lengths if usable and n + 64 > usable]
        if too_long:
            pytest.fail(
                f"gates.long_context.lengths {too_long} exceed what {self.candidate.name} can take "
                f"({usable} tokens, less room for the answer); lower them",
                pytrace=False,
            )
        cases = haystack.make_grid(limits.lengths, limits.depths, limits.tasks, limits.seed, lambda t: len(engine.tokenize(t)))
        requests = [c.request() for c in cases]
        baseline, candidate = self._answers([c.id for c in cases], requests, top_k=1)
        return self._attach(long_context.evaluate(cases, baseline, candidate, limits))

    def compat(self, cases: Sequence[GoldenCase] | None = None) -> GateVerdict:
        """Tokenizer, special tokens, the chat template's rendering of the golden prompts,
        stop ids, sampling defaults, context and any LoRA adapter, baseline vs candidate."""
        cases = self._cases(cases, lambda: self.default_cases(GOLDEN, self.state.config.golden))
        chats = {c.id: c.request(1) for c in cases}
        chats["multi-turn"] = GenerationRequest.chat(
            cases[0].prompt, 1, system="You are a terse assistant.",
            history=(ChatMessage("user", "Hello."), ChatMessage("assistant", "Hi.")),
        )
        keys = {"facts": {"probes": compat.TOKENIZER_PROBES, "chats": {cid: r.record_key() for cid, r in chats.items()}}}
        recorded = self._load_or_record(keys, lambda: [self._facts(self._baseline_engine(), chats)])
        candidate = self._facts(self.request.getfixturevalue("candidate_engine"), chats)
        if self.candidate.adapter:
            try:
                candidate["adapter"] = models.adapter_facts(
                    self.state.config.path.parent / self.candidate.adapter,
                    models.resolve(self.candidate.model, self.state.cache_dir),
                    models.resolve(self.baseline.model, self.state.cache_dir),
                )
            except models.ModelSourceError as exc:
                pytest.fail(str(exc), pytrace=False)
        return self._attach(compat.evaluate(compat.ModelFacts.from_dict(recorded[0]), compat.ModelFacts.from_dict(candidate)))

    @staticmethod
    def _facts(engine: Any, chats: Mapping[str, GenerationRequest]) -> dict[str, Any]:
        probes = {name: engine.tokenize(text) for name, text in compat.TOKENIZER_PROBES.items()}
        return {
            **engine.tokenizer_facts().to_dict(),
            "tokenized": probes,
            "rendered": {cid: engine.render_chat(r.messages, r.tools) for cid, r in chats.items()},
        }

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
        engine = self.request.getfixturevalue("candidate_engine")
        if not getattr(engine, "teacher_forcing", True):
            pytest.skip(f"quantgate: {engine.spec.name} ({engine.spec.engine} engine): cannot score given tokens")
        texts = self._cases(texts, self.drift_corpus)
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

        recorded = self._load_or_record(keys, run_baseline)
        windows = [
            (f"{name}:{i}", w["token_ids"], drift.baseline_window(f"{name}:{i}", w))
            for name, rec in zip(keys, recorded)
            for i, w in enumerate(rec["windows"])
        ]
        with _skip_if_unavailable(engine):
            scored = engine.score(
                [ids for _, ids, _ in windows], 5, gather=[drift.gather_request(b, len(ids)) for _, ids, b in windows]
            )
        candidate = [drift.candidate_window(wid, s) for (wid, _, _), s in zip(windows, scored)]
        return self._attach(drift.evaluate([b for _, _, b in windows], candidate, limits))

    def latency(self, thresholds: LatencyThresholds | None = None) -> GateVerdict:
        """Serving latency and throughput under the configured traffic: both models served,
        the same requests sent to each, shape by shape, alternately (A B A B). Nothing is
        recorded: the baseline is measured in the same run, on the same machine."""
        from .engines import footprint, loadgen, serving

        limits = thresholds or self.state.config.latency
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
        if workers > 1:
            warnings.warn(
                f"quantgate: latency of {self.candidate.name} measured while {workers} xdist workers share the machine; "
                "run the latency gate alone (-m latency -p no:xdist) for figures you can compare",
                stacklevel=2,
            )
        pool = self.state.engine_pool()
        served = {}
        for role, spec in (("baseline", self.baseline), ("candidate", self.candidate)):
            try:
                served[role] = pool.served(spec)
            except EngineUnavailable as exc:
                pytest.skip(f"quantgate: {spec.name} ({spec.engine} engine) cannot be served here: {exc}")
            except serving.ServingError as exc:
                pytest.fail(str(exc), pytrace=False)
        tokenizers = {role: s.tokenizer() for role, s in served.items()}
        golden_cases = self._cases(None, lambda: self.default_cases(GOLDEN, self.state.config.golden))
        warmup, measured = traffic.build(limits, tokenizers["candidate"], golden_cases)
        runs: dict[str, dict[str, list[loadgen.LoadRun]]] = {"baseline": {}, "candidate": {}}

        def run(role: str, requests: Sequence[traffic.LoadRequest], shape: loadgen.TrafficShape) -> loadgen.LoadRun:
            target = served[role]
            return loadgen.measure(
                loadgen.client_options(target.base_url, target.headers, limits.request_timeout_s, max(64, len(requests))),
                traffic.api_path(target),
                traffic.payloads(target, requests, tokenizers[role], limits.fixed_output_len),
                shape,
                request_timeout_s=limits.request_timeout_s,
                time_limit_s=limits.time_limit_s,
                seed=limits.seed,
            )

        if warmup:
            for role in runs:
                run(role, warmup, loadgen.TrafficShape(concurrency=1))
        shapes = limits.shapes()
        for shape in shapes:
            for _ in range(limits.rounds):
                for role in runs:  # A B A B
                    runs[role].setdefault(shape.label, []).append(run(role, measured, shape))
        counters = {role: (lambda text, t=tokenizers[role]: len(t.encode(text, add_special_tokens=False))) for role in runs}
        comparisons = [
            latency.ShapeComparison(
                shape.label,
                tuple(latency_stats.summarize([r], counters["baseline"], limits.slo) for r in runs["baseline"][shape.label]),
                tuple(latency_stats.summarize([r], counters["candidate"], limits.slo) for r in runs["candidate"][shape.label]),
                latency_stats.summarize(runs["baseline"][shape.label], counters["baseline"], limits.slo),
                latency_stats.summarize(runs["candidate"][shape.label], counters["candidate"], limits.slo),
            )
            for shape in shapes
        ]
        memory = {}
        for role, spec in (("baseline", self.baseline), ("candidate", self.candidate)):
            memory[role] = footprint.footprint(served[role], spec, models.resolve(spec.model, self.state.cache_dir))
            memory[role]["served"] = serving.describe(served[role])
        verdict = latency.evaluate(comparisons, limits, memory)
        samples = {
            shape.label: tuple(
                latency_stats.samples([r for run in runs[role][shape.label] for r in run.results], counters[role])
                for role in ("baseline", "candidate")
            )
            for shape in shapes
        }
        pictures = self._latency_plots(comparisons, samples)
        extra = {"plots": [str(p) for p in pictures], "xdist_workers": workers}
        return self._attach(replace(verdict, metrics={**verdict.metrics, **extra}))

    def _latency_plots(self, comparisons: Sequence[Any], samples: Mapping[str, Any]) -> list[Any]:
        """PNGs next to the report (or in pytest's base temp folder without one)."""
        from . import plots

        report = self.state.report_path
        if report is not None:
            stem = report.parent / f"{report.stem}-{self.candidate.name}"
        else:
            stem = self.request.getfixturevalue("tmp_path_factory").getbasetemp() / f"quantgate-{self.candidate.name}"
        names = (self.baseline.name, self.candidate.name)
        made = [plots.latency_cdfs(stem.with_name(stem.name + "-latency-cdf.png"), names, samples)]
        curve = plots.throughput_curves(stem.with_name(stem.name + "-throughput.png"), names, comparisons)
        return made + ([curve] if curve else [])

    def canary(
        self, requests: Sequence[RecordedRequest] | None = None, thresholds: CanaryThresholds | None = None
    ) -> GateVerdict:
        """The candidate (say, a canary route) against the live baseline (its route) on a
        sample of recorded requests (`gates.canary.traffic`). Both answer live: a route's
        answers are never recorded."""
        limits = thresholds or self.state.config.canary
        if requests is None and not limits.traffic:
            pytest.skip("quantgate: no recorded traffic to replay (set gates.canary.traffic = ['requests.jsonl'])")
        root = self.state.config.path.parent
        requests = self._cases(
            requests,
            lambda: recorded_traffic.sample(
                recorded_traffic.load((root / p for p in limits.traffic), limits.max_new_tokens), limits.sample, limits.seed
            ),
        )
        generation = [r.request for r in requests]
        answers = []
        for engine in (self._baseline_engine(), self.request.getfixturevalue("candidate_engine")):
            with _skip_if_unavailable(engine):
                answers.append(engine.generate(generation, 1))
        self._baseline_source = "live"
        return self._attach(canary.evaluate(requests, answers[0], answers[1], limits))

    # -- plumbing ---------------------------------------------------------------------------
    def _cases(self, given: Sequence[Any] | None, default: Callable[[], list[Any]]) -> list[Any]:
        try:
            return list(given) if given is not None else default()
        except ConfigError as exc:
            pytest.fail(str(exc), pytrace=False)

    def _answers(
        self, case_ids: Sequence[str], requests: Sequence[GenerationRequest], top_k: int
    ) -> tuple[list[Generation], list[Generation]]:
        """The baseline's answers (from its record when valid, else one batched engine call,
        recorded) and the candidate's (one batched call)."""
        recorded = self._load_or_record(
            {cid: req.record_key() for cid, req in zip(case_ids, requests)},
            lambda: [g.to_record() for g in self._baseline_engine().generate(requests, top_k)],
        )
        engine = self.request.getfixturevalue("candidate_engine")
        with _skip_if_unavailable(engine):
            candidate = engine.generate(requests, top_k)
        return [Generation.from_record(r) for r in recorded], candidate

    def _load_or_record(self, keys: Mapping[str, Any], run_baseline: Callable[[], list[Any]]) -> list[Any]:
        if self.state.live_baseline:  # --quant-live-baseline: the baseline answers now; nothing is recorded
            self._baseline_source = "live"
            return list(run_baseline())
        try:
            recorded, self._baseline_source = self._records().load_or_record(keys, run_baseline, environment=describe())
        except RecordError as exc:
            pytest.fail(str(exc), pytrace=False)
        return recorded

    def _require_guided_json(self) -> None:
        # The baseline engine runs only when its answers are re-recorded.
        for role in ("candidate_engine", "baseline_engine") if self.snapshot.update_snapshots else ("candidate_engine",):
            engine = self.request.getfixturevalue(role)
            if not getattr(engine, "guided_json", False):
                pytest.skip(f"{engine.spec.name} ({engine.spec.engine} engine) has no constrained JSON decoding")

    def _records(self) -> BaselineRecords:
        return BaselineRecords(
            self.snapshot,
            test_name=self.request.node.originalname,
            baseline=self.baseline.name,
            fingerprint=fingerprint(self.baseline, self.state.cache_dir),
            refresh=self._refresh_command(),
        )

    def _refresh_command(self) -> str:
        """The command that re-records this test's baseline file (the candidate's run records
        its baseline's answers: the baseline engine runs once, the candidate's is compared)."""
        marker = next((m.name for m in self.request.node.iter_markers() if m.name in GATES), None)
        selection = f" -m {marker}" if marker else f" -k {self.request.node.originalname}"
        suite = " --quantgate-suite=only" if self.request.node.nodeid.startswith("quantgate-suite/") else ""
        return f"pytest --quant-candidate={self.candidate.name}{suite}{selection} --snapshot-update"

    def _baseline_engine(self) -> Any:
        return self.request.getfixturevalue("baseline_engine")

    def _attach(self, verdict: GateVerdict) -> GateVerdict:
        """Put the verdict in the run's report (through user_properties, so xdist workers'
        verdicts reach the controller) and hand it back to the test."""
        pool = self.state.engine_pool()
        engine = pool.loaded(self.candidate.name)  # the latency gate serves; it loads no engine
        engines = {
            "acquired_this_session": list(pool.acquired),
            "baseline_loaded": pool.is_loaded(self.baseline.name),
            "candidate_stats": asdict(engine.stats) if engine is not None else {},
        }
        entry = gate_entry(
            self.candidate.name,
            verdict,
            test=self.request.node.nodeid,
            baseline=self.baseline.name,
            baseline_source=self._baseline_source,
            engines=engines,
        )
        self.request.node.user_properties.append((PROPERTY, entry))
        return verdict


@contextlib.contextmanager
def _skip_if_unavailable(engine: Any) -> Iterator[None]:
    """A feature the engine lacks (prompt log-probs over HTTP, say) skips the gate with why."""
    try:
        yield
    except EngineUnavailable as exc:
        pytest.skip(f"quantgate: {engine.spec.name} ({engine.spec.engine} engine): {exc}")


def _regression_limits(configured: Any, cases: Sequence[Any] | None, given: Any) -> Any:
    """Cases handed in by a test are regression cases: unless the test passes thresholds,
    none that held for the baseline may be lost."""
    if given is not None:
        return given
    return replace(configured, decision="every_case") if cases is not None else configured
