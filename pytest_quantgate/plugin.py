"""pytest hooks and fixtures: options, markers, candidate parametrization, the report.

Thin on purpose: it wires config, engines, gates and the report together and computes
nothing itself. Nothing heavy is imported or loaded unless `--quant-candidate` is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import shlex

import pytest

from . import atomic, records
from . import config as qconfig
from .config import CandidateSpec, ConfigError, QuantgateConfig
from .errors import QuantgateError
from .gates import registry
from .outcomes import gate_outcome, reason, usage_outcome
from .records import BASELINE_OF, SNAPSHOT_DIR
from .release.verdict_report import GATE_TAG, PROPERTY, RunReport, format_table

if TYPE_CHECKING:
    from .engines.base import Engine
    from .harness import GateHarness

_STATE = pytest.StashKey["QuantgateState"]()



@dataclass
class QuantgateState:
    """Per-process plugin state (each xdist worker has its own)."""

    config: QuantgateConfig | None = None
    candidates: list[CandidateSpec] = field(default_factory=list)
    cache_dir: Path = Path()
    snapshot_dir: Path = Path()
    report_path: Path | None = None
    report: RunReport | None = None
    pool: Any = None  # engines.pool.EnginePool, created on first use
    suite: bool = False  # whether the built-in gate suite is collected
    live_baseline: bool = False  # the baseline answers live (a route, a canary): no records
    write_errors: list[str] = field(default_factory=list)  # records or reports that could not be written
    # A live baseline's answers in this session, by (baseline, top-k, request): candidates
    # gated against the same live baseline (a route) ask it each request once.
    live_answers: dict[tuple[str, int, str], Any] = field(default_factory=dict)
    # The baseline's answers recorded in this session, by (record, case, request): under
    # --snapshot-update the candidates that share a record re-write it from one baseline run.
    recorded_answers: dict[tuple[str, str, str], Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return bool(self.candidates)

    def engine_pool(self) -> Any:
        if self.pool is None:
            from .engines.pool import EnginePool

            self.pool = EnginePool(self.cache_dir)
        return self.pool


def state_of(config: pytest.Config) -> QuantgateState:
    return config.stash[_STATE]


# -- options -------------------------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("quantgate", "quantized-model release gates")
    group.addoption(
        "--quant-candidate",
        metavar="NAME",
        help="candidate(s) to gate: a name, a comma list, or 'all'. Without it gate tests are skipped.",
    )
    group.addoption("--quant-baseline", metavar="NAME", help="override the configured baseline.")
    group.addoption(
        "--quant-live-baseline",
        action="store_true",
        help="the baseline answers live in every gate (a live baseline route for a canary); records are neither read nor written.",
    )
    group.addoption("--quantgate-report", metavar="PATH", help="write the JSON report to PATH.")
    group.addoption(
        "--quantgate-config",
        metavar="PATH",
        help="config file (default: quantgate.toml, else [tool.quantgate] in pyproject.toml).",
    )
    group.addoption(
        "--quantgate-suite",
        choices=("auto", "only", "no"),
        default=None,
        help="the built-in gate suite: auto (added when no test paths are given), only, or no.",
    )
    parser.addini("quantgate_config", "default for --quantgate-config")
    parser.addini("quantgate_report", "default for --quantgate-report")
    parser.addini("quantgate_suite", "default for --quantgate-suite (auto)", default="auto")
    parser.addini("quantgate_cache_dir", "where converted demo weights and other artifacts are cached")
    parser.addini("quantgate_snapshot_dir", "baseline records folder (default: golden_snapshots)")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    with usage_outcome():
        gates = registry.gates()
    for gate in gates.values():
        config.addinivalue_line("markers", f"{gate.name}: quantgate gate: {gate.help}")
    # Set on every candidate's tests (pytest-xdist's own, registered here too for runs without it).
    config.addinivalue_line("markers", "xdist_group(name): keep a candidate's tests on one xdist worker")
    state = QuantgateState()
    config.stash[_STATE] = state
    names = config.getoption("quant_candidate")
    if names is None:
        return
    with usage_outcome():
        if not names.strip():
            raise ConfigError("--quant-candidate is empty; give a candidate name, a comma list, or 'all'")
        _activate(config, state, names)


def _activate(config: pytest.Config, state: QuantgateState, names: str) -> None:
    from . import engines, models

    root = config.rootpath
    explicit = config.getoption("quantgate_config") or config.getini("quantgate_config") or None
    state.config = qconfig.load(root, explicit, registry.settings_types())
    state.candidates = state.config.select(names, config.getoption("quant_baseline"))
    state.live_baseline = bool(config.getoption("quant_live_baseline"))
    for spec in state.candidates:
        for checked in (spec, state.config.baseline_for(spec)):
            try:
                engines.check_spec(checked)
            except ConfigError as exc:
                raise ConfigError(f"invalid quantgate config in {state.config.path}:\n  {exc}") from None
    cache_ini = config.getini("quantgate_cache_dir")
    state.cache_dir = state.config.cache_dir or (Path(cache_ini) if cache_ini else models.default_cache_dir())
    for spec in {s.name: s for c in state.candidates for s in (c, state.config.baseline_for(c))}.values():
        if not config.option.collectonly:
            engines.check_reachable(spec)
        missing = models.missing_artifact(spec.model, state.cache_dir)
        if missing:
            raise ConfigError(f"candidate {spec.name}: {missing}")
    snap_ini = config.getini("quantgate_snapshot_dir")
    state.snapshot_dir = state.config.snapshot_dir or root / (snap_ini or "golden_snapshots")
    config.stash[SNAPSHOT_DIR] = state.snapshot_dir
    config.stash[BASELINE_OF] = {c.name: state.config.baseline_for(c).name for c in state.candidates}
    report = config.getoption("quantgate_report") or config.getini("quantgate_report")
    state.report_path = Path(report) if report else None
    if state.report_path is not None and not state.report_path.is_absolute():
        state.report_path = Path(config.invocation_params.dir) / state.report_path
    problem = atomic.unwritable(state.report_path) if state.report_path is not None else None
    if problem:
        raise ConfigError(f"--quantgate-report={report}: {problem}; give a file path in a folder you can write")
    state.report = RunReport(
        candidates=state.candidates,
        baselines={c.name: state.config.baseline_for(c) for c in state.candidates},
    )
    config.pluginmanager.register(_ReportCollector(state, config), "quantgate-report")
    if config.option.verbose <= 0:
        _quiet_engine_libraries()
    mode = _suite_mode(config)
    state.suite = mode == "only" or (mode == "auto" and config.args_source != pytest.Config.ArgsSource.ARGS)


def _quiet_engine_libraries() -> None:
    """Model loading and conversion print progress bars and load-time warnings that bury a
    failure's message; below -v they are off (the report keeps what the gates measured)."""
    import logging
    import os
    import warnings

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")  # tqdm >= 4.66 reads it: conversion and calibration bars
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")  # vLLM's engine processes read it at start
    for name in ("torchao", "optimum.quanto", "accelerate", "llama_cpp", "vllm", "lm_eval"):
        logging.getLogger(name).setLevel(logging.ERROR)
    for module in ("torchao", "optimum.quanto", "transformers", "torch.ao"):
        warnings.filterwarnings("ignore", module=module)


