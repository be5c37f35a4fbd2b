"""The field's own tools that the parity tests run on the same inputs as the plugin."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pytest_quantgate import atomic

# What the parity tests use of llama.cpp's tree: its converters and the gguf-py they import.
LLAMA_CPP_MEMBERS = ("convert_hf_to_gguf.py", "convert_lora_to_gguf.py", "conversion/", "gguf-py/")


def llama_cpp_tree(cache_dir: Path) -> Path:
    """llama.cpp's source tree as vendored in the sdist of the installed llama-cpp-python (the
    same llama.cpp the engine runs), fetched from the package registry once and cached."""
    import llama_cpp

    version = llama_cpp.__version__
    prefix = f"llama_cpp_python-{version}/vendor/llama.cpp/"

    def fetch(tmp: Path) -> None:
        tmp.mkdir()
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", "llama-cpp-python", f"llama-cpp-python=={version}", "-d", str(tmp)],
            check=True, capture_output=True, text=True,
        )
        archive = next(tmp.glob("*.tar.gz"))
        with tarfile.open(archive) as tar:
            wanted = [m for m in tar.getmembers() if m.name.startswith(tuple(prefix + p for p in LLAMA_CPP_MEMBERS))]
            tar.extractall(tmp, members=wanted, filter="data")
        archive.unlink()

    folder = atomic.built_once(Path(cache_dir) / "references" / f"llama-cpp-python-{version}", fetch)
    return folder / prefix


def llama_logprobs(engine: Any, ids: Sequence[int], evaluate: bool = True) -> np.ndarray:
    """Log-probs over the whole vocabulary after each of `ids` (row i predicts ids[i + 1]) from a
    llamacpp engine's own logits, as llama-perplexity reads them; `evaluate=False`: the engine
    has just evaluated `ids`."""
    from scipy.special import log_softmax

    if evaluate:
        engine._eval(list(ids), reset=True)
    return log_softmax(np.asarray(engine.llm.scores[: len(ids)], dtype=np.float64), axis=-1)


def kld_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(p || q) per row over the whole vocabulary, from log-probs (llama-perplexity's KLD)."""
    return (np.exp(p) * (p - q)).sum(axis=-1)
