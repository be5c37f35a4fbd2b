"""Generated structured-output cases, seeded and reproducible like the golden task families and
the generated safety cases: a record given in words, asked back as JSON under a schema, in the
shapes of the built-in set (flat objects, enums, arrays, nested objects, bounds, optional keys).
The 30 built-in cases decide a 10-point margin only when no answer flips; a few hundred decide
it at the flips quantized models show (README "Sequential decisions"). Written for this project.
"""

from __future__ import annotations

import random
from typing import Any, Callable

from .cases import StructuredCase

DRAFT = "https://json-schema.org/draft/2020-12/schema"
NAMES = ("Ann", "Omar", "Lena", "Kenji", "Maria", "Tom", "Priya", "Lucas", "Sara", "Ivan", "Chloe", "Yusuf", "Nora", "Diego")
CITIES = ("Lisbon", "Oslo", "Cairo", "Lima", "Kyoto", "Dublin", "Quito", "Perth", "Riga", "Tunis", "Porto", "Accra")
JOBS = ("nurse", "pilot", "baker", "teacher", "plumber", "chemist", "lawyer", "farmer")
PRODUCTS = ("kettle", "backpack", "desk lamp", "blender", "umbrella", "headset", "notebook", "toaster", "scarf", "bicycle bell")
COLORS = ("red", "green", "blue", "black", "white")
PRIORITIES = ("low", "medium", "high")
FRUITS = ("apple", "pear", "plum", "mango", "kiwi", "lemon", "grape", "cherry", "peach", "fig")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December")
ONLY = ("Output only the JSON.", "Only the JSON object.", "Reply with the JSON and nothing else.")

Shape = tuple[str, str, dict[str, Any], Any]  # category, prompt, schema, the faithful answer


def _object(properties: dict[str, Any], required: list[str], closed: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
    return {**schema, "additionalProperties": False} if closed else schema


def _person(rng: random.Random) -> Shape:
    name, age, city, job = rng.choice(NAMES), rng.randint(18, 90), rng.choice(CITIES), rng.choice(JOBS)
    prompt = (f'{name} is {age} years old, lives in {city} and works as a {job}. Return a JSON object with keys '
              f'"name", "age", "city" and "job" for this person. {rng.choice(ONLY)}')
    props = {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0, "maximum": 150},
             "city": {"type": "string"}, "job": {"type": "string"}}
    return "flat", prompt, _object(props, list(props), closed=True), {"name": name, "age": age, "city": city, "job": job}


def _product(rng: random.Random) -> Shape:
    product, price, stock = rng.choice(PRODUCTS), rng.randint(3, 400), rng.choice((True, False))
    said = "in stock" if stock else "out of stock"
    prompt = (f'The {product} costs {price} dollars and is {said}. Give it as a JSON object with keys "product" (string), '
              f'"price" (integer) and "in_stock" (boolean). {rng.choice(ONLY)}')
    props = {"product": {"type": "string"}, "price": {"type": "integer", "minimum": 0}, "in_stock": {"type": "boolean"}}
    return "flat", prompt, _object(props, list(props)), {"product": product, "price": price, "in_stock": stock}


def _ticket(rng: random.Random) -> Shape:
    number, priority, color = rng.randint(100, 999), rng.choice(PRIORITIES), rng.choice(COLORS)
    prompt = (f'Ticket {number} has {priority} priority and the label color {color}. Return a JSON object with keys '
              f'"ticket" (integer), "priority" (one of "low", "medium", "high") and "color". {rng.choice(ONLY)}')
    props = {"ticket": {"type": "integer"}, "priority": {"enum": list(PRIORITIES)}, "color": {"enum": list(COLORS)}}
    return "enum", prompt, _object(props, list(props)), {"ticket": number, "priority": priority, "color": color}


