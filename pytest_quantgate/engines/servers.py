"""Local OpenAI-compatible servers (`vllm serve`, llama-cpp-python's server) on a free
loopback port: started for a candidate, waited on until healthy, and always stopped (at
engine close, at interpreter exit, on Ctrl-C and when start-up fails)."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..errors import UsageError
from .base import DEFAULT_CONTEXT

PACKAGES = {"vllm": "vllm", "llamacpp": "llama_cpp"}  # server kind -> the Python package it runs from
SERVER_KINDS = tuple(PACKAGES)
STARTUP_TIMEOUT_S = 300.0


class ServerError(UsageError):
    """The server did not come up; the message holds the end of its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command(kind: str, model: Path, served_name: str, port: int, dtype: str, args: Sequence[str]) -> list[str]:
    """The server's command line; `args` are the candidate's own flags, passed through."""
    if kind == "vllm":
        base = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", str(model)]
        base += ["--served-model-name", served_name, "--dtype", dtype, "--return-tokens-as-token-ids"]
        if "--max-model-len" not in args:
            base += ["--max-model-len", str(DEFAULT_CONTEXT)]
    elif kind == "llamacpp":
        base = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", served_name]
        base += ["--logits_all", "True"]  # chat logprobs need every position's logits
        base += ["--interrupt_requests", "False"]  # else a new request cuts the streaming one off
        from .llamacpp import default_threads

        threads = str(default_threads())  # its threads spin-wait: leave a core to the client
        for flag, value in (("--n_ctx", str(DEFAULT_CONTEXT)), ("--n_threads", threads), ("--n_threads_batch", threads)):
            if flag not in args:
                base += [flag, value]
    else:
        raise ValueError(f"unknown server kind {kind!r}; allowed: {', '.join(SERVER_KINDS)}")
    return [*base, "--host", "127.0.0.1", "--port", str(port), *args]


@dataclass
class LocalServer:
    kind: str
    argv: list[str]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    started_s: float = 0.0  # seconds until healthy

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, env: dict[str, str] | None = None, timeout_s: float = STARTUP_TIMEOUT_S) -> "LocalServer":
        began = time.perf_counter()
        with self.log_path.open("wb") as log:
            # Its own process group, so vLLM's worker processes are stopped with it; the
            # watchdog stops the group if this process dies without stopping it (SIGKILL).
            guarded = [sys.executable, "-m", "pytest_quantgate.engines.watchdog", str(os.getpid()), "--", *self.argv]
            self.process = subprocess.Popen(
                guarded, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, start_new_session=True
            )
        atexit.register(self.stop)
        try:
            self._wait_healthy(timeout_s)
        except BaseException:  # KeyboardInterrupt included: never leave it running
            self.stop()
            raise
        self.started_s = time.perf_counter() - began
        return self

    def _wait_healthy(self, timeout_s: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServerError(f"the {self.kind} server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                # 401/403: up, and guarded by an API key the client will send.
                if httpx.get(f"{self.base_url}/models", timeout=2).status_code in (200, 401, 403):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise ServerError(f"the {self.kind} server was not healthy after {timeout_s:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        except ProcessLookupError:
            pass


def launch(
    kind: str, model: Path, served_name: str, dtype: str = "float32", args: Sequence[str] = (), env: dict[str, str] | None = None
) -> LocalServer:
    """Start a server for `model` and wait until it answers /v1/models."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix=f"quantgate-{kind}-{port}-", suffix=".log")[1])
    return LocalServer(kind, command(kind, model, served_name, port, dtype, args), port, log).start(env)