def _suite_mode(config: pytest.Config) -> str:
    """auto: the built-in suite joins a run given no test paths; only: it runs alone; no: never."""
    mode = config.getoption("quantgate_suite") or config.getini("quantgate_suite") or "auto"
    if mode not in ("auto", "only", "no"):
        raise ConfigError(f"ini quantgate_suite = {mode!r}; allowed values: 'auto', 'only', 'no'")
    if mode == "only":
        config.args[:] = []  # nothing but the suite is collected
    return mode


# -- parametrization and fixtures ----------------------------------------------------------
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    state = state_of(metafunc.config)
    if "quant_candidate" in metafunc.fixturenames and state.active:
        metafunc.parametrize(
            "quant_candidate",
            state.candidates,
            ids=[c.name for c in state.candidates],
            indirect=True,
            scope="session",
        )


SUITE_NODE_PREFIX = "quantgate-suite"


def _collect_suite(session: pytest.Session) -> list[pytest.Item]:
    """The built-in `suite/gate_*.py` modules and registered gates' own suite modules, with
    short stable node ids wherever installed."""
    items: list[pytest.Item] = []
    builtin = sorted((Path(__file__).parent / "suite").glob("gate_*.py"))
    for path in [*builtin, *(p for gate in registry.gates().values() for p in gate.suite)]:
        module = pytest.Module.from_parent(session, path=path, nodeid=f"{SUITE_NODE_PREFIX}/{path.name}")
        collected: list[Any] = []  # Items (CollectReport takes Items and Collectors)
        stack: list[Any] = [module]
        while stack:
            node = stack.pop(0)
            for child in node.collect():
                (collected if isinstance(child, pytest.Item) else stack).append(child)
        # Counted as collected like any test file's items (pytest's header, --collect-only).
        session.ihook.pytest_collectreport(report=pytest.CollectReport(module.nodeid, "passed", None, collected))
        items.extend(collected)
    return items


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Add the built-in suite (before -m/-k deselection sees the items), then tag every gate
    test so that the report accounts for it even if it errors or skips."""
    state = state_of(config)
    gates = registry.gates()
    if state.suite:
        items.extend(_collect_suite(session))
    for item in items:
        gate = next((m.name for m in item.iter_markers() if m.name in gates), None)
        spec = getattr(item, "callspec", None)
        candidate = spec.params.get("quant_candidate") if spec else None
        if gate and isinstance(candidate, CandidateSpec):
            item.user_properties.append((GATE_TAG, {"gate": gate, "candidate": candidate.name}))
        if isinstance(candidate, CandidateSpec):
            # `-n N --dist loadgroup`: a candidate's tests stay on one worker, which loads
            # its engine once (with plain `-n N` each worker that gets one of them loads it).
            item.add_marker(pytest.mark.xdist_group(candidate.name))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        records.SKIPPED_TESTS.add(report.nodeid)


def pytest_collection_finish(session: pytest.Session) -> None:
    """The gate tests selected to run, so that a run that ends early says which did not."""
    report = state_of(session.config).report
    if report is None or session.config.option.collectonly:
        return
    for item in session.items:
        tag: Any = dict(item.user_properties).get(GATE_TAG)
        if tag is not None:
            report.expected.append({"candidate": tag["candidate"], "gate": tag["gate"], "test": item.nodeid})


@pytest.fixture(scope="session")
def quantgate_config(request: pytest.FixtureRequest) -> QuantgateConfig:
    state = state_of(request.config)
    if state.config is None:
        pytest.skip("quantgate: no --quant-candidate given")
    return state.config


@pytest.fixture(scope="session")
def quant_candidate(request: pytest.FixtureRequest) -> CandidateSpec:
    """The candidate under test (the tests are parametrized over --quant-candidate)."""
    if not hasattr(request, "param"):
        pytest.skip("quantgate: no --quant-candidate given")
    return request.param


@pytest.fixture(scope="session")
def quant_baseline(quant_candidate: CandidateSpec, quantgate_config: QuantgateConfig) -> CandidateSpec:
    return quantgate_config.baseline_for(quant_candidate)


def _engine(config: pytest.Config, spec: CandidateSpec) -> Engine:
    from .engines.base import EngineUnavailable

    with gate_outcome():
        try:
            return state_of(config).engine_pool().get(spec)
        except EngineUnavailable as exc:
            raise EngineUnavailable(f"{spec.name} cannot run here: {exc}") from exc


@pytest.fixture(scope="session")
def candidate_engine(request: pytest.FixtureRequest, quant_candidate: CandidateSpec) -> Iterator[Engine]:
    """The candidate's engine, loaded once; released when the next candidate's tests begin."""
    yield _engine(request.config, quant_candidate)
    state = state_of(request.config)
    assert state.config is not None  # the candidate fixture is parametrized only when configured
    if quant_candidate.name not in {state.config.baseline_for(c).name for c in state.candidates}:
        state.engine_pool().release(quant_candidate.name)


@pytest.fixture(scope="session")
def baseline_engine(request: pytest.FixtureRequest, quant_baseline: CandidateSpec) -> Engine:
    """The baseline's engine. Gates read recorded baseline answers instead when they can."""
    return _engine(request.config, quant_baseline)


