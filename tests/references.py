"""The field's own tools that the parity tests run on the same inputs as the plugin."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

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
