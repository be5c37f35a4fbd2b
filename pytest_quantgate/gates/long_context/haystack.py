"""Long-context retrieval tasks in the manner of RULER: needles (key-value facts) hidden at
chosen depths in filler of a chosen length, and a variable-tracking chain. Every task is
made reproducibly from a seed; answers are scored with RULER's string_match_all (the share
of expected strings found in the answer).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Callable, Sequence

from ...engines.base import GenerationRequest

# RULER's "noise" haystack: repetitive filler with nothing to retrieve.
FILLER = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
KEYS = (
    "amber", "basil", "cedar", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "juniper",
    "kestrel", "lantern", "meadow", "nectar", "orchid", "pepper", "quartz", "raven", "saffron", "thistle",
)
TASKS = ("single", "multi", "variables")


@dataclass(frozen=True)
class RetrievalCase:
    id: str
    task: str  # single | multi | variables
    length: int  # target prompt length in tokens
    depth: float  # 0..1, where the (first) needle sits
    prompt: str
    expected: tuple[str, ...]
    max_new_tokens: int = 32

    def request(self) -> GenerationRequest:
        return GenerationRequest.chat(self.prompt, self.max_new_tokens)


def string_match_all(answer: str, expected: Sequence[str]) -> float:
    """RULER's metric: the share of expected strings found in the answer (case-insensitive)."""
    if not expected:
        return 1.0
    folded = answer.casefold()
    return sum(e.casefold() in folded for e in expected) / len(expected)


def _haystack(needles: Sequence[tuple[float, str]], length: int, count_tokens: Callable[[str], int]) -> str:
    """Filler of about `length` tokens with each needle sentence inserted at its depth."""
    used = sum(count_tokens(n) for _, n in needles)
    per_filler = max(count_tokens(FILLER), 1)
    sentences = [s + ". " for s in FILLER.split(". ") if s.strip()]
    per_sentence = per_filler / len(sentences)
    count = max(int((length - used) / per_sentence), 1)
    body = [sentences[i % len(sentences)] for i in range(count)]
    for depth, needle in sorted(needles, reverse=True):  # deepest first keeps earlier indices valid
        body.insert(round(depth * len(body)), needle.strip() + " ")
    return "".join(body).strip()


def _number(rng: random.Random) -> str:
    return str(rng.randint(1_000_000, 9_999_999))


def make_case(task: str, length: int, depth: float, seed: int | str, count_tokens: Callable[[str], int]) -> RetrievalCase:
    """One task at one length and depth; the same arguments always give the same case."""
    rng = random.Random(f"{seed}:{task}:{length}:{depth}")
    case_id = f"{task}-{length}-d{round(depth * 100):03d}"
    if task == "single":
        key, value = rng.choice(KEYS), _number(rng)
        text = _haystack([(depth, f"The special magic number for {key} is: {value}.")], length, count_tokens)
        question = f"What is the special magic number for {key} mentioned in the text above? Answer with the number only."
        return RetrievalCase(case_id, task, length, depth, f"{text}\n\n{question}", (value,), 32)
    if task == "multi":
        keys = rng.sample(KEYS, 2)
        values = [_number(rng) for _ in keys]
        depths = [depth, (depth + 0.5) % 1.0]
        needles = [(d, f"The special magic number for {k} is: {v}.") for d, k, v in zip(depths, keys, values)]
        text = _haystack(needles, length, count_tokens)
        question = (
            f"What are the special magic numbers for {keys[0]} and {keys[1]} mentioned in the text above? "
            "Answer with the two numbers only."
        )
        return RetrievalCase(case_id, task, length, depth, f"{text}\n\n{question}", tuple(values), 48)
    if task == "variables":
        names = ["".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(5)) for _ in range(3)]
        value = str(rng.randint(10_000, 99_999))
        chain = [f"VAR {names[0]} = {value}."] + [f"VAR {b} = VAR {a}." for a, b in zip(names, names[1:])]
        spread = [min(depth + i * 0.1, 1.0) for i in range(len(chain))]
        text = _haystack(list(zip(spread, chain)), length, count_tokens)
        question = f"Which variables are assigned the value {value}, directly or through other variables? Answer with the variable names only."
        return RetrievalCase(case_id, task, length, depth, f"{text}\n\n{question}", tuple(names), 48)
    raise ValueError(f"unknown long-context task {task!r}; allowed: {', '.join(TASKS)}")


def make_grid(
    lengths: Sequence[int],
    depths: Sequence[float],
    tasks: Sequence[str],
    seed: int,
    count_tokens: Callable[[str], int],
    repeats: int = 1,
) -> list[RetrievalCase]:
    """`single` at every length and depth; `multi` and `variables` at every length, at the
    middle depth (they place their own needles across the context); each cell `repeats` times,
    draw r > 0 made from its own seed and named `<cell>-r<r>`."""
    cases = []
    for draw in range(repeats):
        for length in lengths:
            for task in tasks:
                for depth in depths if task == "single" else [0.25]:
                    case = make_case(task, length, depth, seed if draw == 0 else f"{seed}.{draw}", count_tokens)
                    cases.append(case if draw == 0 else replace(case, id=f"{case.id}-r{draw}"))
    return cases
