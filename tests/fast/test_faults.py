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
from pytest_quantgate.gates import registry
from pytest_quantgate.gates.golden.cases import GOLDEN
from pytest_quantgate.gates.registry import parse_config
from tests import reports
from tests.fake_openai import Behaviour, FakeServer
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
    gates = len(registry.gates()) + 1  # one suite test per gate, two for structured output (free, guided)
    result.stdout.fnmatch_lines([f"collected {gates} items / {gates - 1} deselected / 1 selected"])
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
    (gate,) = reports.candidates(pytester.path / "r.json")["hf-int8"]["gates"]
    assert gate["verdict"] == "error"
    assert gate["reason"] == (
        "endpoint http://127.0.0.1:9/v1 is not reachable; start the server or fix candidates.ep.endpoint.base_url"
    )


def test_header_secrets_appear_in_no_file_the_run_writes(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_KEY", "env-secret-9f8e7d")
    with FakeServer(Behaviour()) as server:
        pytester.makefile(
            ".toml",
            quantgate=demo_config(
                extra=f"""
[candidates.gw]
engine = "openai"
model = "demo:smollm2-135m-instruct"
server_args = ["--api-key", "argv-secret-1a2b3c"]
endpoint = {{ base_url = "http://user:url-secret-5d6e@127.0.0.1:{server.port}/v1", model = "fake", headers = {{ api-key = "header-secret-0a1b2c" }}, headers_env = {{ X-Api-Key = "GATEWAY_KEY" }} }}
"""
            ),
        )
        _run_and_check_no_secret_is_written(pytester)


def _run_and_check_no_secret_is_written(pytester: pytest.Pytester) -> None:
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
    for secret in ("header-secret-0a1b2c", "url-secret-5d6e", "argv-secret-1a2b3c", "env-secret-9f8e7d"):
        assert secret not in text, secret
    assert "GATEWAY_KEY" in text  # the variable is named, its value never read into a report


def test_secrets_in_urls_and_arguments_are_masked() -> None:
    from pytest_quantgate.redaction import redact_argv, redact_text, redact_url

    assert redact_url("https://u:pw@gw.example.com/v1?api-key=abc&x=1") == "https://***@gw.example.com/v1?api-key=***&x=1"
    assert redact_argv(["--api-key", "s3", "--port", "8000", "--token=zz"]) == ["--api-key", "***", "--port", "8000", "--token=***"]
    assert redact_text("GET https://u:p@h/v1?sig=xyz failed; key abcd1234", {"K": "abcd1234"}) == "GET https://***@h/v1?sig=*** failed; key ***"


def _endpoint_config(pytester: pytest.Pytester, port: int) -> None:
    pytester.makefile(
        ".toml",
        quantgate=demo_config(
            extra=f"""
[candidates.ep]
engine = "openai"
model = "demo:smollm2-135m-instruct"
endpoint = {{ base_url = "http://127.0.0.1:{port}/v1", model = "fake", timeout_s = 0.3 }}
"""
        ),
    )


def test_an_endpoint_that_is_down_stops_the_run_at_start(pytester: pytest.Pytester) -> None:
    from pytest_quantgate.engines.servers import free_port

    port = free_port()
    _endpoint_config(pytester, port)
    started = time.monotonic()
    result = pytester.runpytest_subprocess("--quant-candidate=ep", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        f"*ep: endpoint http://127.0.0.1:{port}/v1 is not reachable (ConnectError*); start the server or fix candidates.ep.endpoint.base_url*"
    ])
    assert time.monotonic() - started < 30


def test_an_html_page_where_the_model_list_should_be_names_the_endpoint(pytester: pytest.Pytester) -> None:
    with FakeServer(Behaviour(html_models=True)) as server:
        _endpoint_config(pytester, server.port)
        result = pytester.runpytest_subprocess("--quant-candidate=ep", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        f"*http://127.0.0.1:{server.port}/v1/models answered text/html*not JSON; expected the model list of GET /models*"
    ])


