"""A case's own expectation on an answer: exact, contains, regex or JSON-equal."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Literal, Mapping

from ...errors import ConfigError

ExpectKind = Literal["exact", "contains", "regex", "json_equal"]
EXPECT_KINDS: tuple[str, ...] = ("exact", "contains", "regex", "json_equal")
# A case file's "expect" object.
EXPECT_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["kind", "value"],
    "properties": {"kind": {"enum": list(EXPECT_KINDS)}, "value": {}, "case_sensitive": {"type": "boolean"}},
}


@dataclass(frozen=True)
class Expectation:
    kind: ExpectKind
    value: Any
    case_sensitive: bool = False

    def problem(self) -> str | None:
        """What makes this expectation unusable, found when its case file is read."""
        if self.kind == "regex":
            try:
                re.compile(str(self.value))
            except re.error as exc:
                return f"regex {self.value!r} does not compile: {exc}"
        if self.kind in ("exact", "regex") and not isinstance(self.value, str):
            return f"a {self.kind} expectation takes a string, got {self.value!r}"
        if self.kind == "contains" and not (isinstance(self.value, str) or (isinstance(self.value, list) and self.value)):
            return f"a contains expectation takes a string or a non-empty list of strings, got {self.value!r}"
        return None

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


def read(raw: Mapping[str, Any], gate: str, where: str, index: int) -> Expectation:
    """The "expect" of case `index` of a case file, usable or a ConfigError naming the case."""
    expect = Expectation(**raw["expect"])
    problem = expect.problem()
    if problem:
        raise ConfigError(f"invalid {gate} case file {where}:\n  cases/{index}/expect ({raw['id']}): {problem}")
    return expect


def _fold(text: str, case_sensitive: bool) -> str:
    return text if case_sensitive else text.casefold()
