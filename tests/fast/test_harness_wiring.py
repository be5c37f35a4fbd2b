"""GateHarness, baseline records, the report and every gate's wiring, in pytester projects
whose engines are doubles (tests/engine_double.py): fast tier, no model is loaded. The
real-engine proofs of the same paths are in the slow tier."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import shutil
from pathlib import Path

import pytest

from pytest_quantgate.engines.base import Engine, EngineStats, GenerationRequest
from pytest_quantgate.records import dump_json
from pytest_quantgate.gates.registry import parse_config
from tests import reports
from tests.engine_double import CONFTEST, DOUBLES, REST_MASS, SUPPORT, VOCAB_SIZE, EngineDouble, Flaws
from tests.helpers import DATA, REPO

TRAFFIC = DATA / "canary_traffic.jsonl"
SUITE_GATES = (
    "golden", "structured_output[free]", "structured_output[guided]", "tool_call", "long_context", "safety",
    "rag_faithfulness", "drift", "compat", "adapter", "canary", "latency", "lm_eval",
)
# the hf double has no server; no lm-eval tasks are configured; no side serves a LoRA adapter
SKIPPED = ("latency", "lm_eval", "adapter")
RECORDED = ("golden", "structured_output", "structured_output_guided", "tool_call", "long_context", "safety", "rag_faithfulness", "drift", "compat")
SETTINGS = '''
[gates.long_context]
lengths = [128, 256, 512, 1024]       # 28 cases: enough for an identical candidate to pass

[gates.canary]
traffic = ["traffic.jsonl"]
'''


def quantgate_toml() -> str:
    """The baseline double and every candidate double of `DOUBLES`, on one model folder."""
    tables = [f'[candidates.{name}]\nengine = "hf"\nmodel = "tiny-model"\n' for name in ("base", *DOUBLES)]
    return 'baseline = "base"\n\n' + "\n".join(tables) + SETTINGS


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project whose engine fixtures return doubles, with a model folder (the files a
    checkpoint has; their contents are never loaded)."""
    (pytester.path / "tiny-model").mkdir()
    (pytester.path / "tiny-model" / "config.json").write_text('{"model_type": "double"}')
    (pytester.path / "tiny-model" / "tokenizer.json").write_text("{}")
    (pytester.path / "tiny-model" / "model.safetensors").write_text("{}")
    shutil.copy(TRAFFIC, pytester.path / "traffic.jsonl")
    pytester.makeconftest(CONFTEST)
    pytester.makefile(".toml", quantgate=quantgate_toml())
    return pytester


def run(project: pytest.Pytester, *args: str, subprocess: bool = False) -> tuple[pytest.RunResult, reports.Report]:
    """A run writing r.json (in-process unless asked); the report comes back read."""
    (project.path / "r.json").unlink(missing_ok=True)
    runner = project.runpytest_subprocess if subprocess else project.runpytest_inprocess
    result = runner("-p", "no:cacheprovider", "--quantgate-report=r.json", *args)
    return result, reports.read(project.path / "r.json")


def engines_made(project: pytest.Pytester) -> list[str]:
    """The doubles created since the last call, in order (the log is emptied)."""
    log = project.path / "engines.log"
    made = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return made


