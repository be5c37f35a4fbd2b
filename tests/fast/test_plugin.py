"""Options, markers, skipping and collection of the plugin (no model is loaded here)."""

import json

import pytest

from pytest_quantgate.gates import registry
from tests import reports
from tests.helpers import demo_config


def test_options_are_grouped_in_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--help")
    result.stdout.fnmatch_lines([
        "quantized-model release gates:",
        "*--quant-candidate=NAME*",
        "*--quant-baseline=NAME*",
        "*--quantgate-report=PATH*",
        "*--quantgate-config=PATH*",
    ])


def test_every_gate_marker_is_registered_for_strict_markers(pytester: pytest.Pytester) -> None:
    body = "\n".join(
        f"import pytest\n@pytest.mark.{gate}\ndef test_{gate}(): pass" for gate in registry.names()
    )
    pytester.makepyfile(test_markers=body)
    result = pytester.runpytest_inprocess("--strict-markers", "-m", "golden or drift")
    result.assert_outcomes(passed=2, deselected=len(registry.names()) - 2)
    result = pytester.runpytest_inprocess("--markers")
    result.stdout.fnmatch_lines([f"@pytest.mark.{gate}: quantgate gate:*" for gate in registry.names()])


def test_gate_tests_skip_without_a_candidate_and_load_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user="""
        import sys
        import pytest

        @pytest.mark.golden
        def test_refund(quantgate):
            raise AssertionError("must not run")

        def test_unrelated():
            assert "torch" not in sys.modules
    """)
    result = pytester.runpytest_subprocess("-rs")  # a fresh process: sys.modules is the proof
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*SKIPPED*quantgate: no --quant-candidate given*"])


def test_candidates_parametrize_user_tests_and_suite_is_added_only_without_paths(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", quantgate=demo_config())
    pytester.makepyfile(test_user="""
        import pytest

        @pytest.mark.golden
        def test_spec(quant_candidate, quant_baseline):
            assert quant_baseline.name == "baseline"
            assert quant_candidate.name in {"hf-int8", "hf-kv2"}
    """)
    explicit = pytester.runpytest_inprocess("--quant-candidate=all", "test_user.py", "--collect-only", "-q")
    explicit.stdout.fnmatch_lines(["test_user.py::test_spec[[]hf-int8[]]", "test_user.py::test_spec[[]hf-kv2[]]"])
    assert "gate_golden.py" not in explicit.stdout.str()
    auto = pytester.runpytest_inprocess("--quant-candidate=hf-int8", "--collect-only", "-q")
    auto.stdout.fnmatch_lines(["quantgate-suite/gate_golden.py::test_golden[[]hf-int8[]]"])
    only = pytester.runpytest_inprocess("--quant-candidate=hf-int8", "--quantgate-suite=only", "--collect-only", "-q")
    assert "test_user.py" not in only.stdout.str()
    none = pytester.runpytest_inprocess("--quant-candidate=hf-int8", "--quantgate-suite=no", "--collect-only", "-q")
    assert "gate_golden.py" not in none.stdout.str()
    ran = pytester.runpytest_inprocess("--quant-candidate=hf-int8", "test_user.py")
    ran.assert_outcomes(passed=1)


def test_report_lists_errors_and_skips_of_gate_tests(pytester: pytest.Pytester) -> None:
    """A gate test that errors or skips is in the report with that verdict, never as a pass."""
    pytester.makefile(".toml", quantgate=demo_config())
    pytester.makepyfile(test_user="""
        import pytest

        @pytest.mark.safety
        def test_boom(quant_candidate):
            raise RuntimeError("engine exploded")

        @pytest.mark.latency
        def test_later(quant_candidate):
            pytest.skip("needs a server")
    """)
    result = pytester.runpytest_inprocess("--quant-candidate=hf-int8", "test_user.py", "--quantgate-report=out/r.json")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*quantgate verdicts*", "hf-int8*latency*SKIPPED*needs a server*", "hf-int8*safety*ERROR*engine exploded*"])
    report = reports.read(pytester.path / "out" / "r.json")
    (cand,) = report["candidates"]
    assert cand["name"] == "hf-int8" and cand["verdict"] == "error"
    assert sorted((g["gate"], g["verdict"]) for g in cand["gates"]) == [("latency", "skipped"), ("safety", "error")]
    assert report["environment"]["packages"]["pytest"]
    assert report["baseline"]["name"] == "baseline"
    assert not list((pytester.path / "out").glob(".r.json.*")), "no temporary file is left behind"


def test_report_is_written_atomically(tmp_path, monkeypatch) -> None:
    from pytest_quantgate import atomic

    target = tmp_path / "r.json"
    target.write_text('{"old": true}')

    class Unserializable:
        def __str__(self):
            raise RuntimeError("cannot serialize")

    with pytest.raises(RuntimeError):
        atomic.write_json(target, {"x": Unserializable()})
    assert json.loads(target.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_overall_verdict_never_passes_on_error_or_nothing() -> None:
    from pytest_quantgate.release.verdict_report import overall

    assert overall(["pass", "error", "fail"]) == "error"
    assert overall(["pass", "fail"]) == "fail"
    assert overall(["skipped", "skipped"]) == "skipped"
    assert overall([]) == "skipped"
    assert overall(["pass", "skipped"]) == "pass"


def test_bad_suite_ini_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", quantgate=demo_config())
    pytester.makeini("[pytest]\nquantgate_suite = maybe\n")
    result = pytester.runpytest_inprocess("--quant-candidate=hf-int8")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini quantgate_suite = 'maybe'; allowed values: 'auto', 'only', 'no'*"])
