"""BFCL's own cases as tool_call cases (`gates.tool_call.bfcl = ["simple_python", ...]`).

The Berkeley Function Calling Leaderboard ships its questions and possible answers in the
`bfcl-eval` package (`bfcl_eval/data/BFCL_v4_<category>.json` and `possible_answer/`). Only
those data files are read: the package's own modules (and its heavy, pinned dependencies)
are never imported, so it is installed with `pip install --no-deps bfcl-eval`.

Each question becomes a ToolCase: BFCL's messages (system messages as the case's system
prompt, the user's question as its prompt); its function docs as OpenAI `tools`, the types
converted as BFCL converts them for tool-calling models (`dict` -> object, `float` -> number,
`tuple`/`list` -> array, `any` -> string, ...; model_handler/utils.py `_cast_to_openai_type`);
its possible answers as expected calls: the first acceptable value of each argument is the
call's `arguments`, the others go to `accept`, an argument whose answers include "" is
`optional`, and the per-key answers of object arguments and lists of objects become
`$object` / `$items` patterns. Irrelevance questions expect no call.

A case whose possible answer breaks its own tool's schema (a value outside the enum, of
another type, a required argument marked optional) is kept without the alternatives that
break it, or left out when its answer cannot be made valid (`Conversion.skipped` says why):
the gate checks answers against the schema, so such a case could never pass.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ...config import ConfigError
from .cases import CallError, ExpectedCall, ItemsPattern, ObjectPattern, ToolCase, call_problems
from .thresholds import BFCL_CATEGORIES

INSTALL = "pip install --no-deps bfcl-eval"
NO_CALL_CATEGORIES = ("irrelevance", "live_irrelevance")

# BFCL's GORILLA_TO_OPENAPI (bfcl_eval/constants/type_mappings.py); other types become strings.
OPENAPI_TYPES = {
    "integer": "integer",
    "number": "number",
    "float": "number",
    "string": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "dict": "object",
    "object": "object",
    "tuple": "array",
    "any": "string",
    "byte": "integer",
    "short": "integer",
    "long": "integer",
    "double": "number",
    "char": "string",
    "ArrayList": "array",
    "Array": "array",
    "HashMap": "object",
    "Hashtable": "object",
    "Queue": "array",
    "Stack": "array",
    "Any": "string",
    "String": "string",
    "Bigint": "integer",
}


def data_dir() -> Path:
    """bfcl-eval's data folder, found without importing the package."""
    try:
        spec = importlib.util.find_spec("bfcl_eval")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec else []
    folder = Path(locations[0]) / "data" if locations else None
    if folder is None or not folder.is_dir():
        raise ConfigError(
            f"gates.tool_call.bfcl needs BFCL's cases from the bfcl-eval package, which is not installed here: {INSTALL}"
        )
    return folder


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def read(category: str, folder: Path | None = None) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """BFCL's questions of a category and their possible answers by id (none for irrelevance)."""
    if category not in BFCL_CATEGORIES:
        raise ConfigError(f"gates.tool_call.bfcl: unknown category {category!r}; allowed: {', '.join(BFCL_CATEGORIES)}")
    folder = folder or data_dir()
    questions = folder / f"BFCL_v4_{category}.json"
    if not questions.is_file():
        raise ConfigError(f"gates.tool_call.bfcl: {questions} is missing from the bfcl-eval package; reinstall it: {INSTALL}")
    answers = folder / "possible_answer" / questions.name
    truth = {a["id"]: a["ground_truth"] for a in _lines(answers)} if answers.is_file() else {}
    return _lines(questions), truth


def openai_schema(node: Mapping[str, Any]) -> dict[str, Any]:
    """A BFCL parameter schema as JSON Schema: its types through OPENAPI_TYPES (a missing or
    unknown type is a string, as BFCL does), properties and items converted throughout."""
    out = copy.deepcopy(dict(node))
    kind = out.get("type")
    out["type"] = OPENAPI_TYPES.get(kind, "string") if isinstance(kind, str) else "string"
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: openai_schema(v) for k, v in out["properties"].items()}
    if isinstance(out.get("items"), dict):
        out["items"] = openai_schema(out["items"])
    if "required" in out and not (isinstance(out["required"], list) and all(isinstance(r, str) for r in out["required"])):
        del out["required"]
    return out