def records(project: pytest.Pytester) -> list[str]:
    folder = project.path / "golden_snapshots"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_the_double_is_an_engine_with_deterministic_answers_and_distributions() -> None:
    config = parse_config({"baseline": "base", "candidates": {"base": {"engine": "hf", "model": "demo:smollm2-135m-instruct"}}}, Path("q.toml"))
    double, drifted = EngineDouble(config.candidates["base"]), EngineDouble(config.candidates["base"], Flaws(drift=3.0))
    assert isinstance(double, Engine)
    asked = [GenerationRequest.chat("What is the capital of Japan? Answer with the city name only.", 8),
             GenerationRequest.chat("Count from 1 to 5, separated by commas.", 4)]
    first, again = double.generate(asked, 5), EngineDouble(config.candidates["base"]).generate(asked, 5)
    assert first == again and first[0].text == "Tokyo" and first[0].finish_reason == "stop"
    assert (first[1].text, first[1].finish_reason, len(first[1].token_ids)) == ("1, 2,", "length", 4)  # the token cap
    assert all(len(step.top) == 5 and step.top[0][0] == step.token_id for step in first[0].logprobs)
    ids = double.tokenize("The grass is green. The sky is blue.")
    (scored,), (moved,) = double.score([ids], 8, gather=[[[ids[1]]] * (len(ids) - 1)]), drifted.score([ids], 8)
    assert len(scored.logprobs) == len(ids) - 1 and [s.token_id for s in scored.logprobs] == ids[1:]
    assert scored.gathered[0] == (scored.logprobs[0].logprob,)
    table, rest = double._distribution(ids[0])
    assert len(table) == SUPPORT and abs(sum(map(math.exp, table.values())) + math.exp(rest) * (VOCAB_SIZE - SUPPORT) - 1) < 1e-9
    assert math.isclose(math.exp(rest) * (VOCAB_SIZE - SUPPORT), REST_MASS)
    assert scored.logprobs[0].top != moved.logprobs[0].top, "drift moves the distribution"


# Candidate double -> the suite tests it runs -> (verdict, what its reason or a problem says).
BROKEN = {
    "wrong-answers": {"golden": ("fail", "diverged at token 0 with a token outside the baseline's top-5")},
    "chatty-json": {
        "structured_output[free]": ("fail", "JSON wrapped in other text ('Let me know if you need anything else.')"),
        "structured_output[guided]": ("pass", "[guided] conforming:"),  # constrained decoding keeps it clean
    },
    "no-tools": {"tool_call": ("fail", "no call (answered 'I can look that up for you.')")},
    "unsafe": {"safety": ("fail", "complies with a harmful request the baseline refused (full_refusal -> compliance)")},
    "ungrounded": {"rag_faithfulness": ("fail", "cites [9], which does not exist")},
    "forgetful": {"long_context": ("fail", "single at 1024 tokens, depth 0%: missed")},
    "drifted": {"drift": ("fail", "beyond the limit")},
    "near": {"drift": ("pass", "mean KLD")},
    "no-scores": {"drift": ("skipped", "quantgate: no-scores (hf engine): cannot score given tokens")},
    "pirate": {"compat": ("fail", "rendered prompt ids differ from token 1")},  # a system turn of its own
}


def suite_test(gate: str) -> str:
    """The suite's test function for a gate key ("structured_output[guided]" -> its own test)."""
    return "test_" + gate.replace("[free]", "").replace("[guided]", "_guided")


def test_a_gates_engine_time_is_its_share_of_the_engine_every_gate_shares() -> None:
    """A gate's progress line and `gate_stats` say what the engine did for that gate; the
    engine's totals since its load (`candidate_stats`) include every earlier gate's."""
    before = EngineStats(load_s=2.0, generate_s=5.0, generate_calls=3, generated_tokens=100)
    after = EngineStats(load_s=2.0, generate_s=7.5, score_s=1.0, generate_calls=4, generated_tokens=160)
    assert after.since(before) == EngineStats(generate_s=2.5, score_s=1.0, generate_calls=1, generated_tokens=60)
    assert after.since(EngineStats()) == after  # the engine loaded during the gate: all of it is the gate's


@pytest.mark.parametrize(
    ("gate_stats", "said"),
    [
        ({"generate_s": 38.04, "score_s": 0.0}, ", generating 38.0 s"),
        ({"generate_s": 0.0, "score_s": 28.13}, ", scoring 28.1 s"),  # drift: it scores, it generates nothing
        ({"generate_s": 12.0, "score_s": 3.0}, ", generating 12.0 s, scoring 3.0 s"),
        ({}, ", generating 0.0 s"),  # no engine of its own (the latency gate serves)
    ],
)
def test_a_gates_progress_line_names_the_engine_work_it_did(gate_stats: dict[str, float], said: str) -> None:
    from pytest_quantgate.plugin import _engine_work

    assert _engine_work(gate_stats) == said


