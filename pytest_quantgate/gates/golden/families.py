"""Generated golden task families: hundreds of seeded, reproducible cases whose answers are
checked by code, so the paired rule has the cases it needs to decide (issue 16; README
"Task families"). Written for this project.

Families: `arithmetic` (sums, differences, products, word problems), `units` (unit
conversions), `instructions` (format constraints checked as IFEval checks them: lower case,
capitals, bullet count, ending phrase, required and forbidden words, quotes, word limit, JSON
only), `extraction` (a field from a short given text), `lists` (sorting, counting, reversing,
picking). Every case comes with an answer its check accepts and a near miss it refuses
(tests/fast/test_families.py holds each check to both).
"""

from __future__ import annotations

import random
import re
from typing import Callable

from ..common.expectations import Expectation
from .cases import GoldenCase

Generated = tuple[GoldenCase, str, str]  # a case, an answer its check accepts and one it refuses
Template = Callable[[random.Random, str], Generated]

TOPICS = ("cats", "the ocean", "winter", "coffee", "trains", "music", "gardens", "the moon", "bicycles", "rain",
          "libraries", "mountains", "bread", "rivers", "clocks", "birds", "the desert", "football", "honey", "snow")
NAMES = ("Maria Lopez", "Kenji Sato", "Amara Okafor", "Lukas Novak", "Priya Nair", "Tom Becker", "Sofia Rossi",
         "Omar Haddad", "Elena Petrova", "James Carter", "Ines Moreau", "Chen Wei")
CITIES = ("Seville", "Osaka", "Lagos", "Prague", "Chennai", "Hamburg", "Turin", "Beirut", "Kazan", "Denver",
          "Lyon", "Suzhou", "Porto", "Quito")
JOBS = ("teacher", "pilot", "baker", "nurse", "chemist", "carpenter", "librarian", "architect", "farmer", "dentist")
FRUITS = ("apple", "pear", "plum", "cherry", "mango", "lemon", "grape", "peach", "kiwi", "melon", "orange", "fig")
COLOURS = ("red", "green", "blue", "yellow", "purple", "orange", "black", "white", "pink", "brown")
NUMBER_ONLY = " Answer with the number only."


def _number(value: int) -> Expectation:
    """The number, not as part of a longer one (thousands separators allowed)."""
    digits = f"{value:,}".replace(",", ",?")
    return Expectation("regex", rf"(?<![\d.]){'-' if value < 0 else ''}{digits.lstrip('-')}(?![\d]|\.\d)")


def _case(family: str, index: str, prompt: str, expect: Expectation, right: str, wrong: str) -> Generated:
    return GoldenCase(id=f"{family}-{index}", prompt=prompt, category=family, expect=expect), right, wrong


# -- arithmetic -------------------------------------------------------------------------------
def _sum(rng: random.Random, index: str) -> Generated:
    a, b = rng.randint(10, 99), rng.randint(10, 99)
    return _case("arithmetic", index, f"What is {a} + {b}?{NUMBER_ONLY}", _number(a + b), str(a + b), str(a + b + 1))


def _difference(rng: random.Random, index: str) -> Generated:
    a, b = sorted((rng.randint(10, 99), rng.randint(10, 99)), reverse=True)
    return _case("arithmetic", index, f"What is {a} - {b}?{NUMBER_ONLY}", _number(a - b), str(a - b), f"{a - b}0")


def _product(rng: random.Random, index: str) -> Generated:
    a, b = rng.randint(2, 9), rng.randint(2, 12)
    return _case("arithmetic", index, f"What is {a} times {b}?{NUMBER_ONLY}", _number(a * b), str(a * b), str(a * b + a))


def _word_problem(rng: random.Random, index: str) -> Generated:
    name, fruit = rng.choice(NAMES).split()[0], rng.choice(FRUITS)
    have, more = rng.randint(2, 20), rng.randint(2, 20)
    prompt = f"{name} has {have} {fruit}s and buys {more} more. How many {fruit}s does {name} have now?{NUMBER_ONLY}"
    return _case("arithmetic", index, prompt, _number(have + more), str(have + more), str(have * more))


# -- units ------------------------------------------------------------------------------------
UNITS = (("meters", "centimeters", 100), ("kilograms", "grams", 1000), ("hours", "minutes", 60),
         ("minutes", "seconds", 60), ("weeks", "days", 7), ("days", "hours", 24), ("kilometers", "meters", 1000),
         ("dozens", "items", 12), ("liters", "milliliters", 1000), ("years", "months", 12), ("decades", "years", 10),
         ("centuries", "years", 100), ("feet", "inches", 12), ("yards", "feet", 3), ("dollars", "cents", 100),
         ("meters", "millimeters", 1000), ("tons", "kilograms", 1000), ("years", "weeks", 52),
         ("pounds", "ounces", 16), ("gallons", "quarts", 4))
