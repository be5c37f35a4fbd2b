"""The memory a served model holds: weights on disk, KV cache reserved, server resident set.

Reported beside latency (a quantized model is often chosen for memory) but never traded for
it. Each figure is None where it cannot be observed (a remote endpoint's process, say).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Mapping

from ...config import CandidateSpec
from ...engines.serving import ServedModel

# Bytes per element of a KV-cache type (ggml block types: block bytes / block length).
KV_ELEMENT_BYTES = {
    "f32": 4.0, "float32": 4.0, "f16": 2.0, "float16": 2.0, "bf16": 2.0, "bfloat16": 2.0,
    "q8_0": 34 / 32, "q5_1": 24 / 32, "q5_0": 22 / 32, "q4_1": 20 / 32, "q4_0": 18 / 32, "fp8": 1.0,
}
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def weights_bytes(model_path: Path) -> int:
    """A GGUF file's size, or a checkpoint folder's weight files (safetensors, bin)."""
    if model_path.is_file():
        return model_path.stat().st_size
    return sum(p.stat().st_size for p in model_path.iterdir() if p.suffix in (".safetensors", ".bin", ".pt"))


def attention_geometry(model_path: Path) -> tuple[int, int, int] | None:
    """(layers, KV heads, head size) from config.json or the GGUF's metadata."""
    if model_path.is_dir():
        config = json.loads((model_path / "config.json").read_text())
        heads = config["num_attention_heads"]
        head_dim = config.get("head_dim") or config["hidden_size"] // heads
        return config["num_hidden_layers"], config.get("num_key_value_heads", heads), head_dim
    try:
        from gguf import GGUFReader
    except ImportError:
        return None
    reader = GGUFReader(str(model_path))
    arch = _field(reader, "general.architecture")

    def number(key: str) -> int:
        return int(_field(reader, f"{arch}.{key}"))

    heads = number("attention.head_count")
    return number("block_count"), number("attention.head_count_kv"), number("embedding_length") // heads


def _field(reader: Any, key: str) -> Any:
    field = reader.fields[key]
    value = field.parts[field.data[0]]
    return bytes(value).decode() if value.dtype.kind == "u" and value.dtype.itemsize == 1 else value[0]


def kv_bytes_per_token(geometry: tuple[int, int, int], element_bytes: float) -> float:
    layers, kv_heads, head_dim = geometry
    return 2 * layers * kv_heads * head_dim * element_bytes  # K and V


def _reserved_tokens(served: ServedModel, spec: CandidateSpec) -> tuple[int, str] | None:
    """How many tokens of KV cache the server reserved, and their element type."""
    if spec.engine == "llamacpp" or served.server is not None and served.server.kind == "llamacpp":
        from ...engines.llamacpp import DEFAULT_CONTEXT

        return int(spec.runtime.get("n_ctx", DEFAULT_CONTEXT)), str(spec.runtime.get("type_k", "f16"))
    info = _vllm_cache_info(served)
    if info is None:
        return None
    dtype = info.get("cache_dtype", "auto")
    return int(info["num_gpu_blocks"]) * int(info["block_size"]), spec.dtype if dtype == "auto" else dtype.split("_")[0]


def _vllm_cache_info(served: ServedModel) -> Mapping[str, str] | None:
    """vLLM's `vllm:cache_config_info` gauge (Prometheus /metrics) labels."""
    import httpx

    try:
        text = httpx.get(served.base_url.removesuffix("v1/") + "metrics", headers=dict(served.headers), timeout=5).text
    except httpx.HTTPError:
        return None
    line = next((ln for ln in text.splitlines() if ln.startswith("vllm:cache_config_info{")), None)
    labels = dict(_LABEL.findall(line)) if line else {}
    return labels if "num_gpu_blocks" in labels and labels["num_gpu_blocks"] not in ("None", "") else None


def resident_bytes(pid: int) -> int | None:
    """Resident set of a process and its children (vLLM runs its engine in a child); a
    server's watchdog (engines/watchdog.py) is not the server and is not counted."""
    import psutil

    try:
        root = psutil.Process(pid)
        watchdog = "pytest_quantgate.engines.watchdog" in root.cmdline()
        processes = root.children(recursive=True) if watchdog else [root, *root.children(recursive=True)]
        return sum(p.memory_info().rss for p in processes)
    except psutil.Error:
        return None


def footprint(served: ServedModel, spec: CandidateSpec, model_path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {"weights_bytes": weights_bytes(model_path), "kv_cache_bytes": None, "kv_cache_tokens": None}
    reserved = _reserved_tokens(served, spec)
    geometry = attention_geometry(model_path) if reserved else None
    if reserved and geometry:
        tokens, dtype = reserved
        element = KV_ELEMENT_BYTES.get(dtype.lower())
        if element is not None:
            out |= {"kv_cache_tokens": tokens, "kv_cache_dtype": dtype, "kv_cache_bytes": int(tokens * kv_bytes_per_token(geometry, element))}
    out["server_rss_bytes"] = resident_bytes(served.pid) if served.pid else None
    return out