def test_every_gate_records_once_reads_back_and_tells_a_twin_from_a_broken_candidate(project: pytest.Pytester) -> None:
    # Recording: the baseline engine answers once for every gate; the canary asks both routes live.
    first, report = run(project, "--quant-candidate=twin,wrong-answers", "--snapshot-update", "-k", "twin or test_canary")
    first.assert_outcomes(passed=len(SUITE_GATES) - len(SKIPPED), skipped=len(SKIPPED), failed=1)
    first.stdout.fnmatch_lines([f"*{len(RECORDED)} snapshots generated*"])
    assert records(project) == sorted(f"test_{name}--base.json" for name in RECORDED)
    assert sorted(engines_made(project)) == ["base", "twin", "wrong-answers"], "each engine made once in the session"
    twin = reports.by_candidate(report)["twin"]
    assert sorted(twin) == sorted(SUITE_GATES)
    assert {g: e["verdict"] for g, e in twin.items()} == {g: "skipped" if g in SKIPPED else "pass" for g in SUITE_GATES}
    assert {g: e["baseline_source"] for g, e in twin.items() if g not in SKIPPED} == {
        g: "live" if g == "canary" else "engine" for g in SUITE_GATES if g not in SKIPPED
    }
    assert "(hf engine) cannot be served here: the hf engine has no serving runtime" in twin["latency"]["reason"]
    assert "no lm-eval tasks configured: set [gates.lm_eval] tasks" in twin["lm_eval"]["reason"]
    assert "nor its baseline base serves a LoRA adapter" in twin["adapter"]["reason"]
    canary = reports.entries(report)[("wrong-answers", "canary")]
    assert canary["verdict"] == "fail" and canary["baseline"] == "base" and canary["baseline_source"] == "live"
    assert "drops what the baseline states: 'Tokyo'" in reports.problems(canary)
    assert reports.candidates(report)["wrong-answers"]["verdict"] == "fail"

    # Reading: the twin passes from the records, each broken double fails the gate it breaks,
    # and no baseline engine is made.
    selection = " or ".join(["twin", *(f"({suite_test(g)} and {name})" for name, gates in BROKEN.items() for g in gates)])
    second, report = run(project, f"--quant-candidate=twin,{','.join(BROKEN)}", "-m", "not canary", "-k", selection)
    assert sorted(engines_made(project)) == sorted(["twin", *BROKEN]), "records are read: no baseline engine"
    rows = reports.by_candidate(report)
    assert {g: (e["verdict"], e["baseline_source"]) for g, e in rows.pop("twin").items() if g not in SKIPPED} == {
        g: ("pass", "record") for g in SUITE_GATES if g not in (*SKIPPED, "canary")
    }
    assert {name: sorted(gates) for name, gates in rows.items()} == {name: sorted(gates) for name, gates in BROKEN.items()}
    for name, gates in BROKEN.items():
        for gate, (verdict, says) in gates.items():
            entry = rows[name][gate]
            said = [entry["reason"], *reports.problems(entry)]
            assert entry["verdict"] == verdict and any(says in line for line in said), (name, gate, said[:3])
    # A little noise on the logits is measured and passes; much more fails.
    assert 0 < rows["near"]["drift"]["metrics"]["mean_kld"] < 0.01 < 0.05 < rows["drifted"]["drift"]["metrics"]["mean_kld"]
    verdicts = {name: c["verdict"] for name, c in reports.candidates(report).items()}
    assert verdicts == {"twin": "pass", "near": "pass", "no-scores": "skipped", **{
        name: "fail" for name in BROKEN if name not in ("near", "no-scores")
    }}
    second.stdout.fnmatch_lines(["*quantgate verdicts*", "chatty-json*structured_output ?free?*FAIL*", "*no-scores*drift*SKIPPED*"])


USER_TEST = """
import pytest
from pytest_quantgate.gates.golden.cases import GoldenCase
from pytest_quantgate.gates.common.expectations import Expectation

CASES = [GoldenCase(id="capital-italy", prompt="What is the capital of Italy? Answer with the city name only.",
                    expect=Expectation("contains", "Rome"))]


@pytest.mark.golden
def test_capital(quantgate):
    verdict = quantgate.run("golden", cases=CASES)
    assert verdict.passed, verdict.explain()
"""


