"""The demo lm-eval task `quantgate_people`: a field (city or job) of one of three people
described in a short text, answered through the chat template. Its data file, people.jsonl,
is written by `python -m pytest_quantgate.gates.lm_eval.tasks.people` (seeded); lm-eval reads
it through `load` (custom_dataset), so the YAML needs no path relative to where pytest runs."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("people.jsonl")
SIZE = 128
SEED = 0
NAMES = ("Maria Lopez", "Kenji Sato", "Amara Okafor", "Lukas Novak", "Priya Nair", "Tom Becker", "Sofia Rossi",
         "Omar Haddad", "Elena Petrova", "James Carter", "Ines Moreau", "Chen Wei")
CITIES = ("Seville", "Osaka", "Lagos", "Prague", "Chennai", "Hamburg", "Turin", "Beirut", "Kazan", "Denver",
          "Lyon", "Suzhou", "Porto", "Quito")
JOBS = ("teacher", "pilot", "baker", "nurse", "chemist", "carpenter", "librarian", "architect", "farmer", "dentist")


def generate(size: int = SIZE, seed: int = SEED) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(size):
        people = [(name, rng.choice(CITIES), rng.choice(JOBS)) for name in rng.sample(NAMES, 3)]
        text = " ".join(f"{name} is a {job} from {city}." for name, city, job in people)
        name, city, job = rng.choice(people)
        if rng.random() < 0.5:
            rows.append({"question": f"{text}\nWhich city is {name} from?", "answer": city})
        else:
            rows.append({"question": f"{text}\nWhat is {name}'s job?", "answer": job})
    return rows


def load(**_: Any) -> dict[str, Any]:
    import datasets

    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})


def process_results(doc: dict[str, str], results: list[str]) -> dict[str, int]:
    """1 when the answer's first line names the asked field as a word (case-insensitive)."""
    first_line = results[0].strip().split("\n")[0]
    return {"answered": int(re.search(rf"\b{re.escape(doc['answer'])}\b", first_line, re.IGNORECASE) is not None)}


if __name__ == "__main__":
    DATA.write_text("".join(json.dumps(row) + "\n" for row in generate()), encoding="utf-8")
