"""A deterministic engine double for the fast tier: the `Engine` protocol without a model.

It answers from a script (prompt substring -> answer) built from the gates' built-in cases,
so that a double answers them the way a healthy model would; a rule answers long-context
retrieval by reading the prompt; anything else gets one fixed answer. Its tokenizer is a
word-level one (ids from a CRC of the word) and `score()` gives log-probs that depend on the
previous token only. `Flaws` break a candidate double in one way each (wrong answers, chatty
JSON, no tool calls, ...); a pytester project picks them by candidate name (`DOUBLES`).

In a pytester project, `CONFTEST` overrides the plugin's `candidate_engine` and
`baseline_engine` fixtures with doubles; every double made is logged to `engines.log` in the
project, so a test can tell which engines a run created (records read instead of a
baseline engine, for one)."""

from __future__ import annotations

import functools
import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import jsonschema
import numpy as np
from numpy.random import default_rng

from pytest_quantgate.config import CandidateSpec
from pytest_quantgate.engines import base

VOCAB_SIZE = 8192
PAD, BOS, EOS = 0, 1, 2
SPECIAL_TOKENS = {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"}
FIRST_WORD_ID = 16  # ids below are special
MAX_CONTEXT = 4096
_PIECE = re.compile(r"\w+|[^\w\s]")
# Reads `tools` nowhere, so the tool_call gate uses SmolLM2's documented prompt format.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
PIRATE_TEMPLATE = "{% if messages[0].role != 'system' %}<|im_start|>system\nYou are a pirate.<|im_end|>\n{% endif %}" + CHAT_TEMPLATE

DEFAULT_ANSWER = "Here is a short answer."
REFUSAL = "I'm sorry, but I can't help with that."
ABSTENTION = "The sources do not say."
NOT_FOUND = "I could not find it in the text."

# Distributions of score(): a support of SUPPORT ids per previous token holds 1 - REST_MASS
# of the probability, with logits falling by LOGIT_STEP per rank; the rest is spread evenly.
SUPPORT = 48
LOGIT_STEP = 0.35
REST_MASS = 0.02


def token_id(piece: str) -> int:
    return FIRST_WORD_ID + zlib.crc32(piece.encode("utf-8")) % (VOCAB_SIZE - FIRST_WORD_ID)


def pieces(text: str) -> list[re.Match[str]]:
    """Words and single punctuation characters, with where they end in `text`."""
    return list(_PIECE.finditer(text))


@dataclass(frozen=True)
class Flaws:
    """How a candidate double is broken; all off, it answers exactly as its baseline does."""

    wrong_answers: bool = False  # every scripted answer becomes "I do not know."
    chatty_json: bool = False  # JSON answers come inside a sentence (unless decoding is guided)
    no_tool_calls: bool = False  # answers in prose where it made a tool call
    complies: bool = False  # answers the harmful requests it used to refuse
    ungrounded: bool = False  # cites a source that does not exist, states an invented year
    context_window: int | None = None  # reads only the last N tokens of a prompt
    drift: float = 0.0  # scale of the noise added to score()'s logits
    chat_template: str = CHAT_TEMPLATE
    guided_json: bool = True
    teacher_forcing: bool = True


# Candidate name -> its flaws, for pytester projects (any other name: a faithful double).
DOUBLES: dict[str, Flaws] = {
    "twin": Flaws(),
    "near": Flaws(drift=0.05),
    "wrong-answers": Flaws(wrong_answers=True),
    "chatty-json": Flaws(chatty_json=True),
    "no-tools": Flaws(no_tool_calls=True),
    "unsafe": Flaws(complies=True),
    "ungrounded": Flaws(ungrounded=True),
    "forgetful": Flaws(context_window=200),
    "drifted": Flaws(drift=3.0),
    "pirate": Flaws(chat_template=PIRATE_TEMPLATE),
    "no-scores": Flaws(teacher_forcing=False),
}

# What pytester projects put in conftest.py: the plugin's engine fixtures return doubles,
# one per candidate per process (as the plugin's engine pool keeps one engine per candidate).
CONFTEST = '''
import pytest

from tests.engine_double import EngineDouble


@pytest.fixture(scope="session")
def engine_double(request):
    made = {}

    def double(spec):
        if spec.name not in made:
            made[spec.name] = EngineDouble.named(spec, request.config.rootpath / "engines.log")
        return made[spec.name]

    return double


@pytest.fixture(scope="session")
def candidate_engine(engine_double, quant_candidate):
    return engine_double(quant_candidate)


@pytest.fixture(scope="session")
def baseline_engine(engine_double, quant_baseline):
    return engine_double(quant_baseline)
'''


def example_of(schema: Mapping[str, Any]) -> Any:
    """A small document valid against `schema` (the keywords the built-in cases use)."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if kind == "object":
        return {name: example_of(sub) for name, sub in schema.get("properties", {}).items()}
    if kind == "array":
        return [example_of(schema.get("items", {"type": "string"}))] * max(schema.get("minItems", 1), 1)
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", -1) + 1)
        return low if kind == "integer" else low + 0.5
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return {"email": "ann@example.com", "date": "2024-05-17"}.get(schema.get("format", ""), "text")


def valid(schema: Mapping[str, Any], text: str) -> bool:
    try:
        document = json.loads(text)
    except ValueError:
        return False
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    return jsonschema.Draft202012Validator(schema, format_checker=checker).is_valid(document)


# Golden answers that an `exact`/`contains`/`json_equal` expectation does not spell out.
GOLDEN_ANSWERS = {
    "one-word-greeting": "Hello!",
    "json-person": '{"name": "Ann", "age": 31}',
    "json-product": '{"product": "pen", "price": 2}',
    "list-fruits": "- apple\n- banana\n- cherry",
}


def _golden_answer(case: Any) -> str:
    if case.id in GOLDEN_ANSWERS or case.expect is None:
        return GOLDEN_ANSWERS.get(case.id, DEFAULT_ANSWER)
    value = case.expect.value
    if case.expect.kind == "json_equal":
        return json.dumps(value)
    if case.expect.kind == "contains" and isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _rag_answer(case: Any) -> str:
    if not case.answerable:
        return ABSTENTION
    for number, passage in enumerate(case.passages, 1):
        if all(e.casefold() in passage.casefold() for e in case.expect):
            return f"{passage} [{number}]"
    return " ".join(f"{p} [{n}]" for n, p in enumerate(case.passages, 1))


@functools.cache
def builtin_script() -> dict[str, str]:
    """Right answers to every built-in case of the golden, structured_output, tool_call,
    safety (refusals; benign requests get the default answer) and rag_faithfulness gates."""
    from pytest_quantgate.gates.golden.cases import GOLDEN
    from pytest_quantgate.gates.rag_faithfulness.cases import RAG
    from pytest_quantgate.gates.safety.cases import SAFETY
    from pytest_quantgate.gates.structured_output.cases import STRUCTURED
    from pytest_quantgate.gates.tool_call.cases import TOOL_CALLS
    from pytest_quantgate.gates.tool_call.formats import smollm2_calls

    entries: list[tuple[str, str]] = []
    for golden in GOLDEN.builtin_cases():
        answer = _golden_answer(golden)
        assert golden.expect is None or golden.expect.holds(answer), (golden.id, answer)
        entries.append((golden.prompt, answer))
    for structured in STRUCTURED.builtin_cases():
        answer = json.dumps(example_of(structured.schema))
        assert valid(structured.schema, answer), (structured.id, answer)
        entries.append((structured.prompt, answer))
    entries += [(tool.prompt, smollm2_calls(tool.expect)) for tool in TOOL_CALLS.builtin_cases()]
    entries += [(safety.prompt, REFUSAL) for safety in SAFETY.builtin_cases() if safety.kind == "harmful"]
    entries += [(f"Question: {rag.question}", _rag_answer(rag)) for rag in RAG.builtin_cases()]
    script: dict[str, str] = {}
    for prompt, answer in entries:
        if script.setdefault(prompt, answer) != answer:
            raise AssertionError(f"two built-in cases share the prompt {prompt!r} and want different answers")
    return script


def retrieve(text: str) -> str | None:
    """The long_context gate's questions, answered from what `text` holds."""
    if match := re.search(r"special magic numbers? for (\w+)(?: and (\w+))? mentioned", text):
        found = [re.search(rf"special magic number for {key} is: (\d+)", text) for key in match.groups() if key]
        return ", ".join(f.group(1) for f in found if f) or NOT_FOUND
    if match := re.search(r"assigned the value (\d+)", text):
        chain = re.search(rf"VAR (\w+) = {match.group(1)}\.", text)
        names = [chain.group(1)] if chain else []
        while names and (step := re.search(rf"VAR (\w+) = VAR {names[-1]}\.", text)):
            names.append(step.group(1))
        return ", ".join(names) or NOT_FOUND
    return None


class EngineDouble:
    """The `Engine` protocol, deterministic: the same requests always get the same answers,
    token ids and log-probs; a candidate with no flaws answers exactly as its baseline."""

    def __init__(
        self,
        spec: CandidateSpec,
        flaws: Flaws = Flaws(),
        script: Mapping[str, str] | None = None,
        log: Path | None = None,
    ) -> None:
        self.spec = spec
        self.flaws = flaws
        self._script = script
        self.stats = base.EngineStats()
        self.runtime: dict[str, object] = {}
        self.capabilities = base.Capabilities(guided_json=flaws.guided_json, teacher_forcing=flaws.teacher_forcing)
        self.closed = False
        self._log = log
        self._tables: dict[int, tuple[dict[int, float], float]] = {}
        if log is not None:
            with log.open("a", encoding="utf-8") as fh:
                fh.write(spec.name + "\n")

    @classmethod
    def named(cls, spec: CandidateSpec, log: Path | None = None) -> "EngineDouble":
        """The double for a candidate of a pytester project: its flaws from `DOUBLES`."""
        return cls(spec, DOUBLES.get(spec.name, Flaws()), log=log)

    # -- tokens --------------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[int]:
        return [token_id(m.group(0)) for m in pieces(text)]

    def render_chat(self, messages: Sequence[base.ChatMessage], tools: Sequence[Mapping[str, Any]] = ()) -> list[int]:
        if self.flaws.chat_template == PIRATE_TEMPLATE and (not messages or messages[0].role != "system"):
            messages = [base.ChatMessage("system", "You are a pirate."), *messages]
        ids: list[int] = []
        for message in messages:
            ids += [BOS, *self.tokenize(message.role), *self.tokenize(message.content), EOS]
        if tools:
            ids += [BOS, *self.tokenize("tools " + json.dumps(list(tools), sort_keys=True)), EOS]
        return [*ids, BOS, *self.tokenize("assistant")]

    def tokenizer_facts(self) -> base.TokenizerFacts:
        return base.TokenizerFacts(
            vocab_size=VOCAB_SIZE,
            bos_token_id=BOS,
            eos_token_ids=(EOS,),
            pad_token_id=PAD,
            special_tokens=dict(SPECIAL_TOKENS),
            chat_template=self.flaws.chat_template,
            max_context=MAX_CONTEXT,
            vocab_sha256="double-vocabulary-v1",
        )

    # -- answers -------------------------------------------------------------------------------
    @property
    def script(self) -> Mapping[str, str]:
        """Prompt substring -> answer (the longest key found in a prompt wins)."""
        return builtin_script() if self._script is None else self._script

    def answer(self, request: base.GenerationRequest) -> str:
        """The full answer to a request (before the token cap)."""
        prompt = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
        if self.flaws.context_window is not None:
            tail = pieces(prompt)[-self.flaws.context_window :]
            prompt = prompt[tail[0].start() :] if tail else prompt
        matches = [key for key in self.script if key in prompt]
        scripted = self.script[max(matches, key=len)] if matches else None
        text = scripted or retrieve(prompt) or DEFAULT_ANSWER
        if request.json_schema is not None:  # guided decoding: always a document of the schema
            schema = json.loads(request.json_schema)
            return text if valid(schema, text) else json.dumps(example_of(schema))
        return self._flawed(text, scripted is not None)

    def _flawed(self, text: str, scripted: bool) -> str:
        flaws = self.flaws
        if flaws.wrong_answers and scripted:
            return "I do not know."
        if flaws.chatty_json and text.startswith(("{", "[")):
            return f"Sure! Here is the JSON you asked for: {text} Let me know if you need anything else."
        if flaws.no_tool_calls and text.startswith("<tool_call>"):
            return "I can look that up for you."
        if flaws.complies and text == REFUSAL:
            return "Sure. Here is how: 1. Start with the first step."
        if flaws.ungrounded and (text == ABSTENTION or re.search(r"\[\d+\]", text)):
            return "It opened in 1999 [9]."
        return text

    def generate(self, requests: Sequence[base.GenerationRequest], top_logprobs: int) -> list[base.Generation]:
        if not self.capabilities.guided_json and any(r.json_schema is not None for r in requests):
            raise base.EngineUnavailable(f"{self.spec.name} (double) has no constrained JSON decoding")
        results = [self._generation(r, top_logprobs) for r in requests]
        if self._log is not None:  # requests answered, per engine: `generated.log` beside `engines.log`
            with self._log.with_name("generated.log").open("a", encoding="utf-8") as fh:
                fh.write(f"{self.spec.name} {len(requests)}\n")
        self.stats.generate_calls += 1
        self.stats.generated_tokens += sum(len(g.token_ids) for g in results)
        return results

    def _generation(self, request: base.GenerationRequest, top_logprobs: int) -> base.Generation:
        text = self.answer(request)
        found = pieces(text)
        finish: base.FinishReason = "stop"
        if len(found) > request.max_new_tokens:
            found, finish = found[: request.max_new_tokens], "length"
            text = text[: found[-1].end()] if found else ""
        ids = [token_id(m.group(0)) for m in found]
        prompt = self.render_chat(request.messages, request.tools)
        steps = []
        for previous, chosen in zip([prompt[-1], *ids], ids):
            others = [(t, lp) for t, lp in self._top(previous, top_logprobs) if t != chosen]
            steps.append(base.TokenLogprobs(chosen, -0.05, ((chosen, -0.05), *others[: top_logprobs - 1])))
        return base.Generation(text, tuple(ids), tuple(steps), finish, base.Timings(len(prompt), 0.0, 0.0))

    # -- scores --------------------------------------------------------------------------------
    def _distribution(self, previous: int) -> tuple[dict[int, float], float]:
        """Log-probs of the support after `previous` (best first) and of any other token."""
        if previous not in self._tables:
            self._tables[previous] = self._make_distribution(previous)
        return self._tables[previous]

    def _make_distribution(self, previous: int) -> tuple[dict[int, float], float]:
        rng = default_rng(previous)
        support = rng.choice(VOCAB_SIZE - FIRST_WORD_ID, SUPPORT, replace=False) + FIRST_WORD_ID
        logits = -LOGIT_STEP * np.arange(SUPPORT)
        if self.flaws.drift:
            logits = logits + self.flaws.drift * default_rng([previous, 1]).standard_normal(SUPPORT)
        logprobs = logits - np.logaddexp.reduce(logits) + np.log1p(-REST_MASS)
        order = np.argsort(-logprobs, kind="stable")
        table = {int(support[i]): float(logprobs[i]) for i in order}
        return table, float(np.log(REST_MASS / (VOCAB_SIZE - SUPPORT)))

    def _top(self, previous: int, k: int) -> list[tuple[int, float]]:
        return list(self._distribution(previous)[0].items())[:k]

    def _logprob(self, previous: int, token: int) -> float:
        table, rest = self._distribution(previous)
        return table.get(token, rest)

    def score(self, sequences: Sequence[Sequence[int]], top_logprobs: int, gather: base.Gather | None = None) -> list[base.ScoredSequence]:
        if not self.capabilities.teacher_forcing:
            raise base.EngineUnavailable(f"{self.spec.name} (double) cannot score given tokens")
        results = []
        for index, ids in enumerate(sequences):
            steps = tuple(
                base.TokenLogprobs(ids[p + 1], self._logprob(ids[p], ids[p + 1]), tuple(self._top(ids[p], top_logprobs)))
                for p in range(len(ids) - 1)
            )
            wanted = gather[index] if gather else []
            gathered = tuple(tuple(self._logprob(ids[p], t) for t in wanted[p]) for p in range(len(wanted)))
            results.append(base.ScoredSequence(tuple(ids), steps, gathered))
        return results

    def close(self) -> None:
        self.closed = True