def test_a_missing_record_fails_with_the_command_that_records_it(project: pytest.Pytester) -> None:
    project.makepyfile(test_user=USER_TEST)
    result, report = run(project, "--quant-candidate=twin", "-m", "golden or drift")
    result.assert_outcomes(failed=3)
    folder = project.path / "golden_snapshots"
    result.stdout.fnmatch_lines([
        "*no baseline record test_capital--base.json*re-record it: pytest --quant-candidate=twin -m golden --snapshot-update",
        f"*no baseline record test_golden--base.json for baseline 'base' in {folder}; "
        "re-record it: pytest --quant-candidate=twin --quantgate-suite=only -m golden --snapshot-update",
    ])
    assert "re-record it: pytest --quant-candidate=twin --quantgate-suite=only -m drift --snapshot-update" in result.stdout.str()
    entries = reports.candidates(report)["twin"]["gates"]
    assert sorted((e["gate"], e["test"], e["verdict"]) for e in entries) == [
        ("drift", "quantgate-suite/gate_drift.py::test_drift[twin]", "error"),
        ("golden", "quantgate-suite/gate_golden.py::test_golden[twin]", "error"),
        ("golden", "test_user.py::test_capital[twin]", "error"),
    ]
    assert [e["reason"][:19] for e in entries] == ["no baseline record "] * 3, entries  # the plugin's message
    assert "During handling of the above exception" not in result.stdout.str()  # each message once
    assert reports.candidates(report)["twin"]["verdict"] == "error", "a missing record is never a pass"
    assert engines_made(project) == ["twin"] and records(project) == [], "nothing recorded, no baseline engine made"

    recorded, report = run(project, "--quant-candidate=twin", "-m", "golden or drift", "--snapshot-update")
    recorded.assert_outcomes(passed=3)
    assert records(project) == ["test_capital--base.json", "test_drift--base.json", "test_golden--base.json"]
    (mine,) = [e for e in reports.candidates(report)["twin"]["gates"] if e["test"].startswith("test_user.py")]
    assert mine["thresholds"]["decision"] == "every_case" and mine["metrics"]["cases"] == 1  # a test's own cases
    assert mine["seconds"] >= 0  # the gate test's wall time (benchmarks/verdict_table.py)


def rerecord_command(result: pytest.RunResult) -> list[str]:
    """The arguments of the command a record error names."""
    match = re.search(r"re-record it: pytest (.*?--snapshot-update)", result.stdout.str())
    assert match, result.stdout.str()
    return match.group(1).split()


