"""The software and hardware a verdict was reached on (part of every report)."""

from __future__ import annotations

import os
import platform
import sys
from functools import lru_cache
from importlib import metadata
from typing import Any

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
    "llama-cpp-python",
    "llmcompressor",
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
    try:
        import torch
    except ImportError:
        return {"kind": "unknown (torch is not installed)"}

    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        return {
            "kind": "cuda",
            "name": props.name,
            "compute_capability": f"{props.major}.{props.minor}",
            "count": torch.cuda.device_count(),
        }
    return {"kind": "cpu", "threads": torch.get_num_threads()}
