"""A llama.cpp server the plugin started never outlives pytest, however pytest ends
(SIGTERM's default action and SIGKILL run no atexit hook)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import tests.engine_stack  # noqa: F401  (the engine stack first, once per process)
from tests.helpers import DEMO, kill_and_watch_group

pytestmark = pytest.mark.slow

PROJECT_TEST = """
import os, time
from pathlib import Path

def test_hold_the_server(candidate_engine):
    server = candidate_engine.served.server
    Path(os.environ["GROUP_FILE"]).write_text(str(os.getpgid(server.process.pid)))
    time.sleep(600)
"""


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_no_llamacpp_server_is_left_when_pytest_is_killed(tmp_path: Path, how: str) -> None:
    (tmp_path / "quantgate.toml").write_text(
        f'baseline = "base"\n\n[candidates.base]\nengine = "llamacpp"\nmodel = "{DEMO}@gguf-q8_0"\n\n'
        f'[candidates.served]\nengine = "openai"\nserver = "llamacpp"\nmodel = "{DEMO}@gguf-q8_0"\nbaseline = "base"\n'
    )
    (tmp_path / "test_hold.py").write_text(PROJECT_TEST)
    group_file = tmp_path / "group"
    pytest_run = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--quant-candidate=served", "test_hold.py", "-q"],
        cwd=tmp_path,
        env={**__import__("os").environ, "GROUP_FILE": str(group_file)},
    )
    assert not kill_and_watch_group(pytest_run, group_file, how, start_timeout_s=300), (
        f"the llama.cpp server outlived pytest killed with {how}"
    )
