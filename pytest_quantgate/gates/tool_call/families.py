"""Generated tool-call cases, seeded and reproducible like the other gates' generated cases:
requests that state every argument (a city, an amount and two currency codes, a timer's
minutes, a ticker, a party size, ...), offered the built-in tools with up to two others beside
the one due, and questions that no offered tool answers. The 31 built-in cases decide a
10-point margin only when no call flips; a few hundred decide it at the flips quantized models
show (README "Sequential decisions"). The tools and the worked demonstration are the built-in
file's, so the cases are checked as a case file is. Written for this project.
"""

from __future__ import annotations

import random
from typing import Any, Callable

from .cases import TOOL_CALLS, ToolCase

CITIES = ("Lisbon", "Oslo", "Cairo", "Lima", "Kyoto", "Dublin", "Quito", "Perth", "Riga", "Tunis", "Porto", "Accra",
          "Vienna", "Denver", "Manila", "Nairobi", "Seoul", "Zurich", "Austin", "Hanoi")
TICKERS = ("AAPL", "MSFT", "GOOG", "AMZN", "TSLA", "NVDA", "META", "IBM", "INTC", "ORCL", "NFLX", "AMD", "SHOP", "UBER")
CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "INR", "CNY", "SEK")
LANGUAGES = ("french", "german", "spanish", "italian")
PHRASES = ("good night", "see you soon", "where is the station", "I like tea", "happy birthday", "the door is open",
           "how much is this", "thank you very much", "it is raining", "my name is Sam")
TOPICS = ("cheap flights to Rome", "banana bread recipe", "python list comprehension", "best hiking boots",
          "how tides work", "local jazz concerts", "history of the bicycle", "tomato plant diseases", "used cars in Oslo")
RESTAURANTS = ("Luigi's", "The Blue Door", "Casa Verde", "Sakura", "Le Petit Bistro", "Golden Dragon", "Olive Tree")
CHORES = ("pay rent", "call mom", "buy milk", "water the plants", "renew passport", "book dentist", "fix the bike")
SONGS = (("Yesterday", "The Beatles"), ("Imagine", "John Lennon"), ("Hello", "Adele"), ("Halo", "Beyonce"),
         ("Thriller", "Michael Jackson"), ("Vogue", "Madonna"), ("Wonderwall", "Oasis"), ("Hurt", "Johnny Cash"))
PEOPLE = ("ann", "omar", "lena", "kenji", "maria", "tom", "priya", "lucas")
SUBJECTS = ("Lunch", "Meeting", "Invoice", "Holiday", "Report", "Tickets", "Dinner")
# Questions no offered tool answers: the model should answer in words.
NO_CALL = ("What is the capital of {country}?", "Tell me a fun fact about {animal}.", "What is {a} plus {b}?",
           "Write one sentence about {animal}.", "Who wrote Romeo and Juliet?", "Why is the sea salty?")
COUNTRIES = ("France", "Peru", "Japan", "Kenya", "Norway", "Chile", "Egypt", "Canada")
ANIMALS = ("owls", "dolphins", "cats", "penguins", "bees", "horses", "frogs")

Shape = tuple[str, str, list[dict[str, Any]]]  # the tool due (or ""), the prompt, the expected calls


def _weather(rng: random.Random) -> Shape:
    city = rng.choice(CITIES)
    if rng.random() < 0.4:
        unit = rng.choice(("celsius", "fahrenheit"))
        prompt = rng.choice(("What's the weather in {} in {}?", "Tell me the weather in {} in {}."))
        return "get_weather", prompt.format(city, unit), [{"name": "get_weather", "arguments": {"city": city, "unit": unit}}]
    prompt = rng.choice(("What's the weather in {}?", "How is the weather in {} today?", "Is it raining in {}?"))
    return "get_weather", prompt.format(city), [{"name": "get_weather", "arguments": {"city": city}, "optional": ["unit"]}]


def _stock(rng: random.Random) -> Shape:
    symbol = rng.choice(TICKERS)
    prompt = rng.choice(("What is the stock price of {}?", "Get me the price of {} stock.", "How much is {} trading at?"))
    return "get_stock_price", prompt.format(symbol), [{"name": "get_stock_price", "arguments": {"symbol": symbol}}]


def _timer(rng: random.Random) -> Shape:
    minutes = rng.randint(1, 90)
    prompt = rng.choice(("Set a timer for {} minutes.", "Start a {} minute timer.", "Please time {} minutes for me."))
    return "set_timer", prompt.format(minutes), [{"name": "set_timer", "arguments": {"minutes": minutes}}]


