"""A case's own expectation on an answer: exact, contains, regex or JSON-equal."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal

ExpectKind = Literal["exact", "contains", "regex", "json_equal"]
EXPECT_KINDS: tuple[str, ...] = ("exact", "contains", "regex", "json_equal")


@dataclass(frozen=True)
class Expectation:
    kind: ExpectKind
    value: Any
    case_sensitive: bool = False

    def holds(self, text: str) -> bool:
        answer = text.strip()
        if self.kind == "exact":
            return _fold(answer, self.case_sensitive) == _fold(str(self.value).strip(), self.case_sensitive)
        if self.kind == "contains":
            needles = self.value if isinstance(self.value, list) else [self.value]
            hay = _fold(answer, self.case_sensitive)
            return all(_fold(str(n), self.case_sensitive) in hay for n in needles)
        if self.kind == "regex":
            flags = 0 if self.case_sensitive else re.IGNORECASE
            return re.search(str(self.value), answer, flags | re.DOTALL) is not None
        if self.kind == "json_equal":
            try:
                return json.loads(answer) == self.value
            except ValueError:
                return False
        raise ValueError(f"unknown expectation kind {self.kind!r}; allowed: {', '.join(EXPECT_KINDS)}")


def _fold(text: str, case_sensitive: bool) -> str:
    return text if case_sensitive else text.casefold()
