"""Config snippets and hand-made results shared by the plugin's tests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_quantgate.engines.base import Generation

DEMO = "demo:smollm2-135m-instruct"
REPO = Path(__file__).resolve().parent.parent  # the repository (its quantgate.toml, golden_snapshots/)
DATA = Path(__file__).resolve().parent / "data"  # the tests' data files


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


# More of the repository's demo candidates, for tests that need them beside demo_config's.
HF_INT4 = f'''
[candidates.hf-int4]
engine = "hf"
model = "{DEMO}"
quantization.weights = {{ method = "quanto", dtype = "int4" }}
'''
HF_KV4 = f'''
[candidates.hf-kv4]
engine = "hf"
model = "{DEMO}"
quantization.kv_cache = {{ method = "quanto", bits = 4 }}
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