SINGULAR = {"centuries": "century", "inches": "inch", "feet": "foot"}


def _conversion(rng: random.Random, index: str) -> Generated:
    # Small amounts (1 to 10): a 135M model knows the factors and can scale them by a little;
    # larger ones put nearly every case beyond it (2.5% passed with 2 to 30).
    big, small, factor = rng.choice(UNITS)
    amount = rng.randint(1, 10)
    unit = SINGULAR.get(big, big.removesuffix("s")) if amount == 1 else big
    prompt = f"How many {small} are in {amount} {unit}?{NUMBER_ONLY}"
    return _case("units", index, prompt, _number(amount * factor), str(amount * factor), str(amount))


# -- instructions (checked by code, as IFEval does) ---------------------------------------------
def _lowercase(rng: random.Random, index: str) -> Generated:
    topic = rng.choice(TOPICS)
    prompt = f"Write one sentence about {topic}. Use only lowercase letters, no capital letters at all."
    return _case("instructions", index, prompt, Expectation("regex", r"^(?=[^A-Z]*[a-z])[^A-Z]+$", case_sensitive=True),
                 f"{topic} are lovely.", f"{topic.title()} are lovely.")


def _capitals(rng: random.Random, index: str) -> Generated:
    topic = rng.choice(TOPICS)
    prompt = f"Write one short sentence about {topic} in ALL CAPITAL LETTERS."
    return _case("instructions", index, prompt, Expectation("regex", r"^(?=[^a-z]*[A-Z])[^a-z]+$", case_sensitive=True),
                 f"{topic.upper()} ARE LOVELY.", f"{topic.upper()} are lovely.")


def _bullets(rng: random.Random, index: str) -> Generated:
    topic, count = rng.choice(TOPICS), rng.choice((2, 3, 4))
    prompt = f"List exactly {count} facts about {topic} as bullet points. Start each line with '- ' and write nothing else."
    pattern = r"^" + r"\n".join([r"[-*] [^\n]+"] * count) + r"$"
    return _case("instructions", index, prompt, Expectation("regex", pattern), "\n".join(f"- fact {i}" for i in range(count)),
                 "\n".join(f"- fact {i}" for i in range(count + 1)))


def _ending(rng: random.Random, index: str) -> Generated:
    topic = rng.choice(TOPICS)
    prompt = f"Write two sentences about {topic}. End your answer with the exact words 'That is all.'"
    return _case("instructions", index, prompt, Expectation("regex", r"That is all\.?[\"']?$"), f"I like {topic}. That is all.", f"That is all. I like {topic}.")


def _required_word(rng: random.Random, index: str) -> Generated:
    topic, word = rng.choice(TOPICS), rng.choice(COLOURS)
    prompt = f"Write one sentence about {topic} that uses the word '{word}'."
    return _case("instructions", index, prompt, Expectation("regex", rf"\b{word}\b"), f"{topic} can look {word}.", f"{topic} can look {word}ish.")


def _forbidden_word(rng: random.Random, index: str) -> Generated:
    topic = rng.choice(TOPICS)
    word = topic.split()[-1]
    prompt = f"Describe {topic} in one sentence without using the word '{word}'."
    return _case("instructions", index, prompt, Expectation("regex", rf"^(?!.*\b{word}\b).*\w"), "It is calm and old.", f"I like {word}.")


def _quoted(rng: random.Random, index: str) -> Generated:
    topic = rng.choice(TOPICS)
    prompt = f"Write one sentence about {topic} and wrap your whole answer in double quotation marks."
    return _case("instructions", index, prompt, Expectation("regex", r'^"[^"]+"$'), f'"I like {topic}."', f"I like {topic}.")


def _word_limit(rng: random.Random, index: str) -> Generated:
    topic, limit = rng.choice(TOPICS), rng.choice((5, 8, 10))
    prompt = f"Describe {topic} in at most {limit} words."
    pattern = rf"^\W*(?:[\w'-]+\W+){{0,{limit - 1}}}[\w'-]*\W*$"
    return _case("instructions", index, prompt, Expectation("regex", pattern), f"{topic} are nice.", " ".join(["word"] * (limit + 1)))


def _json_only(rng: random.Random, index: str) -> Generated:
    key, value = rng.choice(("name", "city", "colour", "fruit")), rng.randint(1, 99)
    prompt = f'Give a JSON object with the key "{key}" set to the number {value}. Answer with the JSON object only.'
    return _case("instructions", index, prompt, Expectation("json_equal", {key: value}), f'{{"{key}": {value}}}', f'{{"{key}": {value + 1}}}')


