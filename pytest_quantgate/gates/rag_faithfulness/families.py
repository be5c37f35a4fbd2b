"""Generated RAG cases, seeded and reproducible like the other gates' families: made-up places,
ships and firms (so the model cannot answer from memory) described in two or three numbered
sources, asked about a fact the sources state (answerable, with the value a right answer
states) or one they leave out (the answer must say the sources do not say). The 32 built-in
cases decide a 10-point margin only when no answer flips. Written for this project.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

from .cases import RagCase

SYLLABLES = ("lu", "men", "kar", "so", "vel", "dra", "ti", "mo", "ren", "ka", "bel", "or", "va", "zen", "qui", "la")
CITIES = ("Karsk", "Velmora", "Dunhal", "Orvest", "Pelagos", "Tirnau", "Zelk", "Amaro")
PEOPLE = ("Ilse Varga", "Tomas Brel", "Anika Solt", "Ruben Okafor", "Mei Lindqvist", "Pavel Dorn", "Sina Halvorsen")
COLORS = ("red", "green", "blue", "white", "yellow", "black")


@dataclass(frozen=True)
class Fact:
    """One statement a source can make, the question that asks for it and what the answer states."""

    sentence: str
    question: str
    value: str


@dataclass(frozen=True)
class Subject:
    """A kind of made-up thing: how it is named, the facts a source can state about it (a value
    drawn, the sentence, the question; `{s}` is the name, `{v}` the value) and questions no source
    of the family answers."""

    kind: str
    name: str
    facts: tuple[tuple[Callable[[random.Random], str], str, str], ...]
    never_stated: tuple[str, ...]

    def draw(self, rng: random.Random) -> tuple[list[Fact], list[str]]:
        """One made-up thing of this kind: its facts, and the questions no source states."""
        name = self.name.format("".join(rng.sample(SYLLABLES, rng.randint(2, 3))).capitalize())
        facts = []
        for draw, sentence, question in self.facts:
            value = draw(rng)
            said = sentence.format(s=name, v=value)
            facts.append(Fact(said[0].upper() + said[1:], question.format(s=name), value))
        return facts, [q.format(s=name) for q in self.never_stated]


def _number(low: int, high: int) -> Callable[[random.Random], str]:
    return lambda rng: str(rng.randint(low, high))


def _one_of(choices: tuple[str, ...]) -> Callable[[random.Random], str]:
    return lambda rng: rng.choice(choices)


SUBJECTS = (
    Subject("bridge", "the {} Bridge", (
        (_number(1850, 2015), "{s} opened in {v}.", "When did {s} open?"),
        (_number(80, 2400), "{s} is {v} meters long.", "How long is {s}?"),
        (_one_of(("two", "three", "four")), "{s} carries {v} railway tracks.", "How many railway tracks does {s} carry?"),
        (_one_of(COLORS), "{s} is painted {v}.", "What color is {s}?"),
        (_one_of(CITIES), "{s} crosses the river in {v}.", "In which city is {s}?"),
    ), ("Who designed {s}?", "How much did {s} cost to build?", "How many cars cross {s} each day?")),
    Subject("museum", "the {} Museum", (
        (_one_of(PEOPLE), "{s} was founded by {v}.", "Who founded {s}?"),
        (_number(1800, 2020), "{s} opened its doors in {v}.", "In which year did {s} open?"),
        (_number(5, 90), "{s} has {v} exhibition rooms.", "How many exhibition rooms does {s} have?"),
        (_one_of(("Monday", "Tuesday", "Sunday")), "{s} is closed every {v}.", "On which day is {s} closed?"),
    ), ("How much is a ticket to {s}?", "Who directs {s} today?", "How many visitors did {s} have last year?")),
    Subject("ship", "the ship {}", (
        (_one_of(CITIES), "{s} sails from the port of {v}.", "From which port does {s} sail?"),
        (_number(12, 900), "{s} has a crew of {v}.", "How large is the crew of {s}?"),
        (_number(1890, 2020), "{s} was launched in {v}.", "When was {s} launched?"),
        (_one_of(PEOPLE), "{s} is commanded by {v}.", "Who commands {s}?"),
    ), ("How fast can {s} sail?", "Who built {s}?", "How much cargo can {s} carry?")),
    Subject("firm", "{} Labs", (
        (_one_of(CITIES), "{s} is based in {v}.", "Where is {s} based?"),
        (_number(4, 5000), "{s} employs {v} people.", "How many people does {s} employ?"),
        (_number(1950, 2022), "{s} was started in {v}.", "When was {s} started?"),
        (_one_of(PEOPLE), "The chief executive of {s} is {v}.", "Who is the chief executive of {s}?"),
    ), ("What was the revenue of {s} last year?", "Who founded {s}?", "What does {s} sell?")),
)


def generate(count: int, seed: int = 0) -> list[tuple[RagCase, Fact | None]]:
    """`count` cases, the subjects in turn, about one in four unanswerable (as the built-in
    set), each with the fact its question asks for (None: one no source could state); the
    same for the same seed."""
    rng = random.Random(f"rag_faithfulness:{seed}")
    made: list[tuple[RagCase, Fact | None]] = []
    for index in range(count):
        subject = SUBJECTS[index % len(SUBJECTS)]
        facts, never_stated = subject.draw(rng)
        shown = rng.sample(facts, rng.randint(2, 3))
        answerable = rng.random() >= 0.25
        asked: Fact | None
        expect: tuple[str, ...]
        if answerable:
            asked = rng.choice(shown)
            question, expect = asked.question, (asked.value,)
        else:  # a fact of the subject left out of the sources, or one they never state
            asked = rng.choice([*(f for f in facts if f not in shown), *([None] * len(never_stated))])
            question, expect = (asked.question if asked else rng.choice(never_stated)), ()
        case = RagCase(f"gen-{subject.kind}-{index:03d}", tuple(f.sentence for f in shown), question, answerable, expect)
        made.append((case, asked))
    return made


def generated_cases(count: int, seed: int = 0) -> list[RagCase]:
    return [case for case, _ in generate(count, seed)]
