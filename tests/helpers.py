"""Config snippets and hand-made results shared by the plugin's tests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import subprocess

    from pytest_quantgate.engines.base import Generation

DEMO = "demo:smollm2-135m-instruct"
REPO = Path(__file__).resolve().parent.parent  # the repository (its quantgate.toml, golden_snapshots/)
DATA = Path(__file__).resolve().parent / "data"  # the tests' data files
# The golden gate on its 56 built-in cases alone, for tests whose subject is not the generated
# task families (the records hold both; the families' staged runs cost minutes per candidate).
NO_FAMILIES = "\n[gates.golden]\nfamilies = []\n"


def demo_config(snapshot_dir: str | None = None, extra: str = "") -> str:
    """The repository's demo candidates, optionally reading records from `snapshot_dir`."""
    snap = f'snapshot_dir = "{snapshot_dir}"\n' if snapshot_dir else ""
    return f'''
baseline = "baseline"
{snap}
[candidates.baseline]
engine = "hf"
model = "{DEMO}"

[candidates.hf-int8]
engine = "hf"
model = "{DEMO}"
quantization.weights = {{ method = "torchao", dtype = "int8" }}

[candidates.hf-kv2]
engine = "hf"
model = "{DEMO}"
quantization.kv_cache = {{ method = "quanto", bits = 2 }}
{extra}
'''


def repo_config(snapshot_dir: Path, extra: str = "", families: bool = True) -> str:
    """The repository's own quantgate.toml (every demo candidate), reading and writing records
    in `snapshot_dir`; `families=False` switches the golden gate's task families off."""
    text = (REPO / "quantgate.toml").read_text()
    if not families:
        text = text.replace("[gates.golden]\n", "[gates.golden]\nfamilies = []\n", 1)
    return f'snapshot_dir = "{snapshot_dir}"\n' + text + extra


# More of the repository's demo candidates, for tests that need them beside demo_config's.
HF_INT4 = f'''
[candidates.hf-int4]
engine = "hf"
model = "{DEMO}"
quantization.weights = {{ method = "quanto", dtype = "int4" }}
'''


def gen(text: str, ids: list[int] | None = None, tops: list[list[int]] | None = None, finish: str = "stop") -> "Generation":
    """A hand-made generation for plumbing tests (token ids default to one per word)."""
    from pytest_quantgate.engines.base import Generation, Timings, TokenLogprobs

    ids = ids if ids is not None else list(range(1, len(text.split()) + 1))
    tops = tops or [[i] for i in ids]
    return Generation(
        text=text,
        token_ids=tuple(ids),
        logprobs=tuple(
            TokenLogprobs(i, -0.1, tuple((t, -0.1 * (r + 1)) for r, t in enumerate(top))) for i, top in zip(ids, tops)
        ),
        finish_reason=finish,
        timings=Timings(0, 0.0, 0.0),
    )


# The demo's GGUF ladder on llama.cpp (built from the baseline's weights on first use).
GGUF = f'''
[candidates.gguf-f32]
engine = "llamacpp"
model = "{DEMO}@gguf-f32"

[candidates.gguf-q8_0]
engine = "llamacpp"
model = "{DEMO}@gguf-q8_0"
baseline = "gguf-f32"

[candidates.gguf-q2_k]
engine = "llamacpp"
model = "{DEMO}@gguf-q2_k"
baseline = "gguf-f32"
'''


def kill_and_watch_group(parent: "subprocess.Popen[bytes]", group_file: Path, how: str, start_timeout_s: float = 120) -> bool:
    """Wait until `parent` has written the process group of a server it started to
    `group_file`, kill `parent` with signal `how`, and tell whether that group outlived it
    (after 20 s; it is then killed so that nothing is left behind either way)."""
    import os
    import signal
    import time

    def alive(group: int) -> bool:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        return True

    deadline = time.monotonic() + start_timeout_s
    while not group_file.exists() or not group_file.read_text().strip():
        assert parent.poll() is None, "the process that starts the server exited first"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.2)
    group = int(group_file.read_text())
    assert alive(group)
    parent.send_signal(getattr(signal, how))
    parent.wait(timeout=30)
    deadline = time.monotonic() + 20
    while alive(group) and time.monotonic() < deadline:
        time.sleep(0.2)
    survived = alive(group)
    if survived:
        os.killpg(group, signal.SIGKILL)
    return survived