def tool(function: Mapping[str, Any]) -> dict[str, Any]:
    """A BFCL function doc as an OpenAI `tools` entry."""
    parameters = openai_schema(function.get("parameters", {"type": "dict", "properties": {}}))
    parameters["type"] = "object"
    parameters.setdefault("properties", {})
    body = {"name": function["name"], "description": function.get("description", ""), "parameters": parameters}
    return {"type": "function", "function": body}


def _per_key(item: Any) -> bool:
    """Whether a BFCL answer is per-key: {key: [acceptable values, "" when optional]}."""
    return isinstance(item, dict) and all(isinstance(v, list) for v in item.values())


def _per_key_list(value: Any, schema: Mapping[str, Any]) -> bool:
    items = schema.get("items", {})
    return schema.get("type") == "array" and items.get("type") == "object" and isinstance(value, list) and all(map(_per_key, value))


def _keys_pattern(answer: Mapping[str, Any]) -> ObjectPattern:
    return ObjectPattern(
        {k: tuple(v for v in alts if v != "") for k, alts in answer.items()},
        tuple(k for k, alts in answer.items() if "" in alts),
    )


def acceptable(value: Any, schema: Mapping[str, Any]) -> Any:
    """One of BFCL's possible answers of an argument as an acceptable value: the per-key
    answers of an object (BFCL's dict_checker) and of the objects of a list (list_dict_checker)
    as patterns, anything else as it is."""
    if schema.get("type") == "object" and _per_key(value):
        return _keys_pattern(value)
    if _per_key_list(value, schema):
        return ItemsPattern(tuple((_keys_pattern(v),) for v in value))
    return value


def first_value(value: Any, schema: Mapping[str, Any]) -> Any:
    """One of BFCL's possible answers as a plain value: per-key answers take their first
    value, a key whose first answer is "" left out."""
    if schema.get("type") == "object" and _per_key(value):
        return {k: alts[0] for k, alts in value.items() if alts and alts[0] != ""}
    if _per_key_list(value, schema):
        return [first_value(v, schema["items"]) for v in value]
    return value


def expected_call(name: str, answers: Mapping[str, Sequence[Any]], function: Mapping[str, Any]) -> ExpectedCall:
    """BFCL's possible answer of one call, `{argument: [acceptable values, "" if optional]}`:
    the first values are the call's `arguments`, the others its `accept`."""
    properties = function["parameters"].get("properties", {})
    arguments: dict[str, Any] = {}
    accept: dict[str, tuple[Any, ...]] = {}
    for argument, alts in answers.items():
        schema = properties.get(argument, {})
        values = [acceptable(v, schema) for v in alts if v != ""]
        if alts and alts[0] != "":
            arguments[argument] = first_value(alts[0], schema)
            if not isinstance(values[0], (ObjectPattern, ItemsPattern)):
                values = values[1:]  # a pattern stays: its keys have other values too
        if values or argument not in arguments:
            accept[argument] = tuple(values)
    return ExpectedCall(name, arguments, tuple(a for a, alts in answers.items() if "" in alts), accept)


def valid_call(call: ExpectedCall, function: Mapping[str, Any]) -> tuple[ExpectedCall | None, list[CallError]]:
    """The expected call without what its tool's schema rules out (acceptable values that break
    it, optional marks on what it requires, optional arguments it does not declare), and what
    was taken out; None when the call itself (the first acceptable values) is not valid."""
    problems = call_problems(call, function, check_schema=False)
    if not problems:
        return call, []
    if any(p.kind in ("tool", "call") or (p.kind == "undeclared" and p.argument not in call.optional) for p in problems):
        return None, problems
    undeclared = {p.argument for p in problems if p.kind == "undeclared"}
    left_out = {p.argument for p in problems if p.kind == "left out"}
    bad = {(p.argument, p.alternative) for p in problems if p.kind == "alternative"}
    trimmed = ExpectedCall(
        call.name,
        {k: v for k, v in call.arguments.items() if k not in undeclared},
        tuple(a for a in call.optional if a not in left_out and a not in undeclared),
        {k: tuple(v for i, v in enumerate(alts) if (k, i) not in bad) for k, alts in call.accept.items() if k not in undeclared},
    )
    if any(not trimmed.acceptable(a) for a in trimmed.needed) or call_problems(trimmed, function, check_schema=False):
        return None, problems
    return trimmed, problems