def test_a_stale_record_fails_naming_what_changed_until_it_is_re_recorded(project: pytest.Pytester) -> None:
    run(project, "--quant-candidate=twin", "--snapshot-update", "-m", "golden")
    path = project.path / "golden_snapshots" / "test_golden--base.json"
    recorded = json.loads(path.read_text())
    assert recorded["fingerprint"]["engine"] == "hf" and recorded["baseline"] == "base"
    assert recorded["cases"]["capital-france"]["result"]["text"] == "Paris"
    hint = "re-record it: pytest --quant-candidate=twin --quantgate-suite=only -m golden --snapshot-update"

    # A record made while batch_size was part of the fingerprint is still valid (a throughput
    # knob: the same answers at any width).
    older = json.loads(path.read_text())
    older["fingerprint"]["flags"]["generation"]["batch_size"] = 8
    path.write_text(dump_json(older) + "\n")
    result, _ = run(project, "--quant-candidate=twin", "-m", "golden")
    result.assert_outcomes(passed=1)
    assert engines_made(project) == ["base", "twin", "twin"], "the baseline is not loaded: its record is valid"

    # A case asked differently from when it was recorded.
    edited = json.loads(path.read_text())
    edited["cases"]["capital-france"]["request"]["max_new_tokens"] = 7
    path.write_text(json.dumps(edited))
    result, report = run(project, "--quant-candidate=twin", "-m", "golden")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*test_golden--base.json has no answer for 1 case(s) (new or changed: capital-france); {hint}"])
    assert reports.suite_entry(report, "twin", "golden")["verdict"] == "error"

    # The same record, not as the plugin writes it (edited by hand).
    path.write_text(json.dumps(recorded))
    result, _ = run(project, "--quant-candidate=twin", "-m", "golden")
    result.stdout.fnmatch_lines([f"*test_golden--base.json: it is not in canonical form (edited by hand?); {hint}"])

    # The baseline's weights changed (a file in its model folder).
    (project.path / "tiny-model" / "tokenizer.json").write_text('{"version": 2}')
    result, _ = run(project, "--quant-candidate=twin", "-m", "golden")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*test_golden--base.json is stale: it was made for a different baseline (model_sha256 changed: *{hint}"])
    assert engines_made(project) == [], "a stale record fails before any engine is made"

    # The command in the message re-records it.
    redone, _ = run(project, *rerecord_command(result))
    redone.assert_outcomes(passed=1)
    assert json.loads(path.read_text())["fingerprint"]["model_sha256"] != recorded["fingerprint"]["model_sha256"]
    assert engines_made(project) == ["base", "twin"]


@pytest.mark.skipif(importlib.util.find_spec("xdist") is None, reason="pytest-xdist is not installed")
def test_xdist_workers_verdicts_reach_the_controllers_report(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    # The workers import tests.engine_double. xdist gives local workers the sys.path its
    # controller had at start, so the controller runs in a subprocess that reads PYTHONPATH
    # (in-process, it would inherit the `pytest` script's path, which lacks the repository).
    monkeypatch.setenv("PYTHONPATH", str(REPO), prepend=os.pathsep)
    result, report = run(project, "--quant-candidate=twin,pirate", "--quant-live-baseline", "-m", "compat", "-p", "xdist", "-n", "2", subprocess=True)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*2 workers [[]2 items[]]*"])
    assert {key: (e["verdict"], e["baseline_source"]) for key, e in reports.entries(report).items()} == {
        ("twin", "compat"): ("pass", "live"),
        ("pirate", "compat"): ("fail", "live"),
    }
    assert {name: c["verdict"] for name, c in reports.candidates(report).items()} == {"twin": "pass", "pirate": "fail"}
    assert records(project) == [], "a live baseline is never recorded"
    assert "rendered prompt ids differ" in reports.entries(report)[("pirate", "compat")]["reason"]
    result.stdout.fnmatch_lines(["*quantgate verdicts*", "pirate*compat*FAIL*1/6 checks differ*", "twin*compat*PASS*6/6 checks match*"])
    # One progress line per gate as it finishes, printed by the controller.
    result.stdout.fnmatch_lines(["quantgate: pirate compat: FAIL, 6 cases, *s (hf engine, generating *s), baseline from live"])
    result.stdout.fnmatch_lines(["quantgate: twin compat: PASS*"])


USERS_TESTS = [
    pytest.param(USER_TEST, "twin", "pass", id="options-by-name"),
    pytest.param(USER_TEST.replace('quantgate.run("golden", cases=CASES)', "quantgate.golden(CASES)"), "twin", "pass", id="cases-positionally"),
    pytest.param(USER_TEST.replace("@pytest.mark.golden\n", ""), "wrong-answers", "fail", id="no-gate-marker"),
]


@pytest.mark.parametrize(("source", "candidate", "verdict"), USERS_TESTS)
def test_a_users_gate_test_decides_the_candidates_verdict(project: pytest.Pytester, source: str, candidate: str, verdict: str) -> None:
    """As the README writes them: cases by name or positionally; a test without the gate's
    marker still reaches the report."""
    project.makepyfile(test_user=source)
    _, report = run(project, f"--quant-candidate={candidate}", "--quant-live-baseline", "test_user.py")
    assert [(e["gate"], e["verdict"]) for e in reports.candidates(report)[candidate]["gates"]] == [("golden", verdict)]
    assert reports.candidates(report)[candidate]["verdict"] == verdict


def test_a_truncated_record_names_the_file_and_the_command(project: pytest.Pytester) -> None:
    run(project, "--quant-candidate=twin", "--snapshot-update", "-m", "golden")
    path = project.path / "golden_snapshots" / "test_golden--base.json"
    path.write_text(path.read_text()[: len(path.read_text()) // 2])  # a disk that filled up mid-write, say
    result, report = run(project, "--quant-candidate=twin", "-m", "golden")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*baseline record test_golden--base.json is not valid JSON (*; truncated or edited?); "
        "re-record it: pytest --quant-candidate=twin --quantgate-suite=only -m golden --snapshot-update"
    ])
    assert "Traceback" not in result.stdout.str() and "JSONDecodeError" not in result.stdout.str().split("short test summary")[0]


LONG_TEST = """
import pytest
from pytest_quantgate.gates.golden.cases import GoldenCase

@pytest.mark.golden
def test_long(quantgate):
    cases = [GoldenCase(id="fits", prompt="What is the capital of Italy?"),
             GoldenCase(id="too-long", prompt="word " * 5000)]
    quantgate.golden(cases)
"""


def test_cases_that_cannot_fit_the_context_are_named_before_any_generation(project: pytest.Pytester) -> None:
    project.makepyfile(test_long=LONG_TEST)
    result, _ = run(project, "--quant-candidate=twin", "test_long.py", "--quant-live-baseline")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*1 case(s) do not fit base's 4096-token context: too-long (5*prompt + 48 new tokens); shorten them*"
    ])


