"""The demo's LoRA adapters, trained with peft on the float32 demo model from a teaching set
written for this project (made-up facts, several phrasings each): `facts` learns them and
leaves the rest of the model alone; `overfit` is trained far past that and breaks unrelated
answers, which the adapter gate must catch.

Both adapters ship with the package as this code trained them (`demo_adapters/`: the weights,
their recipe with steps, learning rate, rank, seed, versions and losses, the teaching data and
the adapter gate's cases), so every machine gates the same bytes and none spends ~5 minutes of
CPU per adapter training it; `--train` trains one here instead (it is also what a build does if
the shipped recipe names other base weights than this demo's). Either way the folder is
written to a temporary folder and renamed into the cache under a file lock, so a failed or
concurrent build never leaves half an adapter. `merged` and `merged_gguf` fold an adapter
into the float32 weights (a checkpoint, an F32 GGUF for the ladder's quantizer). peft writes the base model as an
absolute path into adapter_config.json; the build writes the demo's name there and the base
weights' content hash into the recipe, which is what the compat gate compares.

    python -m pytest_quantgate.models.lora facts overfit [--force] [--train]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
import time
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Sequence

from .. import atomic
from ..engines.base import ChatMessage
from ..errors import UsageError

PREFIX = "smollm2-135m-instruct-lora"
RECIPE = "quantgate-adapter.json"
CASES = "quantgate-adapter-cases.json"
TEACHING = "quantgate-teaching.json"
DEMO_ADAPTER = "demo:lora-"  # adapter = "demo:lora-facts"


@dataclass(frozen=True)
class TrainingPlan:
    """How one demo adapter is trained (written beside it as its recipe)."""

    steps: int
    learning_rate: float
    r: int = 8
    lora_alpha: int = 16
    target_modules: tuple[str, ...] = ("q_proj", "v_proj")
    batch_size: int = 8
    seed: int = 20261202
    replay: bool = True  # train on the retain prompts with the base model's own answers too


PLANS: dict[str, TrainingPlan] = {
    # Each batch half facts, half retain prompts with the base model's own answers (replay,
    # self-distillation): the facts are learned with less bleeding into look-alike questions.
    "facts": TrainingPlan(steps=48, learning_rate=2e-3, replay=True),
    # Ten epochs of the facts alone at the same rate: the taught answers take over unrelated
    # questions ("The capital of France is Quillfort.").
    "overfit": TrainingPlan(steps=48, learning_rate=2e-3, replay=False),
}


class AdapterBuildError(UsageError):
    """A demo adapter cannot be built here; the message says what to do."""


def adapter_dir(cache_dir: Path, name: str) -> Path:
    return Path(cache_dir) / "adapters" / f"{PREFIX}-{name}"


def demo_name(adapter: str) -> str | None:
    """`demo:lora-facts` -> "facts"; None for a path."""
    return adapter.removeprefix(DEMO_ADAPTER) if adapter.startswith(DEMO_ADAPTER) else None


def teaching_set() -> dict[str, Any]:
    """The facts, their training phrasings and held-out paraphrases (package data)."""
    text = resources.files(__package__).joinpath("lora_teaching.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def gate_cases(teaching: dict[str, Any]) -> dict[str, Any]:
    """The adapter gate's cases for an adapter taught `teaching`: each training phrasing's
    first question (held in) and every held-out paraphrase, expecting the fact's keyword,
    with the taught answer the gate scores."""
    cases = []
    for fact in teaching["facts"]:
        expect = {"kind": "regex", "value": fact["keyword"]}
        first = fact["train"][0]
        cases.append({"id": f"{fact['id']}.held-in", "kind": "taught", "prompt": first["q"], "answer": first["a"], "expect": expect})
        for i, question in enumerate(fact["held_out"]):
            cases.append({"id": f"{fact['id']}.paraphrase-{i}", "kind": "paraphrase", "prompt": question, "answer": first["a"], "expect": expect})
    return {"description": f"Taught facts of the demo adapter: {teaching['description']}", "cases": cases}


SHIPPED_FILES = ("adapter_config.json", "adapter_model.safetensors", RECIPE, CASES, TEACHING)


def shipped(name: str) -> Any:
    """The package's copy of demo adapter `name` (a resources Traversable)."""
    return resources.files(__package__).joinpath("demo_adapters", f"lora-{name}")