def _basket(rng: random.Random) -> Shape:
    fruits = rng.sample(FRUITS, rng.randint(2, 4))
    listed = ", ".join(fruits[:-1]) + f" and {fruits[-1]}"
    prompt = f'The basket holds {listed}. Give the fruits as a JSON array of strings, in that order. {rng.choice(ONLY)}'
    schema = {"type": "array", "items": {"type": "string"}, "minItems": len(fruits), "maxItems": len(fruits)}
    return "array", prompt, schema, fruits


def _event(rng: random.Random) -> Shape:
    day, month, year, city = rng.randint(1, 28), rng.choice(MONTHS), rng.randint(1990, 2030), rng.choice(CITIES)
    seats = rng.randint(20, 500)
    prompt = (f'The concert is on {month} {day}, {year} in {city} with {seats} seats. Return a JSON object with keys "date" '
              f'(an object with "day", "month", "year"), "city" and "seats". {rng.choice(ONLY)}')
    date = _object({"day": {"type": "integer", "minimum": 1, "maximum": 31}, "month": {"type": "string"},
                    "year": {"type": "integer"}}, ["day", "month", "year"])
    props = {"date": date, "city": {"type": "string"}, "seats": {"type": "integer", "minimum": 0}}
    document = {"date": {"day": day, "month": month, "year": year}, "city": city, "seats": seats}
    return "nested-object", prompt, _object(props, list(props)), document


def _reading(rng: random.Random) -> Shape:
    temperature, humidity, city = rng.randint(-20, 40), rng.randint(5, 100), rng.choice(CITIES)
    prompt = (f'In {city} it is {temperature} degrees Celsius with {humidity} percent humidity. Return a JSON object with '
              f'keys "city", "celsius" and "humidity" (a percentage from 0 to 100). {rng.choice(ONLY)}')
    props = {"city": {"type": "string"}, "celsius": {"type": "number", "minimum": -90, "maximum": 60},
             "humidity": {"type": "integer", "minimum": 0, "maximum": 100}}
    return "bounds", prompt, _object(props, list(props)), {"city": city, "celsius": temperature, "humidity": humidity}


def _contact(rng: random.Random) -> Shape:
    name, city = rng.choice(NAMES), rng.choice(CITIES)
    phone = rng.choice((None, f"555-{rng.randint(1000, 9999)}"))
    told = f" Their phone number is {phone}." if phone else " No phone number is known."
    prompt = (f'{name} lives in {city}.{told} Return a JSON object with keys "name" and "city", and "phone" only if it '
              f'is known. {rng.choice(ONLY)}')
    props = {"name": {"type": "string"}, "city": {"type": "string"}, "phone": {"type": "string"}}
    document = {"name": name, "city": city, **({"phone": phone} if phone else {})}
    return "optional", prompt, _object(props, ["name", "city"], closed=True), document


SHAPES: tuple[Callable[[random.Random], Shape], ...] = (_person, _product, _ticket, _basket, _event, _reading, _contact)


def generate(count: int, seed: int = 0) -> list[tuple[StructuredCase, Any]]:
    """`count` distinct cases, the shapes in turn, each with the answer that states its record
    faithfully (tests/fast/test_structured_gate.py holds each schema to it); the same for the same seed."""
    rng = random.Random(f"structured_output:{seed}")
    made: list[tuple[StructuredCase, Any]] = []
    seen: set[str] = set()
    for _ in range(100 * count):  # a repeat is drawn again; the shapes hold thousands of prompts each
        if len(made) == count:
            break
        category, prompt, schema, document = SHAPES[len(made) % len(SHAPES)](rng)
        if prompt in seen:
            continue
        seen.add(prompt)
        case = StructuredCase(id=f"gen-{category}-{len(made):03d}", prompt=prompt, schema={"$schema": DRAFT, **schema}, category=category)
        made.append((case, document))
    return made


def generated_cases(count: int, seed: int = 0) -> list[StructuredCase]:
    return [case for case, _ in generate(count, seed)]