def _currency(rng: random.Random) -> Shape:
    amount = rng.choice((rng.randint(2, 900), rng.randint(1, 50) * 100))
    source, target = rng.sample(CURRENCIES, 2)
    prompt = rng.choice(("Convert {} {} to {}.", "How much is {} {} in {}?"))
    call = {"name": "convert_currency", "arguments": {"amount": amount, "from_currency": source, "to_currency": target}}
    return "convert_currency", prompt.format(amount, source, target), [call]


def _translate(rng: random.Random) -> Shape:
    text, language = rng.choice(PHRASES), rng.choice(LANGUAGES)
    prompt = rng.choice(("Translate '{}' into {}.", "Translate '{}' to {}."))
    return "translate_text", prompt.format(text, language), [{"name": "translate_text", "arguments": {"text": text, "target_language": language}}]


def _search(rng: random.Random) -> Shape:
    query = rng.choice(TOPICS)
    prompt = rng.choice(("Search the web for {}.", "Look up {} online."))
    return "search_web", prompt.format(query), [{"name": "search_web", "arguments": {"query": query}}]


def _table(rng: random.Random) -> Shape:
    restaurant, people = rng.choice(RESTAURANTS), rng.randint(1, 12)
    prompt = rng.choice(("Book a table for {1} people at {0}.", "Reserve a table at {0} for {1}."))
    return "book_table", prompt.format(restaurant, people), [{"name": "book_table", "arguments": {"restaurant": restaurant, "people": people}}]


def _todo(rng: random.Random) -> Shape:
    chore, priority = rng.choice(CHORES), rng.choice(("low", "medium", "high"))
    prompt = f"Add '{chore}' to my to-do list with {priority} priority."
    return "add_todo", prompt, [{"name": "add_todo", "arguments": {"item": chore, "priority": priority}}]


def _area(rng: random.Random) -> Shape:
    width, height = rng.randint(2, 40), rng.choice((rng.randint(2, 40), rng.randint(3, 79) + 0.5))
    prompt = f"What is the area of a rectangle {width} wide and {height} high?"
    return "calculate_area", prompt, [{"name": "calculate_area", "arguments": {"width": width, "height": height}}]


def _music(rng: random.Random) -> Shape:
    song, artist = rng.choice(SONGS)
    if rng.random() < 0.5:
        return "play_music", f"Play {song} by {artist}.", [{"name": "play_music", "arguments": {"song": song, "artist": artist}}]
    return "play_music", f"Play the song {song}.", [{"name": "play_music", "arguments": {"song": song}, "optional": ["artist"]}]


def _email(rng: random.Random) -> Shape:
    person, subject = rng.choice(PEOPLE), rng.choice(SUBJECTS)
    prompt = f"Send an email to {person}@example.com with subject {subject}."
    return "send_email", prompt, [{"name": "send_email", "arguments": {"to": f"{person}@example.com", "subject": subject}, "optional": ["body"]}]


def _no_call(rng: random.Random) -> Shape:
    question = rng.choice(NO_CALL).format(country=rng.choice(COUNTRIES), animal=rng.choice(ANIMALS), a=rng.randint(2, 99),
                                          b=rng.randint(2, 99))
    return "", question, []


SHAPES: tuple[Callable[[random.Random], Shape], ...] = (
    _weather, _stock, _timer, _currency, _no_call, _translate, _search, _table, _todo, _area, _music, _email,
)


def generated_cases(count: int, seed: int = 0) -> list[ToolCase]:
    """`count` distinct cases, the shapes in turn, the same for the same seed. The tool due is
    offered alone or beside one or two others (in a drawn order); a question no tool answers is
    offered one or two tools. Built and checked as a case file (every expected call valid)."""
    if not count:
        return []
    builtin = TOOL_CALLS.builtin_data()
    names = sorted(builtin["tools"])
    rng = random.Random(f"tool_call:{seed}")
    raws: list[dict[str, Any]] = []
    seen: set[str] = set()
    for _ in range(100 * count):  # a repeat is drawn again; the shapes hold thousands of prompts
        if len(raws) == count:
            break
        due, prompt, expect = SHAPES[len(raws) % len(SHAPES)](rng)
        others = rng.sample([n for n in names if n != due], rng.randint(0 if due else 1, 2))
        offered = rng.sample([*([due] if due else []), *others], len(others) + bool(due))
        category = "no-call" if not due else ("choice" if others else "single")
        key = f"{prompt}|{','.join(offered)}"
        if key in seen:
            continue
        seen.add(key)
        raws.append({"id": f"gen-{category}-{len(raws):03d}", "category": category, "prompt": prompt, "tools": offered, "expect": expect})
    data = {"tools": builtin["tools"], "demonstration": builtin["demonstration"], "cases": raws}
    return TOOL_CALLS.parse(data, f"the generated tool_call cases (seed {seed})")