@pytest.fixture
def quantgate(request: pytest.FixtureRequest, quant_candidate: CandidateSpec, snapshot: Any) -> "GateHarness":
    """Runs gates for the current candidate from a test: `quantgate.golden(cases)`."""
    from .harness import GateHarness

    state = state_of(request.config)
    return GateHarness(request, state, quant_candidate, snapshot)


# -- report --------------------------------------------------------------------------------
def _engine_work(gate_stats: dict[str, Any]) -> str:
    """The gate's own engine time by kind: a scoring gate (drift) generates nothing, so a bare
    "generating 0.0 s" would hide where its time went."""
    generate_s, score_s = gate_stats.get("generate_s", 0.0), gate_stats.get("score_s", 0.0)
    parts = [f"generating {generate_s:.1f} s"] if generate_s or not score_s else []
    if score_s:
        parts.append(f"scoring {score_s:.1f} s")
    return ", " + ", ".join(parts)


class _ReportCollector:
    """Turns test reports into report entries; on the xdist controller it sees every worker's."""

    def __init__(self, state: QuantgateState, config: pytest.Config) -> None:
        self.state = state
        self.config = config

    def _progress(self, entry: dict[str, Any]) -> None:
        """One line per gate as it finishes (cases, engine, seconds, verdict): a long run is
        not silent between dots, and the line says where the time went."""
        terminal = self.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is None or self.config.option.collectonly:
            return
        cases = entry.get("metrics", {}).get("cases") or len(entry.get("cases", ()))
        stats = entry.get("engines", {}).get("gate_stats") or {}
        engine = next((c.engine for c in self.state.candidates if c.name == entry["candidate"]), "?")
        mode = entry.get("metrics", {}).get("mode")
        gate = f"{entry['gate']}[{mode}]" if mode else entry["gate"]
        if terminal._tw.width_of_current_line:  # after the progress dots, on a line of its own
            terminal._tw.line()
        terminal.write_line(
            f"quantgate: {entry['candidate']} {gate}: {entry['verdict'].upper()}"
            + (f", {cases} cases" if cases else "")
            + f", {entry['seconds']:.1f} s ({engine} engine{_engine_work(stats)})"
            + f", baseline from {entry.get('baseline_source', '?')}"
        )

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: Sequence[str]) -> None:
        """The controller sees no items, only the ids its workers will run."""
        if self.state.report is not None:
            self.state.report.expected_tests.update(ids)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.state.report is not None and (report.when == "call" or (report.when == "setup" and not report.passed)):
            self.state.report.finished_tests.add(report.nodeid)
        props: dict[str, Any] = dict(report.user_properties)
        tag = props.get(GATE_TAG)
        if tag is None or self.state.report is None:
            return
        entry = props.get(PROPERTY)
        if entry is not None and report.when == "call":
            if report.outcome == "failed" and entry["verdict"] == "pass":
                entry = {**entry, "verdict": "error", "reason": "the test failed after the gate passed"}
            entry = {**entry, "seconds": round(report.duration, 1)}  # the gate test's wall time, its engine's load included
            self.state.report.add(entry)
            self._progress(entry)
        elif entry is None and (report.failed or report.skipped) and report.when in ("setup", "call"):
            verdict = "skipped" if report.skipped else "error"
            self.state.report.add_outcome(
                tag["candidate"], tag["gate"], report.nodeid, verdict, _longrepr_line(report)
            )