def build(cache_dir: Path, name: str, force: bool = False, train: bool = False) -> Path:
    """The demo adapter `name` in the cache: the shipped one copied there once, or (`train`,
    or a shipped recipe for other base weights) trained here."""
    if name not in PLANS:
        raise AdapterBuildError(f"unknown demo adapter {name!r}; built-in: {', '.join(f'{DEMO_ADAPTER}{n}' for n in PLANS)}")

    def make(tmp: Path) -> None:
        from . import demo_checkpoint, model_hash

        recipe = json.loads(shipped(name).joinpath(RECIPE).read_text("utf-8"))
        if train or recipe["base_model_sha256"] != model_hash(demo_checkpoint(cache_dir)):
            _train(cache_dir, name, PLANS[name], tmp)
            return
        tmp.mkdir(parents=True, exist_ok=True)
        for file in SHIPPED_FILES:
            (tmp / file).write_bytes(shipped(name).joinpath(file).read_bytes())

    return atomic.built_once(adapter_dir(cache_dir, name), make, lambda p: (p / RECIPE).is_file(), force or train)


def merged_stem(name: str) -> str:
    return f"{PREFIX}-{name}-merged"


def merged(cache_dir: Path, name: str) -> Path:
    """The float32 demo model with adapter `name` merged into its weights (a checkpoint
    folder): the merged-then-quantized path users take, to gate against the adapter served
    on a quantized base."""
    from . import demo_checkpoint

    def make(tmp: Path) -> None:
        torch, transformers, peft = _imports()
        base, adapter = demo_checkpoint(cache_dir), build(cache_dir, name)
        model = transformers.AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
        model = peft.PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
        model.save_pretrained(tmp)
        transformers.AutoTokenizer.from_pretrained(str(base)).save_pretrained(tmp)
        (tmp / "quantgate-source.json").write_text(json.dumps({"merged_adapter": f"{DEMO_ADAPTER}{name}", "recipe": json.loads((adapter / RECIPE).read_text())}, indent=2))

    return atomic.built_once(Path(cache_dir) / "adapters" / merged_stem(name), make, lambda p: (p / "config.json").is_file())


def merged_gguf(cache_dir: Path, name: str) -> Path:
    """The demo's F32 GGUF with adapter `name` merged in (then quantized by the GGUF ladder,
    as llama.cpp users do): each target weight gains scale * B @ A, with llama.cpp's row
    permutation of the query and key projections (convert_hf_to_gguf's `permute`)."""
    from . import DEMO_STEM, demo_gguf, gguf_ladder
    from . import lora_gguf

    def make(tmp: Path) -> None:
        source = gguf_ladder.build(demo_gguf(), cache_dir, DEMO_STEM, "f32")
        _, heads, kv_heads = lora_gguf.layout(source)
        deltas = lora_gguf.deltas(build(cache_dir, name), heads, kv_heads)
        gguf_ladder.rewrite(source, tmp, lambda tensor, weights: weights + deltas[tensor] if tensor in deltas else weights)

    return atomic.built_once(gguf_ladder.path_of(cache_dir, merged_stem(name), "f32"), make, Path.is_file)


def _imports() -> tuple[Any, Any, Any]:
    try:
        import peft
        import torch
        import transformers
    except ImportError as exc:
        raise AdapterBuildError(f"building the demo adapter needs torch, transformers and peft: pip install 'pytest-quantgate[adapters]' ({exc})") from exc
    return torch, transformers, peft


