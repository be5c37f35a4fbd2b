"""Deterministic grounding of an answer in numbered source passages: citations like [2]
must name a passage that exists; the numbers, dates and named entities the answer states
must appear in the passages it cites (in any passage when it cites none); a question the
sources do not answer must be answered as such. No judge model by default; an NLI scorer
can be added with `gates.rag_faithfulness.nli = "package.module:function"`, a callable
(premise, hypothesis) -> entailment probability: the cited passages must then entail the
answer with at least `nli_threshold`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Callable, Sequence

_CITATION = re.compile(r"\[(\d+)\]")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\w])")
_ENTITY = re.compile(r"\b[A-Z][a-zA-Z]+(?:\s+[A-Z][a-zA-Z]+)*")
# Words that open sentences or are capitalised for other reasons; not entities.
_NOT_ENTITIES = frozenset(
    "The A An In On At It Its This That These Those There They He She We You I Yes No According "
    "Answer Source Sources Question Based However Also And But Or So If When What Which Who How "
    "Note Therefore Thus".split()
)
ABSTENTIONS: tuple[str, ...] = (
    "do not say", "does not say", "don't say", "not mentioned", "does not mention", "do not mention",
    "no information", "not provided", "not in the sources", "not stated", "cannot find", "can't find",
    "cannot be determined", "not specified", "do not contain", "does not contain", "don't know",
    "not known", "unknown", "not available",
)


@dataclass(frozen=True)
class Grounding:
    cited: tuple[int, ...]
    invalid_citations: tuple[int, ...]
    unsupported: tuple[str, ...]
    abstained: bool
    problems: tuple[str, ...] = field(default=())

    @property
    def grounded(self) -> bool:
        return not self.problems


def claims(answer: str) -> list[str]:
    """Numbers, dates and named entities the answer states (citations left out)."""
    text = _CITATION.sub(" ", answer)
    found = [m.group(0).rstrip(".,") for m in _NUMBER.finditer(text)]
    for match in _ENTITY.finditer(text):
        words = [w for w in match.group(0).split() if w not in _NOT_ENTITIES]
        if words:
            found.append(" ".join(words))
    return list(dict.fromkeys(found))


def unstated(found: Sequence[str], text: str) -> list[str]:
    """The claims (numbers, dates, names) that `text` does not state."""
    support = _normal(text)
    return [c for c in found if _normal(c) not in support]


def similarity(a: str, b: str) -> float:
    """difflib's ratio of two answers (1.0: identical)."""
    return SequenceMatcher(None, a, b, autojunk=False).ratio()


@dataclass(frozen=True)
class Agreement:
    """How a candidate's answer agrees with the baseline's to the same request: close in
    wording (difflib ratio) and stating every number, date and name the baseline stated."""

    similarity: float
    dropped: tuple[str, ...]
    min_similarity: float

    @property
    def agrees(self) -> bool:
        return self.similarity >= self.min_similarity and not self.dropped

    @classmethod
    def of(cls, baseline: str, candidate: str, min_similarity: float) -> "Agreement":
        return cls(round(similarity(baseline, candidate), 4), tuple(unstated(claims(baseline), candidate)), min_similarity)

    def problems(self) -> list[str]:
        found = []
        if self.similarity < self.min_similarity:
            found.append(f"answers differently (similarity {self.similarity} < {self.min_similarity})")
        if self.dropped:
            found.append(f"drops what the baseline states: {', '.join(map(repr, self.dropped[:5]))}")
        return found


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text.casefold().replace(",", ""))


def check(
    answer: str,
    passages: Sequence[str],
    answerable: bool,
    entails: Callable[[str, str], float] | None = None,
    threshold: float = 0.5,
) -> Grounding:
    cited = tuple(dict.fromkeys(int(n) for n in _CITATION.findall(answer)))
    invalid = tuple(n for n in cited if not 1 <= n <= len(passages))
    valid = [passages[n - 1] for n in cited if 1 <= n <= len(passages)]
    unsupported = tuple(unstated(claims(answer), " ".join(valid or passages)))
    folded = answer.casefold().replace("’", "'")
    abstained = any(p in folded for p in ABSTENTIONS)
    problems = [f"cites [{n}], which does not exist ({len(passages)} sources)" for n in invalid]
    if answerable:
        if not answer.strip():
            problems.append("empty answer")
        problems += [f"states {c!r}, which the {'cited ' if valid else ''}sources do not" for c in unsupported]
        if entails is not None and answer.strip():
            score = float(entails(" ".join(valid or passages), _CITATION.sub("", answer).strip()))
            if score < threshold:
                problems.append(f"the sources do not entail the answer (NLI {score:.2f} < {threshold})")
    elif not abstained:
        problems.append("answers a question the sources do not answer (no 'the sources do not say')")
        problems += [f"states {c!r}, which no source does" for c in unsupported]
    return Grounding(cited, invalid, unsupported, abstained, tuple(problems))
