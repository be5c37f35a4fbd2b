"""The field's own tools that the parity tests run on the same inputs as the plugin."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from pytest_quantgate import atomic

# What the parity tests use of llama.cpp's tree: its converters and the gguf-py they import.
LLAMA_CPP_MEMBERS = ("convert_hf_to_gguf.py", "convert_lora_to_gguf.py", "conversion/", "gguf-py/")


def _llama_cpp_sdist(tmp: Path) -> tuple[tarfile.TarFile, str]:
    """The sdist of the installed llama-cpp-python (the llama.cpp the engine runs), opened, and
    the prefix of its vendored llama.cpp tree; fetched from the package registry into `tmp`."""
    import llama_cpp

    version = llama_cpp.__version__
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", "llama-cpp-python", f"llama-cpp-python=={version}", "-d", str(tmp)],
        check=True, capture_output=True, text=True,
    )
    return tarfile.open(next(tmp.glob("*.tar.gz"))), f"llama_cpp_python-{version}/vendor/llama.cpp/"


def llama_cpp_tree(cache_dir: Path) -> Path:
    """The parts of llama.cpp's source tree the parity tests read (`LLAMA_CPP_MEMBERS`), fetched
    once and cached."""
    import llama_cpp

    def fetch(tmp: Path) -> None:
        tmp.mkdir()
        archive, prefix = _llama_cpp_sdist(tmp)
        with archive as tar:
            wanted = [m for m in tar.getmembers() if m.name.startswith(tuple(prefix + p for p in LLAMA_CPP_MEMBERS))]
            tar.extractall(tmp, members=wanted, filter="data")
        Path(archive.name).unlink()

    folder = atomic.built_once(Path(cache_dir) / "references" / f"llama-cpp-python-{llama_cpp.__version__}", fetch)
    return folder / f"llama_cpp_python-{llama_cpp.__version__}/vendor/llama.cpp/"


def llama_perplexity(cache_dir: Path) -> Path:
    """llama.cpp's `llama-perplexity`, built from the same vendored tree as the engine's library
    with this CPU's native flags (as pip built the engine), only its own target, statically
    linked; built once per CPU kind and cached (minutes on 2 cores)."""
    import platform

    import llama_cpp

    cpuinfo = Path("/proc/cpuinfo")
    flags = next((line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")), "") if cpuinfo.exists() else ""
    cpu = hashlib.sha256(f"{platform.machine()} {flags}".encode()).hexdigest()[:12]

    def build(tmp: Path) -> None:
        work = tmp / "work"
        work.mkdir(parents=True)
        archive, prefix = _llama_cpp_sdist(work)
        with archive as tar:
            tar.extractall(work, members=[m for m in tar.getmembers() if m.name.startswith(prefix)], filter="data")
        source, build_dir = work / prefix, work / "build"
        off = ("BUILD_SHARED_LIBS", "LLAMA_BUILD_SERVER", "LLAMA_BUILD_TESTS", "LLAMA_BUILD_EXAMPLES", "LLAMA_BUILD_APP",
               "LLAMA_CURL", "LLAMA_OPENSSL")
        if not (shutil.which("cmake") and shutil.which("c++")):
            raise RuntimeError("building llama-perplexity needs cmake and a C++ compiler on PATH (apt-get install cmake g++)")
        generator = ["-G", "Ninja"] if shutil.which("ninja") else []
        configure = ["cmake", "-S", str(source), "-B", str(build_dir), *generator, "-DCMAKE_BUILD_TYPE=Release",
                     "-DLLAMA_BUILD_TOOLS=ON", *(f"-D{option}=OFF" for option in off)]
        for command in (configure, ["cmake", "--build", str(build_dir), "--target", "llama-perplexity", "-j", str(os.cpu_count() or 1)]):
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"building llama-perplexity failed ({' '.join(command[:3])} ...):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        os.replace(build_dir / "bin" / "llama-perplexity", tmp / "llama-perplexity")
        shutil.rmtree(work)

    folder = atomic.built_once(Path(cache_dir) / "references" / f"llama-perplexity-{llama_cpp.__version__}-{cpu}", build)
    return folder / "llama-perplexity"


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


def llama_perplexity_encoding(logprobs: np.ndarray) -> np.ndarray:
    """The base's log-probs as `llama-perplexity --kl-divergence-base` keeps them (perplexity.cpp's
    `log_softmax` into uint16): 65,535 steps over the 16 nats below each row's top, lower ones at
    the floor; decoded back."""
    top = logprobs.max(axis=-1, keepdims=True)
    floor = np.maximum(logprobs.min(axis=-1, keepdims=True), top - 16)
    scale = (top - floor) / 65535
    steps = np.where(logprobs > floor, np.rint((logprobs - floor) / scale), 0)
    return steps * scale + floor


@dataclass(frozen=True)
class FullMeasures:
    """Drift measured over the whole vocabulary from both models' log-probs of the scored rows
    (sums, so windows add up)."""

    positions: int
    kld_sum: float
    same_top1_count: int
    nll_base: float
    nll_base_encoded: float  # the target's base NLL from llama-perplexity's encoding
    nll_candidate: float

    @classmethod
    def of(cls, base: np.ndarray, candidate: np.ndarray, targets: Sequence[int]) -> "FullMeasures":
        rows = np.arange(len(targets))
        return cls(
            positions=len(targets),
            kld_sum=float(kld_rows(base, candidate).sum()),
            same_top1_count=int((base.argmax(axis=-1) == candidate.argmax(axis=-1)).sum()),
            nll_base=float(-base[rows, targets].sum()),
            nll_base_encoded=float(-llama_perplexity_encoding(base)[rows, targets].sum()),
            nll_candidate=float(-candidate[rows, targets].sum()),
        )

    @classmethod
    def total(cls, parts: Sequence["FullMeasures"]) -> "FullMeasures":
        return cls(*(sum(getattr(p, f.name) for p in parts) for f in fields(cls)))

    @property
    def kld(self) -> float:
        return self.kld_sum / self.positions

    @property
    def same_top1(self) -> float:
        return self.same_top1_count / self.positions

    @property
    def ppl_ratio(self) -> float:
        return float(np.exp((self.nll_candidate - self.nll_base) / self.positions))

    @property
    def ppl_ratio_clipped(self) -> float:
        return float(np.exp((self.nll_candidate - self.nll_base_encoded) / self.positions))


@dataclass(frozen=True)
class PerplexityKLD:
    """What `llama-perplexity --kl-divergence` prints for one model against the base's logits."""

    chunks: int
    mean_kld: float
    same_top1: float  # a fraction, as the gate reports it (llama.cpp prints a percentage)
    ppl_ratio: float
    text: str  # the whole output, for a failing assertion

    @classmethod
    def parse(cls, out: str) -> "PerplexityKLD":
        def number(pattern: str) -> float:
            found = re.search(pattern, out)
            if found is None:
                raise RuntimeError(f"llama-perplexity printed no {pattern!r}:\n{out[-3000:]}")
            return float(found.group(1))

        return cls(
            chunks=int(number(r"computing over (\d+) chunks")),
            mean_kld=number(r"Mean\s+KLD:\s+([-\d.]+)"),
            same_top1=number(r"Same top p:\s+([-\d.]+)") / 100,
            ppl_ratio=number(r"Mean PPL\(Q\)/PPL\(base\)\s+:\s+([-\d.]+)"),
            text=out,
        )


def llama_perplexity_kld(
    binary: Path, base: Path, models: dict[str, Path], text: Path, context: int, work: Path, *options: str
) -> dict[str, PerplexityKLD]:
    """Run llama.cpp's KLD protocol as its README gives it: the base model writes its logits of
    every chunk of `text` (`--kl-divergence-base`), then each model is scored against them."""
    logits = work / "base.kld"
    common = ["-c", str(context), "-t", "1", "--kl-divergence-base", str(logits), *options]

    def run(model: Path, *extra: str) -> str:
        done = subprocess.run([str(binary), "-m", str(model), *common, *extra], capture_output=True, text=True, timeout=1200)
        if done.returncode:
            raise RuntimeError(f"llama-perplexity on {model.name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        return done.stdout + done.stderr

    run(base, "-f", str(text))
    return {name: PerplexityKLD.parse(run(model, "--kl-divergence")) for name, model in models.items()}