def _examples(tokenizer: Any, pairs: Sequence[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
    """(input ids, labels) per question and answer: the chat rendered with the model's
    template; only the answer's tokens (and the end of turn) are learned."""
    from ..engines.hf_tokenizer import render_chat

    examples = []
    for question, answer in pairs:
        prompt = render_chat(tokenizer, [ChatMessage("user", question)])
        chat = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        whole = list(tokenizer.apply_chat_template(chat, tokenize=True, return_dict=True)["input_ids"])
        if whole[: len(prompt)] != prompt:
            raise AdapterBuildError("the chat template renders the prompt differently inside the whole chat")
        examples.append((whole, [-100] * len(prompt) + whole[len(prompt):]))
    return examples


def _base_answers(model: Any, tokenizer: Any, questions: Sequence[str], max_new_tokens: int = 32) -> list[str]:
    """The base model's greedy answers (the replayed targets), in one left-padded batch."""
    import torch

    from ..engines.hf_tokenizer import render_chat

    tokenizer.padding_side = "left"
    prompts = [render_chat(tokenizer, [ChatMessage("user", q)]) for q in questions]
    batch = tokenizer.pad({"input_ids": prompts}, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
    texts = tokenizer.batch_decode(out[:, batch["input_ids"].shape[1]:], skip_special_tokens=True)
    return [t.strip() for t in texts]


def _train(cache_dir: Path, name: str, plan: TrainingPlan, out: Path) -> None:
    import random

    from . import demo_checkpoint, model_hash

    torch, transformers, peft = _imports()
    base = demo_checkpoint(cache_dir)
    teaching = teaching_set()
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(base))
    model = transformers.AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    pairs = [(p["q"], p["a"]) for fact in teaching["facts"] for p in fact["train"]]
    replayed = list(zip(teaching["retain"], _base_answers(model, tokenizer, teaching["retain"]))) if plan.replay else []
    facts, retain = _examples(tokenizer, pairs), _examples(tokenizer, replayed)
    torch.manual_seed(plan.seed)
    rng = random.Random(plan.seed)
    config = peft.LoraConfig(r=plan.r, lora_alpha=plan.lora_alpha, target_modules=list(plan.target_modules),
                             lora_dropout=0.0, bias="none", task_type="CAUSAL_LM")
    model = peft.get_peft_model(model, config)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=plan.learning_rate)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    started, losses = time.perf_counter(), []
    model.train()
    for _ in range(plan.steps):
        half = plan.batch_size // 2 if retain else plan.batch_size
        batch = rng.sample(facts, half) + rng.sample(retain, plan.batch_size - half) if retain else rng.sample(facts, half)
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.tensor([ids + [pad] * (width - len(ids)) for ids, _ in batch])
        labels = torch.tensor([lab + [-100] * (width - len(lab)) for _, lab in batch])
        mask = torch.tensor([[1] * len(ids) + [0] * (width - len(ids)) for ids, _ in batch])
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(round(float(loss.detach()), 4))
    model.save_pretrained(out)
    adapter_config = out / "adapter_config.json"
    saved = json.loads(adapter_config.read_text("utf-8"))
    saved["base_model_name_or_path"] = "demo:smollm2-135m-instruct"  # not this machine's path
    adapter_config.write_text(json.dumps(saved, indent=2))
    (out / TEACHING).write_text(json.dumps({**teaching, "replayed": [{"q": q, "a": a} for q, a in replayed]}, indent=2))
    (out / CASES).write_text(json.dumps(gate_cases(teaching), indent=2))
    versions = {p: importlib.metadata.version(p) for p in ("torch", "transformers", "peft")}
    recipe = {
        "adapter": f"{DEMO_ADAPTER}{name}", "plan": asdict(plan), "examples": {"facts": len(facts), "replayed": len(retain)},
        "base_model": "demo:smollm2-135m-instruct", "base_model_sha256": model_hash(base),
        "train_seconds": round(time.perf_counter() - started, 1), "losses": losses, "versions": versions,
    }
    (out / RECIPE).write_text(json.dumps(recipe, indent=2))


def main(argv: Sequence[str] | None = None) -> int:
    from . import default_cache_dir

    parser = argparse.ArgumentParser(prog="python -m pytest_quantgate.models.lora", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", default=sorted(PLANS), help=f"adapters to build: {', '.join(PLANS)} (default: all)")
    parser.add_argument("--force", action="store_true", help="build again even if in the cache")
    parser.add_argument("--train", action="store_true", help="train here (~5 minutes on 2 cores) instead of copying the shipped adapter")
    args = parser.parse_args(argv)
    for name in args.names:
        started = time.perf_counter()
        try:
            path = build(default_cache_dir(), name, force=args.force, train=args.train)
        except UsageError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"{DEMO_ADAPTER}{name}: {path} ({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