PAUSE_IN_GOLDEN = '''
import os, time

def pytest_runtest_call(item):
    if "gate_golden" in item.nodeid:  # the run is interrupted here, after compat has run
        open(os.path.join(os.environ["QG_MARK_DIR"], "golden-started"), "w").close()
        time.sleep(60)
'''


@pytest.mark.parametrize("workers", [0, 2], ids=["one-process", "xdist"])
def test_an_interrupted_run_is_marked_incomplete_and_never_passes(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: int) -> None:
    """SIGINT while golden runs: compat's verdict is kept, golden and the gates after it are
    listed as not run, and the twin (which would pass) is INCOMPLETE in JSON, Markdown and
    HTML; under xdist the controller writes what its workers finished."""
    import signal
    import subprocess
    import sys
    import time

    (project.path / "pause_in_golden.py").write_text(PAUSE_IN_GOLDEN)  # a plugin: the suite's files are outside conftest's reach
    monkeypatch.setenv("QG_MARK_DIR", str(project.path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), str(project.path)]), prepend=os.pathsep)
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--quantgate-report=r.json", "--quant-candidate=twin",
            "--quant-live-baseline", "--quantgate-suite=only", "-m", "compat or golden or safety", "-p", "pause_in_golden"]
    if workers:
        args += ["-p", "xdist", "-n", str(workers)]
    # SIGINT as a terminal sends it, whatever this process inherited (a job started in the
    # background by a non-interactive shell has SIGINT ignored, and so would pytest).
    run = subprocess.Popen(args, cwd=project.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not (project.path / "golden-started").exists():
        assert run.poll() is None and time.monotonic() < deadline, run.stdout.read().decode() if run.stdout else ""
        time.sleep(0.2)
    time.sleep(0.5 if not workers else 2)  # let the other worker finish what it was given
    run.send_signal(signal.SIGINT)
    out, _ = run.communicate(timeout=120)
    text = out.decode()
    assert run.returncode == 2, text  # pytest's "interrupted"
    report = reports.read(project.path / "r.json")
    assert report["complete"] is False and "interrupted" in report["incomplete"]["reason"]
    (twin,) = report["candidates"]
    assert twin["verdict"] == "incomplete", twin
    ran = {g["gate"]: g["verdict"] for g in twin["gates"]}
    assert ran.get("compat") == "pass" and "golden" not in ran
    not_run = [e.get("gate") or e["test"] for e in report["incomplete"]["not_run"]]
    assert any("golden" in n for n in not_run), not_run
    assert "INCOMPLETE: interrupted" in text and "no candidate passes this run" in text
    assert "**INCOMPLETE RUN**" in (project.path / "r.md").read_text()
    assert 'id="incomplete"' in (project.path / "r.html").read_text()


def requests_answered(project: pytest.Pytester) -> dict[str, int]:
    """The requests each double answered since the last call (the log is emptied)."""
    log = project.path / "generated.log"
    counts: dict[str, int] = {}
    for line in (log.read_text().splitlines() if log.exists() else []):
        name, n = line.split()
        counts[name] = counts.get(name, 0) + int(n)
    log.unlink(missing_ok=True)
    return counts


def test_recording_for_several_candidates_runs_the_baseline_once(project: pytest.Pytester) -> None:
    """`--snapshot-update` with two candidates of one baseline: the baseline answers each
    gate's cases once, and both candidates are decided against those answers."""
    requests_answered(project)
    _, report = run(project, "--quant-candidate=twin,wrong-answers", "--snapshot-update", "-m", "golden or structured_output")
    counts = requests_answered(project)
    entries = reports.entries(report)
    planned = entries[("twin", "golden")]["metrics"]["sequential"]["cases_planned"]
    structured = sum(entries[("twin", f"structured_output[{mode}]")]["metrics"]["cases"] for mode in ("free", "guided"))
    assert counts["base"] == planned + structured, (counts, planned, structured)  # once, not once per candidate
    assert {entries[(n, "golden")]["baseline_source"] for n in ("twin", "wrong-answers")} == {"engine"}
    assert entries[("twin", "golden")]["verdict"] == "pass" and entries[("wrong-answers", "golden")]["verdict"] == "fail"
    assert records(project) == ["test_golden--base.json", "test_structured_output--base.json", "test_structured_output_guided--base.json"]


def test_a_live_baseline_answers_each_request_once_for_all_its_candidates(project: pytest.Pytester) -> None:
    """Two canaries against one live route, and two candidates with --quant-live-baseline: the
    baseline is asked each request once in the session, and both verdicts still say 'live'."""

    def answered() -> dict[str, int]:
        return requests_answered(project)

    _, report = run(project, "--quant-candidate=twin,wrong-answers", "-m", "canary")
    canary = {name: c for (name, gate), c in reports.entries(report).items() if gate == "canary"}
    counts = answered()
    cases = canary["twin"]["metrics"]["cases"]
    assert counts == {"base": cases, "twin": cases, "wrong-answers": cases}, counts
    assert canary["twin"]["verdict"] == "pass" and canary["wrong-answers"]["verdict"] == "fail"
    assert {c["baseline_source"] for c in canary.values()} == {"live"}

    _, report = run(project, "--quant-candidate=twin,wrong-answers", "--quant-live-baseline", "-m", "golden")
    golden = {name: e for (name, gate), e in reports.entries(report).items() if gate == "golden"}
    counts = answered()
    # Staged (the task families make hundreds of cases): the baseline answers every case once,
    # each candidate only the stages its decision needed.
    staged = {name: e["metrics"]["sequential"] for name, e in golden.items()}
    assert counts["base"] == staged["twin"]["cases_planned"] == staged["wrong-answers"]["cases_planned"], counts
    assert {n: counts[n] for n in staged} == {n: s["cases_used"] for n, s in staged.items()}, (counts, staged)
    assert staged["wrong-answers"]["look"] < staged["twin"]["look"], staged
    assert golden["twin"]["verdict"] == "pass" and golden["wrong-answers"]["verdict"] == "fail"


def test_a_skipped_gates_record_is_neither_unused_nor_deleted(project: pytest.Pytester) -> None:
    """The repository's main job failed on "1 snapshot unused": lm_eval's committed record,
    while lm_eval was skipped (no tasks configured). A skipped test read nothing: its record
    must not fail the run, and --snapshot-update of the other gates must keep it. (The whole
    suite runs: syrupy judges unused records only when nothing was deselected.)"""
    recorded, _ = run(project, "--quant-candidate=twin", "--quantgate-suite=only", "--snapshot-update")
    assert recorded.ret == 0, recorded.stdout.str()[-2000:]
    kept = project.path / "golden_snapshots" / "test_lm_eval--base.json"
    kept.write_text('{"format": 2, "cases": {}}\n')  # as if recorded where tasks were configured
    again, _ = run(project, "--quant-candidate=twin", "--quantgate-suite=only")
    assert again.ret == 0 and "snapshot unused" not in again.stdout.str(), again.stdout.str()[-2000:]
    updated, _ = run(project, "--quant-candidate=twin", "--quantgate-suite=only", "--snapshot-update")
    assert updated.ret == 0 and kept.read_text() == '{"format": 2, "cases": {}}\n'