def _repeat(rng: random.Random, index: str) -> Generated:
    fruit, colour, name = rng.choice(FRUITS), rng.choice(COLOURS), rng.choice(NAMES).split()[0]
    sentence = f"{name} keeps a {colour} {fruit} on the table."
    prompt = f"Repeat this sentence exactly and write nothing else: {sentence}"
    return _case("instructions", index, prompt, Expectation("regex", rf"^\W*{re.escape(sentence[:-1])}\W*$"), sentence, f"{sentence} It is nice.")


def _one_word(rng: random.Random, index: str) -> Generated:
    topic = rng.choice(TOPICS)
    prompt = f"Name one word that describes {topic}. Answer with a single word and nothing else."
    return _case("instructions", index, prompt, Expectation("regex", r"^\W*[A-Za-z'-]+\W*$"), "Calm.", "Calm and old.")


# -- extraction -------------------------------------------------------------------------------
FIELDS = (("city", "In which city was {first} born? Answer with the city only."),
          ("year", "In which year was {first} born? Answer with the year only."),
          ("job", "What does {first} work as? Answer with one word."))


def _extraction(rng: random.Random, index: str) -> Generated:
    name, city, job, year = rng.choice(NAMES), rng.choice(CITIES), rng.choice(JOBS), rng.randint(1950, 2005)
    field, question = rng.choice(FIELDS)
    first = name.split()[0]
    text = f"{name} was born in {city} in {year} and works as a {job}."
    value = {"city": city, "year": str(year), "job": job}[field]
    wrong = {"city": next(c for c in CITIES if c != city), "year": str(year + 1), "job": next(j for j in JOBS if j != job)}[field]
    prompt = f"Text: {text}\nQuestion: {question.format(first=first)}"
    return _case("extraction", index, prompt, Expectation("regex", rf"\b{re.escape(value)}\b"), value, wrong)


# -- lists ------------------------------------------------------------------------------------
def _sorting(rng: random.Random, index: str) -> Generated:
    numbers = rng.sample(range(1, 50), rng.choice((3, 4)))
    ordered = sorted(numbers)
    prompt = f"Sort these numbers from smallest to largest: {', '.join(map(str, numbers))}. Answer with the numbers separated by commas."
    pattern = r"^\D*" + r"\D+".join(map(str, ordered)) + r"\D*$"
    return _case("lists", index, prompt, Expectation("regex", pattern), ", ".join(map(str, ordered)), ", ".join(map(str, reversed(ordered))))


def _counting(rng: random.Random, index: str) -> Generated:
    items = rng.sample(FRUITS, rng.randint(2, 6))
    prompt = f"How many items are in this list: {', '.join(items)}?{NUMBER_ONLY}"
    return _case("lists", index, prompt, _number(len(items)), str(len(items)), str(len(items) + 1))


def _reversing(rng: random.Random, index: str) -> Generated:
    words = rng.sample(COLOURS, 3)
    prompt = f"Write these words in reverse order: {', '.join(words)}. Answer with the words separated by commas."
    pattern = r"\b" + r"\b\W+\b".join(reversed(words)) + r"\b"
    return _case("lists", index, prompt, Expectation("regex", pattern), ", ".join(reversed(words)), ", ".join(words))


def _picking(rng: random.Random, index: str) -> Generated:
    words = rng.sample(FRUITS, 4)
    which, pick = rng.choice((("first", words[0]), ("last", words[-1])))
    prompt = f"What is the {which} word in this list: {', '.join(words)}? Answer with the word only."
    return _case("lists", index, prompt, Expectation("regex", rf"\b{pick}\b"), pick, words[1])


FAMILIES: dict[str, tuple[Template, ...]] = {
    "arithmetic": (_sum, _difference, _product, _word_problem),
    "units": (_conversion,),
    "instructions": (_lowercase, _capitals, _bullets, _ending, _required_word, _forbidden_word, _quoted, _word_limit, _json_only,
                     _repeat, _one_word),
    "extraction": (_extraction,),
    "lists": (_sorting, _counting, _reversing, _picking),
}


def generate(family: str, count: int, seed: int = 0) -> list[Generated]:
    """`count` cases of `family`, the same for the same seed; templates take turns. Prompts
    repeat only where a family has fewer distinct prompts than `count` (duplicates dropped)."""
    rng = random.Random(f"{family}:{seed}")
    templates = FAMILIES[family]
    seen: set[str] = set()
    out: list[Generated] = []
    for attempt in range(count * 20):
        generated = templates[attempt % len(templates)](rng, f"{len(out):04d}")
        if generated[0].prompt not in seen:
            seen.add(generated[0].prompt)
            out.append(generated)
        if len(out) == count:
            break
    return out


def family_cases(families: tuple[str, ...], count: int, seed: int) -> list[GoldenCase]:
    """The golden gate's generated cases: `count` of each family named."""
    return [case for family in families for case, _, _ in generate(family, count, seed)]