def test_garbage_events_and_timeouts_say_which_request_what_and_the_setting() -> None:
    import asyncio

    import httpx

    from pytest_quantgate.config import Endpoint
    from pytest_quantgate.engines.openai import EndpointError, stream_answer, transport_error

    async def ask(base_url: str, timeout: float) -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=timeout) as client:
            await stream_answer(client, "chat/completions", {"model": "fake", "messages": []})

    with FakeServer(Behaviour(garbage=True)) as server:
        with pytest.raises(EndpointError, match=r"/v1/chat/completions streamed an event that is not JSON \('<html>502 Bad Gateway</html>'\)"):
            asyncio.run(ask(server.base_url, 5))
    with FakeServer(Behaviour(stall_s=2)) as server:
        with pytest.raises(httpx.ReadTimeout) as caught:
            asyncio.run(ask(server.base_url, 0.2))
        endpoint = Endpoint(base_url=server.base_url, timeout_s=0.2)
        message = str(transport_error("ep", endpoint, caught.value, "request 3 of 8 (POST chat/completions)"))
    assert message == (
        f"ep: request 3 of 8 (POST chat/completions) to {server.base_url} got no answer within 0.2 s (ReadTimeout); "
        "raise candidates.ep.endpoint.timeout_s or check the server"
    )


def test_runtime_keys_the_hf_engine_does_not_take_are_refused() -> None:
    from pytest_quantgate.config import CandidateSpec
    from pytest_quantgate.engines import check_spec

    with pytest.raises(ConfigError, match=r"unknown key candidates.x.runtime.n_ctx; the hf engine takes: from_pretrained"):
        check_spec(CandidateSpec(name="x", engine="hf", model="demo:smollm2-135m-instruct", runtime={"n_ctx": 512}))
    check_spec(CandidateSpec(name="x", engine="hf", model="demo:smollm2-135m-instruct", runtime={"from_pretrained": {"revision": "main"}}))


def test_weight_digests_are_remembered_per_file_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_quantgate import models

    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"w" * 4096)
    cache = tmp_path / "cache"
    first = models.cached_file_sha256(weights, cache)
    reads: list[Path] = []
    monkeypatch.setattr(models, "file_sha256", lambda p: reads.append(p) or "recomputed")
    assert models.cached_file_sha256(weights, cache) == first and reads == []  # the second run reads nothing
    weights.write_bytes(b"v" * 4096)  # a new version of the file
    assert models.cached_file_sha256(weights, cache) == "recomputed" and reads == [weights]


@pytest.mark.parametrize(
    "make, engine, message",
    [
        (lambda p: p.write_text("not a model"), "hf", "is a file; the hf engine loads a checkpoint folder"),
        (lambda p: p.mkdir(), "hf", "is an empty folder; put the checkpoint there"),
        (lambda p: (p.mkdir(), (p / "config.json").write_text("{broken"), (p / "tokenizer.json").write_text("{}")), "hf", "config.json cannot be read"),
        (lambda p: (p.mkdir(), (p / "config.json").write_text("{}")), "vllm", "lacks weights (*.safetensors or *.bin) and tokenizer files (tokenizer.json or"),
        (lambda p: p.write_bytes(b"PK\x03\x04zip"), "llamacpp", "is not a GGUF file (it starts with b'PK\\x03\\x04')"),
        (lambda p: (p.mkdir(), (p / "config.json").write_text("{}")), "llamacpp", "is a folder; the llamacpp engine loads a GGUF file"),
    ],
)
def test_unusable_model_sources_are_found_before_anything_loads(tmp_path: Path, make, engine: str, message: str) -> None:
    make(tmp_path / "m")
    table = {"baseline": "b", "candidates": {"b": {"engine": engine, "model": "m"}}}
    with pytest.raises(ConfigError) as caught:
        parse_config(table, tmp_path / "q.toml")
    assert f"key candidates.b.model: {tmp_path / 'm'}" in str(caught.value)
    assert message in str(caught.value)