def _longrepr_line(report: pytest.TestReport) -> str:
    """The reason a gate test ended without a verdict: the error that ended it (the outermost,
    which carries the plugin's own message), not the first line of its chain of causes."""
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and crash.message:
        kind, _, message = crash.message.partition(": ")
        # "pytest_quantgate.engines.openai.EndpointError: ..." -> the message; others keep their class
        text = message if (kind.startswith("pytest_quantgate.") or kind == "Failed") and message else crash.message
        return text.strip().splitlines()[0] if text.strip() else "error"
    text = str(report.longrepr or "").strip().removeprefix("Failed: ")  # pytest.fail(pytrace=False)
    return text.splitlines()[0] if text else "error"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After syrupy's (tryfirst) has written the records: stop engines, write the report."""
    from .records import WRITE_FAILURES

    state = state_of(session.config)
    if state.pool is not None:
        state.pool.close()
    state.write_errors.extend(WRITE_FAILURES)
    WRITE_FAILURES.clear()
    if state.report is not None:
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            state.report.stopped = "interrupted before every selected gate test had run"
        elif session.shouldstop or session.shouldfail:
            state.report.stopped = f"stopped early: {session.shouldstop or session.shouldfail}"
    _write_report(session, state)
    if state.write_errors:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _write_report(session: pytest.Session, state: QuantgateState) -> None:
    if state.report is None or state.report_path is None or hasattr(session.config, "workerinput"):
        return
    from .environment import describe
    from .release import manifest, release_report

    data = state.report.to_dict(describe())
    data["invocation"] = {
        "command": shlex.join(["pytest", *map(str, session.config.invocation_params.args)]),
        "plugin_version": _plugin_version(),
    }
    try:
        manifests = manifest.write_all(
            data, {c.name: c for c in state.candidates}, state.report.baselines, state.cache_dir, state.report_path
        )
        for entry in data["candidates"]:  # the weights each verdict is about, in the report's header
            entry["model_sha256"] = manifest.model_hashes(manifest.read(manifests[entry["name"]]))
        atomic.write_json(state.report_path, data)
        release_report.write(data, state.report_path, manifests)
    except (OSError, QuantgateError) as exc:  # the verdict table is still printed, with why
        state.write_errors.append(f"the report could not be written to {state.report_path}: {reason(exc)}")


def _plugin_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pytest-quantgate")
    except PackageNotFoundError:
        return "unknown"


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = state_of(config)
    if hasattr(config, "workerinput"):
        return
    for problem in state.write_errors:
        terminalreporter.write_line(f"quantgate: {problem}", red=True)
    if state.report is None or config.option.collectonly:
        return
    terminalreporter.section("quantgate verdicts")
    rows = state.report.table_rows()
    if not rows:
        terminalreporter.write_line("no gate ran (check -m / -k selections)")
        return
    for line in format_table(rows):
        terminalreporter.write_line(line)
    incomplete = state.report.incomplete()
    if incomplete is not None:
        missing = [f"{e['candidate']} {e['gate']}" if "gate" in e else e["test"] for e in incomplete["not_run"]]
        terminalreporter.write_line(
            f"INCOMPLETE: {incomplete['reason']}; no candidate passes this run"
            + (f"; did not run: {', '.join(missing)}" if missing else ""),
            red=True,
        )
    if state.report_path is not None:
        terminalreporter.write_line(f"report: {state.report_path}")
