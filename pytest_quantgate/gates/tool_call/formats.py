"""How tools reach a model and how its calls come back: one format, both directions.

A chat template that renders `tools` gets them as a server passes them (OpenAI `tools`).
SmolLM2's template ignores `tools`: its model card documents a system prompt instead, with
the tools inside `<tools>...</tools>` and calls answered as
`<tool_call>[{"name": ..., "arguments": {...}}]</tool_call>` (a list; "[]" for no call).
That is what the demo model emits, so it is what is parsed; Hermes-style templates (vLLM's
`hermes` parser) emit one object per `<tool_call>` tag, which the same parser reads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from ...engines.base import ChatMessage, GenerationRequest
from .cases import ExpectedCall, ToolCase

PROMPT_FORMATS = ("auto", "template", "smollm2")

# SmolLM2's documented tool-calling system prompt (model card), with {tools} filled in.
SMOLLM2_TOOL_PROMPT = """You are an expert in composing functions. You are given a question and a set of possible functions.
Based on the question, you will need to make one or more function/tool calls to achieve the purpose.
If none of the functions can be used, point it out and refuse to answer.
If the given question lacks the parameters required by the function, also point it out.

You have access to the following tools:
<tools>{tools}</tools>

The output MUST strictly adhere to the following format, and NO other text MUST be included.
The example format is as follows. Please make sure the parameter type is correct. If no function call is needed, please make the tool calls an empty list '[]'.
<tool_call>[
{{"name": "func_name1", "arguments": {{"argument1": "value1", "argument2": "value2"}}}},
... (more tool calls as required)
]</tool_call>"""

_TAG = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL)


def template_renders_tools(chat_template: str | None) -> bool:
    """Whether a Jinja chat template reads the `tools` variable at all."""
    if not chat_template:
        return False
    from jinja2 import Environment, meta

    try:
        return "tools" in meta.find_undeclared_variables(Environment().parse(chat_template))
    except Exception:  # a template jinja2 cannot parse cannot render tools either
        return False


def resolve_format(configured: str, chat_template: str | None) -> str:
    if configured != "auto":
        return configured
    return "template" if template_renders_tools(chat_template) else "smollm2"


def smollm2_calls(calls: Sequence[ExpectedCall]) -> str:
    body = json.dumps([{"name": c.name, "arguments": dict(c.arguments)} for c in calls])
    return f"<tool_call>{body}</tool_call>"


def request(case: ToolCase, prompt_format: str, max_new_tokens: int) -> GenerationRequest:
    """The chat for one case: with `template`, tools go to the chat template; with `smollm2`,
    into the documented system prompt, after the file's worked demonstration (if any)."""
    budget = case.max_new_tokens or max_new_tokens
    if prompt_format == "template":
        return GenerationRequest.chat(case.prompt, budget, system=case.system, tools=case.tools)
    if prompt_format != "smollm2":
        raise ValueError(f"unknown tool prompt format {prompt_format!r}; allowed: {', '.join(PROMPT_FORMATS)}")
    system = SMOLLM2_TOOL_PROMPT.format(tools=json.dumps([t["function"] for t in case.tools]))
    if case.system:
        system = f"{case.system}\n\n{system}"
    history: tuple[ChatMessage, ...] = ()
    if case.demonstration:
        history = (
            ChatMessage("user", case.demonstration.prompt),
            ChatMessage("assistant", smollm2_calls(case.demonstration.calls)),
        )
    return GenerationRequest.chat(case.prompt, budget, system=system, history=history)


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ParsedCalls:
    """The calls in an answer. `error` says why a `<tool_call>` could not be read; `text`
    is what the answer says outside the tags (prose where a call was due, or chatter)."""

    calls: tuple[ToolCall, ...] = ()
    tagged: bool = False
    error: str | None = None
    text: str = ""


def parse_calls(answer: str) -> ParsedCalls:
    blocks = list(_TAG.finditer(answer))
    outside = _TAG.sub(" ", answer).strip()
    if not blocks:
        return ParsedCalls(text=outside)
    calls: list[ToolCall] = []
    for block in blocks:
        if not block.group(0).endswith("</tool_call>"):
            return ParsedCalls(tuple(calls), True, "unterminated <tool_call> (no closing tag)", outside)
        try:
            payload = json.loads(block.group(1))
        except ValueError as exc:
            return ParsedCalls(tuple(calls), True, f"<tool_call> holds invalid JSON: {exc}", outside)
        for item in payload if isinstance(payload, list) else [payload]:
            call = _call(item)
            if isinstance(call, str):
                return ParsedCalls(tuple(calls), True, call, outside)
            calls.append(call)
    return ParsedCalls(tuple(calls), True, None, outside)


def _call(item: Any) -> ToolCall | str:
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return f"a call is not an object with a string 'name': {json.dumps(item)[:60]}"
    arguments = item.get("arguments", {})
    if isinstance(arguments, str):  # OpenAI sends arguments as a JSON string
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return f"arguments of {item['name']} are not JSON: {arguments[:60]!r}"
    if not isinstance(arguments, dict):
        return f"arguments of {item['name']} are not an object: {json.dumps(arguments)[:60]}"
    return ToolCall(item["name"], arguments)
