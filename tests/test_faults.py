"""Fault injection (fast tier): bad input and failing writes end in one clear message that
names the thing and the fix, before any model loads, and nothing is lost or half-written."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pytest_quantgate import atomic
from pytest_quantgate.config import ConfigError
from pytest_quantgate.gates.golden.cases import GOLDEN
from pytest_quantgate.gates.registry import parse_config
from tests.helpers import demo_config


def _under_file_size_limit(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run `code` with a 16 KiB file-size limit (as `ulimit -f 16`): writes past it fail."""
    script = "import resource\nresource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024, 16 * 1024))\n" + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_a_write_fault_leaves_the_old_file_byte_identical(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text('{"old": true}\n')
    before = target.read_bytes()
    done = _under_file_size_limit(
        f"""
        from pathlib import Path
        from pytest_quantgate import atomic
        try:
            atomic.write_text(Path({str(target)!r}), "x" * 200_000)
        except OSError as exc:
            print("errno", exc.errno)
        """,
        tmp_path,
    )
    assert "errno 27" in done.stdout, done.stderr  # EFBIG: the limit was hit
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"], "no temporary file is left behind"


def test_a_record_syrupy_cannot_write_keeps_the_old_one_and_says_why(tmp_path: Path) -> None:
    record = tmp_path / "test_golden--baseline.json"
    record.write_text('{"format": 2}\n')
    before = record.read_bytes()
    done = _under_file_size_limit(
        f"""
        from syrupy.data import Snapshot, SnapshotCollection
        from pytest_quantgate.records import WRITE_FAILURES, BaselineRecordExtension
        collection = SnapshotCollection(location={str(record)!r})
        collection.add(Snapshot(name="test_golden--baseline", data="[" + "1," * 100_000 + "1]\\n"))
        BaselineRecordExtension.write_snapshot_collection(snapshot_collection=collection)
        print(WRITE_FAILURES[0])
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert f"could not write baseline record {record} (File too large); the previous record is unchanged" in done.stdout
    assert "--snapshot-update" in done.stdout
    assert record.read_bytes() == before


def test_unwritable_report_paths_are_found_without_writing(tmp_path: Path) -> None:
    assert atomic.unwritable(tmp_path) == f"{tmp_path} is a folder"
    (tmp_path / "file").write_text("")
    assert atomic.unwritable(tmp_path / "file" / "r.json") == f"{tmp_path / 'file'} is a file, not a folder"
    assert atomic.unwritable(tmp_path / "new" / "deeper" / "r.json") is None
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--quantgate-report=out"], "*--quantgate-report=out: */out is a folder; give a file path in a folder you can write*"),
        (["--quantgate-report=quantgate.toml/r.json"], "*quantgate.toml is a file, not a folder*"),
        (["--quant-candidate="], "*--quant-candidate is empty; give a candidate name, a comma list, or 'all'*"),
    ],
)
def test_bad_run_options_stop_the_run_in_seconds_before_any_model_loads(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    pytester.makefile(".toml", quantgate=demo_config())
    (pytester.path / "out").mkdir()
    started = time.monotonic()
    options = args if any(a.startswith("--quant-candidate") for a in args) else ["--quant-candidate=hf-int8", *args]
    result = pytester.runpytest_subprocess(*options, "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert time.monotonic() - started < 30
    assert "Traceback" not in result.stderr.str()


def _table(**candidate: object) -> dict:
    return {"baseline": "b", "candidates": {"b": {"engine": "hf", "model": "demo:smollm2-135m-instruct", **candidate}}}


def test_serving_keys_on_a_candidate_that_is_not_served_over_http_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"key candidates.b.server: only an openai candidate has a server; a hf candidate"):
        parse_config(_table(server="vllm"), tmp_path / "q.toml")
    with pytest.raises(ConfigError, match=r"key candidates.b.endpoint: only an openai candidate"):
        parse_config(_table(endpoint={"base_url": "http://localhost:1"}), tmp_path / "q.toml")


def test_the_name_all_is_reserved(tmp_path: Path) -> None:
    table = _table()
    table["candidates"]["all"] = table["candidates"]["b"]
    with pytest.raises(ConfigError, match=r"key candidates: the name 'all' is reserved \(--quant-candidate=all selects"):
        parse_config(table, tmp_path / "q.toml")


def test_a_regex_that_cannot_compile_is_found_when_the_case_file_is_read(tmp_path: Path) -> None:
    bad = tmp_path / "cases.json"
    bad.write_text('{"cases": [{"id": "r1", "prompt": "Say hi", "expect": {"kind": "regex", "value": "(hi"}}]}')
    with pytest.raises(ConfigError, match=rf"invalid golden case file {bad}:\n  cases/0/expect \(r1\): regex '\(hi' does not compile"):
        GOLDEN.load([bad])


def test_the_header_counts_the_builtin_suite_like_any_test_file(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", quantgate=demo_config())
    result = pytester.runpytest_subprocess("--quant-candidate=hf-int8", "--collect-only", "-m", "golden", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["collected 11 items / 10 deselected / 1 selected"])
    assert "quantgate verdicts" not in result.stdout.str()  # nothing ran: no verdict block


def test_a_verdict_reason_is_the_plugins_message_not_the_innermost_cause(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", quantgate=demo_config())
    pytester.makepyfile(test_user="""
        import pytest
        from pytest_quantgate.errors import UsageError

        @pytest.mark.golden
        def test_down(quant_candidate):
            try:
                raise ConnectionRefusedError("[Errno 111] Connection refused")
            except OSError as exc:
                raise UsageError("endpoint http://127.0.0.1:9/v1 is not reachable; start the server or fix candidates.ep.endpoint.base_url") from exc
    """)
    result = pytester.runpytest_inprocess("--quant-candidate=hf-int8", "test_user.py", "--quantgate-report=r.json")
    result.assert_outcomes(failed=1)
    report = __import__("json").loads((pytester.path / "r.json").read_text())
    (gate,) = report["candidates"][0]["gates"]
    assert gate["verdict"] == "error"
    assert gate["reason"] == (
        "endpoint http://127.0.0.1:9/v1 is not reachable; start the server or fix candidates.ep.endpoint.base_url"
    )


def test_header_secrets_appear_in_no_file_the_run_writes(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_KEY", "env-secret-9f8e7d")
    pytester.makefile(
        ".toml",
        quantgate=demo_config(
            extra="""
[candidates.gw]
engine = "openai"
model = "demo:smollm2-135m-instruct"
server_args = ["--api-key", "argv-secret-1a2b3c"]
endpoint = { base_url = "https://user:url-secret-5d6e@gw.example.com/v1?api-key=query-secret-7f8g", headers = { api-key = "header-secret-0a1b2c" }, headers_env = { X-Api-Key = "GATEWAY_KEY" } }
"""
        ),
    )
    pytester.makepyfile(test_user="""
        import pytest

        @pytest.mark.golden
        def test_gate(quant_candidate):
            assert quant_candidate.name == "gw"
    """)
    result = pytester.runpytest_inprocess("--quant-candidate=gw", "test_user.py", "--quantgate-report=out/r.json")
    result.assert_outcomes(passed=1)
    written = [p for p in (pytester.path / "out").rglob("*") if p.is_file()]
    assert any(p.suffix == ".json" for p in written) and any(p.suffix == ".html" for p in written)
    text = "\n".join(p.read_text(errors="replace") for p in written) + result.stdout.str()
    for secret in ("header-secret-0a1b2c", "url-secret-5d6e", "query-secret-7f8g", "argv-secret-1a2b3c", "env-secret-9f8e7d"):
        assert secret not in text, secret
    assert "GATEWAY_KEY" in text  # the variable is named, its value never read into a report
