"""Runs a server and stops it when the process that started it dies, however it dies
(SIGTERM and SIGKILL included, when no atexit hook runs):

    python -m pytest_quantgate.engines.watchdog PARENT_PID -- server argv...

It shares the server's process group (the caller starts it in a new session), so stopping
the group stops both, vLLM's workers included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

POLL_S = 0.5


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_group(server: subprocess.Popen[bytes]) -> None:
    group = os.getpgid(0)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the signal below is for the server
    try:
        os.killpg(group, signal.SIGTERM)
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(group, signal.SIGKILL)


def main(argv: list[str]) -> int:
    parent = int(argv[0])
    command = argv[argv.index("--") + 1 :]
    server = subprocess.Popen(command)

    def on_term(*_: object) -> None:
        _stop_group(server)
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    while server.poll() is None:
        if not _alive(parent) or os.getppid() != parent:
            _stop_group(server)
            return 0
        time.sleep(POLL_S)
    return server.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
