"""Reading a model's answer as JSON: strictly (the whole answer), or the first document
found inside extra text, and validating it against a JSON Schema with the failing path.

Serving clients differ: some `json.loads` the answer, some dig the object out of prose or a
code fence. A quantized model that adds a sentence after the JSON breaks the first kind
only, so both readings are reported.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

import jsonschema

_DECODER = json.JSONDecoder()
_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n(.*?)```", re.DOTALL)


@dataclass(frozen=True)
class JsonReading:
    """What an answer holds. `strict`: the whole answer (less surrounding whitespace) is one
    JSON document. `found`: a document was found at text[start:end] (strict or embedded)."""

    strict: bool
    found: bool
    document: Any = None
    start: int = 0
    end: int = 0
    before: str = ""  # text before the document (a code fence's opening included)
    after: str = ""  # text after it
    reason: str = ""  # why nothing was found

    @property
    def clean(self) -> bool:
        """Nothing but whitespace around the document."""
        return self.strict


def read_json(text: str) -> JsonReading:
    """The answer as JSON: strict when it parses whole, else the first object or array found
    inside it (a fenced block first, then the first position where one decodes)."""
    stripped = text.strip()
    if not stripped:
        return JsonReading(False, False, reason="empty answer")
    try:
        document = json.loads(stripped)
    except ValueError:
        pass
    else:
        start = text.index(stripped[0])
        return JsonReading(True, True, document, start, start + len(stripped))
    for match in _FENCE.finditer(text):
        inner = match.group(1)
        try:
            document = json.loads(inner)
        except ValueError:
            continue
        return JsonReading(
            False, True, document, match.start(1), match.end(1), text[: match.start(1)], text[match.end(1) :]
        )
    first_error = ""
    for match in re.finditer(r"[\[{]", text):
        try:
            document, end = _DECODER.raw_decode(text, match.start())
        except json.JSONDecodeError as exc:
            first_error = first_error or f"{exc.msg} at offset {exc.pos}"
            continue
        return JsonReading(False, True, document, match.start(), end, text[: match.start()], text[end:])
    if not first_error:
        return JsonReading(False, False, reason="no JSON object or array in the answer")
    return JsonReading(False, False, reason=f"no complete JSON document (first attempt: {first_error})")


def schema_errors(schema: Mapping[str, Any], document: Any, limit: int = 5) -> list[str]:
    """Every way `document` breaks `schema` (draft 2020-12, formats checked), each with the
    JSON path where it happens; empty when it validates."""
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{e.json_path}: {e.message}" for e in errors[:limit]]


def value_differences(baseline: Any, candidate: Any, path: str = "$") -> list[str]:
    """JSON paths where two documents differ (keys missing on either side, other values)."""
    if isinstance(baseline, dict) and isinstance(candidate, dict):
        diffs: list[str] = []
        for key in sorted(set(baseline) | set(candidate)):
            where = f"{path}.{key}"
            if key not in candidate:
                diffs.append(f"{where}: missing (baseline {json.dumps(baseline[key])[:40]})")
            elif key not in baseline:
                diffs.append(f"{where}: extra key (candidate {json.dumps(candidate[key])[:40]})")
            else:
                diffs.extend(value_differences(baseline[key], candidate[key], where))
        return diffs
    if isinstance(baseline, list) and isinstance(candidate, list) and len(baseline) == len(candidate):
        return [d for i, (b, c) in enumerate(zip(baseline, candidate)) for d in value_differences(b, c, f"{path}[{i}]")]
    if baseline == candidate and isinstance(baseline, bool) == isinstance(candidate, bool):
        return []  # 31 and 31.0 are the same value; true and 1 are not
    return [f"{path}: {json.dumps(baseline)[:40]} -> {json.dumps(candidate)[:40]}"]