@dataclass(frozen=True)
class Pruned:
    """What a converted case lost to its tool's schema: in expected call `call`, `argument`'s
    acceptable `value` ("alternative"), its optional mark ("left out"), or the argument itself
    ("undeclared"); `why` is the schema's complaint."""

    case_id: str
    call: str
    kind: str
    argument: str
    value: Any
    why: str


@dataclass(frozen=True)
class Conversion:
    """One BFCL category as cases; `skipped` holds (id, why) for the questions left out,
    `pruned` what the kept cases lost to their tools' schemas."""

    category: str
    cases: list[ToolCase] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    pruned: list[Pruned] = field(default_factory=list)


def convert(category: str, folder: Path | None = None) -> Conversion:
    """Every question of a BFCL category as a ToolCase (or a reason it is left out)."""
    questions, truth = read(category, folder)
    done = Conversion(category)
    for question in questions:
        qid = question["id"]
        turns = question["question"]
        messages = turns[0] if len(turns) == 1 else []
        roles = [m["role"] for m in messages]
        if not roles or roles[-1] != "user" or "user" in roles[:-1] or set(roles[:-1]) - {"system"}:
            done.skipped.append((qid, f"the question is not one user message after system messages ({'/'.join(roles) or f'{len(turns)} turns'})"))
            continue
        tools = tuple(tool(f) for f in question["function"])
        functions = {t["function"]["name"]: t["function"] for t in tools}
        expect: list[ExpectedCall] = []
        if category not in NO_CALL_CATEGORIES:
            if qid not in truth:
                done.skipped.append((qid, "no possible answer"))
                continue
            for answer in truth[qid]:
                ((name, answers),) = answer.items()
                if name not in functions:
                    done.skipped.append((qid, f"its answer calls {name}, which it does not offer"))
                    break
                whole = expected_call(name, answers, functions[name])
                call, removed = valid_call(whole, functions[name])
                if call is None:
                    done.skipped.append((qid, f"its answer to {name} breaks the tool's schema: {removed[0]}"))
                    break
                done.pruned.extend(
                    Pruned(qid, name, p.kind, p.argument or "", whole.accept[p.argument][p.alternative] if p.alternative is not None and p.argument else None, str(p))
                    for p in removed
                )
                expect.append(call)
            if len(expect) != len(truth[qid]):
                continue
        system = "\n\n".join(m["content"] for m in messages[:-1]) or None
        done.cases.append(ToolCase(qid, messages[-1]["content"], tools, tuple(expect), system=system, category=category))
    return done


def budget(case: ToolCase, floor: int) -> int:
    """Enough new tokens for the expected calls written out (about 2 characters a token),
    never under the gate's own max_new_tokens."""
    written = json.dumps([{"name": c.name, "arguments": c.to_json()["arguments"]} for c in case.expect])
    return max(floor, 32 * -(-(48 + len(written) // 2) // 32)) if case.expect else floor


def cases(categories: Iterable[str], sample: int = 0, seed: int = 0, max_new_tokens: int = 64) -> list[ToolCase]:
    """The cases of these BFCL categories: all, or `sample` of each drawn with `seed`."""
    folder = data_dir()
    chosen: list[ToolCase] = []
    for category in categories:
        found = convert(category, folder).cases
        if sample and sample < len(found):
            keep = set(random.Random(f"{seed}/{category}").sample(range(len(found)), sample))
            found = [c for i, c in enumerate(found) if i in keep]
        chosen += [replace(c, max_new_tokens=budget(c, max_new_tokens)) for c in found]
    return chosen
