"""The demo's GGUF ladder: an F32 GGUF of the baseline's weights, then llama.cpp's own
quantizer for Q8_0, Q6_K, Q4_K_M and Q2_K.

The F32 file is the embedded Q4_1 GGUF dequantized tensor by tensor with gguf-py, its
metadata (tokenizer, chat template, hyper-parameters) copied unchanged: the same weights
the transformers baseline is converted from, so `gguf-f32` is the baseline on llama.cpp.
Every file is written to a temporary name and renamed under a file lock.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from .. import atomic
from ..errors import UsageError

# GGUF type -> llama.cpp's LLAMA_FTYPE_* constant name (llama_cpp exposes them).
QUANT_TYPES = {
    "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0",
    "q6_k": "LLAMA_FTYPE_MOSTLY_Q6_K",
    "q5_k_m": "LLAMA_FTYPE_MOSTLY_Q5_K_M",
    "q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M",
    "q4_0": "LLAMA_FTYPE_MOSTLY_Q4_0",
    "q3_k_m": "LLAMA_FTYPE_MOSTLY_Q3_K_M",
    "q2_k": "LLAMA_FTYPE_MOSTLY_Q2_K",
}
LADDER = ("f32", *QUANT_TYPES)
FOLDER = "gguf"


class LadderError(UsageError):
    """A rung of the ladder cannot be built here; the message says what is missing."""


def path_of(cache_dir: Path, stem: str, gguf_type: str) -> Path:
    return cache_dir / FOLDER / f"{stem}.{gguf_type.upper()}.gguf"


def build(source: Path, cache_dir: Path, stem: str, gguf_type: str) -> Path:
    """The GGUF of `gguf_type` made from `source` (a GGUF of any type), built once."""
    gguf_type = gguf_type.lower()
    if gguf_type not in LADDER:
        raise LadderError(f"unknown GGUF type {gguf_type!r}; allowed: {', '.join(LADDER)}")

    def make(tmp: Path) -> None:
        if gguf_type == "f32":
            _dequantize(source, tmp)
        else:
            _quantize(build(source, cache_dir, stem, "f32"), tmp, gguf_type)

    return atomic.built_once(path_of(cache_dir, stem, gguf_type), make, Path.is_file)


def _dequantize(source: Path, out: Path) -> None:
    rewrite(source, out, lambda name, weights: weights)


def rewrite(source: Path, out: Path, transform: Callable[[str, Any], Any]) -> None:
    """An F32 GGUF of `source`'s tensors, each dequantized and passed through
    `transform(name, weights)` (a numpy array shaped as the tensor, rows first), with
    `source`'s metadata unchanged."""
    import numpy as np
    from gguf import GGUFReader, GGUFValueType, GGUFWriter, LlamaFileType
    from gguf.quants import dequantize

    reader = GGUFReader(source)
    arch = reader.fields["general.architecture"].contents()
    writer = GGUFWriter(out, arch=arch)
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name in ("general.architecture", "general.file_type"):
            continue
        sub_type = field.types[-1] if field.types[0] == GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), field.types[0], sub_type=sub_type)
    writer.add_file_type(LlamaFileType.ALL_F32)
    for tensor in reader.tensors:
        weights = dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
        shaped = weights.reshape([int(n) for n in reversed(tensor.shape)])
        writer.add_tensor(tensor.name, np.ascontiguousarray(transform(tensor.name, shaped), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _quantize(source: Path, out: Path, gguf_type: str) -> None:
    try:
        import llama_cpp
    except ImportError as exc:
        raise LadderError(
            f"quantizing to {gguf_type.upper()} uses llama.cpp's quantizer: pip install llama-cpp-python ({exc})"
        ) from exc
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, QUANT_TYPES[gguf_type])
    params.nthread = os.cpu_count() or 1
    status = llama_cpp.llama_model_quantize(str(source).encode(), str(out).encode(), params)
    if status != 0:
        raise LadderError(f"llama.cpp could not quantize {source} to {gguf_type.upper()} (status {status})")
