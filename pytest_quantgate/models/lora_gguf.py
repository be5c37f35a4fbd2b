"""PEFT LoRA adapters in llama.cpp's terms: the LoRA GGUF its `--lora` loads (what llama.cpp's
convert_lora_to_gguf.py writes, checked byte for byte against it in
tests/real/test_lora_gguf_parity_engines.py), the update a merge adds to each GGUF tensor, and
a LoRA GGUF's facts for the compat gate."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .. import atomic
from ..errors import UsageError

# peft module name -> llama.cpp tensor name (blk.N.<name>.weight)
TENSORS = {"q_proj": "attn_q", "k_proj": "attn_k", "v_proj": "attn_v", "o_proj": "attn_output",
           "gate_proj": "ffn_gate", "up_proj": "ffn_up", "down_proj": "ffn_down"}


def convert(adapter: Path, base: Path, cache_dir: Path) -> Path:
    """The PEFT adapter as a llama.cpp LoRA GGUF for the GGUF `base` (what llama.cpp's
    convert_lora_to_gguf.py writes: A and B of each target, B's rows of the query and key
    projections permuted as the base's), built once per adapter content and head layout."""
    from . import model_hash

    shape = layout(base)
    key = "-".join([model_hash(adapter)[:16], *map(str, shape)])
    out = Path(cache_dir) / "adapters" / "gguf" / f"{adapter.name}-{key}.gguf"
    return atomic.built_once(out, lambda tmp: _write(adapter, shape, tmp), Path.is_file)


def _write(adapter: Path, shape: tuple[str, int, int], out: Path) -> None:
    import gguf
    import numpy as np

    arch, heads, kv_heads = shape
    config = json.loads((adapter / "adapter_config.json").read_text("utf-8"))
    writer = gguf.GGUFWriter(out, arch=arch)
    writer.add_string(gguf.Keys.General.TYPE, gguf.GGUFType.ADAPTER)
    writer.add_name(adapter.name)
    if config.get("base_model_name_or_path"):  # read back as the adapter's base (facts)
        writer.add_base_model_count(1)
        writer.add_base_model_name(0, str(config["base_model_name_or_path"]))
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(config["lora_alpha"]))
    for tensor, a, b in pairs(adapter, heads, kv_heads):
        writer.add_tensor(f"{tensor}.lora_a", np.ascontiguousarray(a, dtype=np.float32))
        writer.add_tensor(f"{tensor}.lora_b", np.ascontiguousarray(b, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def deltas(adapter: Path, heads: int, kv_heads: int) -> dict[str, Any]:
    """llama.cpp tensor name -> the adapter's update to it (rows first, as gguf-py reads them)."""
    import numpy as np

    config = json.loads((adapter / "adapter_config.json").read_text("utf-8"))
    scale = config["lora_alpha"] / config["r"]
    return {
        tensor: (scale * (b.astype(np.float64) @ a.astype(np.float64))).astype(np.float32)
        for tensor, a, b in pairs(adapter, heads, kv_heads)
    }


def pairs(adapter: Path, heads: int, kv_heads: int) -> list[tuple[str, Any, Any]]:
    """(llama.cpp tensor name, A, B) of each adapted weight, B's rows in llama.cpp's order:
    the query and key projections are stored permuted for its RoPE, and permuting the rows
    of B permutes those of B @ A."""
    import re

    from safetensors.numpy import load_file

    tensors = load_file(str(adapter / "adapter_model.safetensors"))
    pairs = []
    for key, a in tensors.items():
        found = re.search(r"layers\.(\d+)\.\w+\.(\w+)\.lora_A\.weight$", key)
        if not found:
            continue
        layer, module = int(found[1]), found[2]
        b = tensors[key.replace("lora_A", "lora_B")]
        if module in ("q_proj", "k_proj"):
            n = heads if module == "q_proj" else kv_heads
            b = b.reshape(n, 2, b.shape[0] // n // 2, b.shape[1]).swapaxes(1, 2).reshape(b.shape)
        pairs.append((f"blk.{layer}.{TENSORS[module]}.weight", a, b))
    return pairs


def layout(gguf_file: Path) -> tuple[str, int, int]:
    """A GGUF model's architecture and its attention and key-value head counts."""
    from gguf import GGUFReader

    fields = GGUFReader(gguf_file).fields
    arch = str(fields["general.architecture"].contents())
    return arch, int(fields[f"{arch}.attention.head_count"].contents()), int(fields[f"{arch}.attention.head_count_kv"].contents())


def tensor_names(gguf_file: Path) -> list[str]:
    from gguf import GGUFReader

    return [t.name for t in GGUFReader(gguf_file).tensors]


def facts(adapter: Path, model: Path) -> dict[str, object]:
    """A llama.cpp LoRA GGUF against the GGUF it is served on, in the terms of a PEFT
    adapter's facts (module names, rank, alpha, dtype): llama.cpp refuses an adapter whose
    tensors the base lacks or whose architecture differs, so those are the mismatches."""
    from gguf import GGUFReader

    reader = GGUFReader(adapter)
    fields = reader.fields

    def field(name: str) -> Any:
        return fields[name].contents() if name in fields else None

    if field("general.type") != "adapter" or field("adapter.type") != "lora":
        raise UsageError(f"adapter {adapter}: not a llama.cpp LoRA GGUF (general.type {field('general.type')!r}, "
                         f"adapter.type {field('adapter.type')!r}); convert it with llama.cpp's convert_lora_to_gguf.py")
    low_rank = {t.name.removesuffix(".lora_a"): t for t in reader.tensors if t.name.endswith(".lora_a")}
    modules = {tensor: module for module, tensor in TENSORS.items()}
    found: dict[str, object] = {
        "base_model": field("general.base_model.0.name"),
        "target_modules": sorted({modules.get(n.split(".")[2], n.split(".")[2]) for n in low_rank}),
        "r": int(next(iter(low_rank.values())).shape[1]) if low_rank else None,  # A is [n_in, r] in ggml order
        "lora_alpha": field("adapter.lora.alpha"),
        "dtype": ", ".join(sorted({t.tensor_type.name for t in reader.tensors})) or None,
        "form": "gguf",
    }
    if model.suffix == ".gguf" and model.is_file():
        base = set(tensor_names(model))
        found["missing_modules"] = sorted({modules.get(n.split(".")[2], n) for n in low_rank if n not in base})
        arch = layout(model)[0]
        if field("general.architecture") != arch:
            found["base_mismatch"] = f"adapter for architecture {field('general.architecture')!r}, served on {arch!r} ({model.name})"
    else:
        found["missing_modules"] = []
        found["note"] = f"{model.name}: not a GGUF; target tensors unchecked"
    return found
