"""How tools reach a model and how its calls come back.

Tools reach a model one of two ways (`prompt_format`). A chat template that renders `tools` gets
them as a server passes them (OpenAI `tools`). SmolLM2's template ignores `tools`: its model
card documents a system prompt instead, with the tools inside `<tools>...</tools>` and calls
answered as `<tool_call>[{"name": ..., "arguments": {...}}]</tool_call>` (a list; "[]" for no
call).

Calls come back in the format the model was trained on. `parse_calls(answer, style)` reads one
style; `style_for(prompt_format, chat_template)` picks it per candidate (`detect_style`: what
the chat template spells calls with):

  hermes       <tool_call>{...}</tool_call>, one object or a list per tag (SmolLM2, Hermes,
               Qwen; vLLM's `hermes` parser). The default, and SmolLM2's prompt's format.
  llama3_json  {"name": ..., "parameters": {...}} alone in the answer, several separated by
               ';', after an optional <|python_tag|> (Llama 3.1-3.3; vLLM's `llama3_json`)
  pythonic     [get_weather(city="Paris"), ...] (Llama 3.2/4, BFCL's prompt format; vLLM's
               `pythonic`): read with `ast`, never run; keyword arguments with literal values
  mistral      [TOOL_CALLS][{"name": ..., "arguments": {...}}], or [TOOL_CALLS]name[ARGS]{...}
               per call (Mistral's newer tokenizers); a bare JSON list of calls where a server
               dropped the [TOOL_CALLS] token
  auto         whichever of these the answer starts with

In every style: a call object may say `arguments` or `parameters`, hold them as an object or
as a JSON string (OpenAI), and come in OpenAI's wrapper {"type": "function", "function": {...}};
`<tool_call>` tags are read, since the openai engine renders a server's native `tool_calls`
in that form (engines/openai.py); and what a model writes inside <think>...</think> is its
reasoning, not calls: it is dropped first. An answer in a style's call markup that cannot be
read gets one reason (`ParsedCalls.problem`); an answer without call markup is no call, its
text kept for the report.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from ...engines.base import ChatMessage, GenerationRequest
from .cases import ExpectedCall, ToolCase

PROMPT_FORMATS = ("auto", "template", "smollm2")
STYLES = ("hermes", "llama3_json", "pythonic", "mistral", "auto")

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


# What a chat template writes a model's calls with, for the styles that template text tells.
_PYTHONIC_TEMPLATE = re.compile(r"\[func_name1?\(")  # vLLM's Llama 3.2 / Llama 4 pythonic templates
_LLAMA3_JSON_TEMPLATE = ("python_tag", "respond with a JSON for a function call", '"parameters": dictionary')


def detect_style(chat_template: str | None) -> str:
    """The call style a chat template tells: `<tool_call>` -> hermes, `[TOOL_CALLS]` ->
    mistral, `[func_name1(...)]` -> pythonic, `<|python_tag|>` or Llama 3's "respond with a
    JSON for a function call" -> llama3_json, else `<|python_start|>` (Llama 4) -> pythonic.
    A template that does not render tools gets SmolLM2's prompt, which asks for
    `<tool_call>` (hermes); one that renders them in markup none of these name: `auto`."""
    if not chat_template or not template_renders_tools(chat_template):
        return "hermes"
    if "<tool_call>" in chat_template:
        return "hermes"
    if "[TOOL_CALLS]" in chat_template:
        return "mistral"
    if _PYTHONIC_TEMPLATE.search(chat_template):
        return "pythonic"
    if any(marker in chat_template for marker in _LLAMA3_JSON_TEMPLATE):
        return "llama3_json"
    if _PYTHON_START in chat_template:
        return "pythonic"
    return "auto"


def style_for(prompt_format: str, chat_template: str | None) -> str:
    """The style a candidate's answers are parsed in: SmolLM2's prompt asks for `<tool_call>`;
    with the chat template's own tool prompt, what the template tells (`detect_style`)."""
    return "hermes" if prompt_format == "smollm2" else detect_style(chat_template)


def smollm2_calls(calls: Sequence[ExpectedCall]) -> str:
    body = json.dumps([{"name": c.name, "arguments": dict(c.arguments)} for c in calls])
    return f"<tool_call>{body}</tool_call>"


def request(case: ToolCase, prompt_format: str, max_new_tokens: int, tool_choice: str | None = None) -> GenerationRequest:
    """The chat for one case: with `template`, tools go to the chat template (and, to a served
    model, `tool_choice` when given: "auto" lets a server's tool parser answer native
    `tool_calls`); with `smollm2`, into the documented system prompt, after the file's worked
    demonstration (if any)."""
    budget = case.max_new_tokens or max_new_tokens
    if prompt_format == "template":
        return GenerationRequest.chat(case.prompt, budget, system=case.system, tools=case.tools, tool_choice=tool_choice)
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




# -- reading calls -----------------------------------------------------------------------------
_TAG = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL)
_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL)
# Special tokens a server may leave at the end of a call (skip_special_tokens off).
_END_TOKENS = re.compile(r"(?:\s*<\|(?:eot_id|eom_id|python_end|end_of_text|im_end|eot)\|>)+\s*$")
_PYTHON_TAG, _PYTHON_START = "<|python_tag|>", "<|python_start|>"
_PYTHONIC = re.compile(r"\[?\s*[A-Za-z_][\w.]*\s*\(")
_MISTRAL, _MISTRAL_ARGS, _MISTRAL_ID = "[TOOL_CALLS]", "[ARGS]", "[CALL_ID]"
_LAST_ENDS = 40  # ends of a Python call list tried before trailing text counts as unparsable
_JSON_NAMES = {"true": True, "false": False, "null": None}


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ParsedCalls:
    """The calls in an answer. `tagged`: the answer holds call markup; `error` (also read as
    `problem`) says why that markup could not be read; `text` is what the answer says outside
    it (prose where a call was due, or chatter), reasoning left out; `style`: the format the
    calls were read in."""

    calls: tuple[ToolCall, ...] = ()
    tagged: bool = False
    error: str | None = None
    text: str = ""
    style: str | None = None

    @property
    def problem(self) -> str | None:
        return self.error


def strip_thinking(answer: str) -> str:
    """The answer without its reasoning: <think>...</think> blocks, an unclosed one to the
    end, and everything before a `</think>` whose `<think>` the chat template wrote."""
    close, opened = answer.find("</think>"), answer.find("<think>")
    if close != -1 and (opened == -1 or close < opened):
        answer = answer[close + len("</think>") :]
    return _THINK.sub("", answer)


def parse_calls(answer: str, style: str = "hermes") -> ParsedCalls:
    """The calls in an answer, read in `style` (one of STYLES; see the module's docstring)."""
    readers = _READERS.get(style)
    if readers is None:
        raise ValueError(f"unknown tool-call style {style!r}; allowed: {', '.join(STYLES)}")
    visible = strip_thinking(answer)
    if _TAG.search(visible):  # every style: the form native calls are rendered in
        return _tagged(visible)
    stripped = _END_TOKENS.sub("", visible).strip()
    for reader in readers:
        parsed = reader(stripped)
        if parsed is not None:
            return parsed
    return ParsedCalls(text=visible.strip())


def _tagged(answer: str) -> ParsedCalls:
    outside = _TAG.sub(" ", answer).strip()
    calls: list[ToolCall] = []
    for block in _TAG.finditer(answer):
        if not block.group(0).endswith("</tool_call>"):
            return ParsedCalls(tuple(calls), True, "unterminated <tool_call> (no closing tag)", outside, "hermes")
        try:
            payload = json.loads(block.group(1))
        except ValueError as exc:
            return ParsedCalls(tuple(calls), True, f"<tool_call> holds invalid JSON: {exc}", outside, "hermes")
        more, error = _calls_of(payload)
        calls += more
        if error:
            return ParsedCalls(tuple(calls), True, error, outside, "hermes")
    return ParsedCalls(tuple(calls), True, None, outside, "hermes")


def _calls_of(payload: Any) -> tuple[list[ToolCall], str | None]:
    """The calls of a decoded JSON payload (one call or a list), up to the first bad one."""
    calls: list[ToolCall] = []
    for item in payload if isinstance(payload, list) else [payload]:
        call = _call(item)
        if isinstance(call, str):
            return calls, call
        calls.append(call)
    return calls, None


def _call(item: Any) -> ToolCall | str:
    if isinstance(item, dict) and "name" not in item and isinstance(item.get("function"), dict):
        item = item["function"]  # OpenAI's {"type": "function", "function": {...}}
    if not isinstance(item, dict) or not isinstance(item.get("name"), str):
        return f"a call is not an object with a string 'name': {json.dumps(item)[:60]}"
    arguments = item["arguments"] if "arguments" in item else item.get("parameters", {})
    if isinstance(arguments, str):  # OpenAI sends arguments as a JSON string
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return f"arguments of {item['name']} are not JSON: {arguments[:60]!r}"
    if not isinstance(arguments, dict):
        return f"arguments of {item['name']} are not an object: {json.dumps(arguments)[:60]}"
    return ToolCall(item["name"], arguments)


def _is_call(item: Any) -> bool:
    """Whether bare JSON is a call rather than a JSON answer: a name with its arguments."""
    if not isinstance(item, dict):
        return False
    return ("name" in item and ("arguments" in item or "parameters" in item)) or isinstance(item.get("function"), dict)


def _bare_json(payload: Any, rest: str, style: str) -> ParsedCalls | None:
    """Untagged JSON read as calls when it holds any (else it is an answer, not a call)."""
    items = payload if isinstance(payload, list) else [payload]
    if not any(_is_call(item) for item in items):
        return None
    calls, error = _calls_of(items)
    return ParsedCalls(tuple(calls), True, error, rest, style)


def _json_sequence(body: str) -> tuple[list[Any], str, str | None]:
    """JSON values one after another, separated by ';' (Llama 3's parallel calls): the
    values, the text after them and the decoding error that stopped them, if any."""
    decoder = json.JSONDecoder()
    values: list[Any] = []
    at = 0
    while True:
        try:
            value, at = decoder.raw_decode(body, at)
        except ValueError as exc:
            return values, body[at:].strip(), str(exc)
        values.append(value)
        rest = body[at:].lstrip()
        if not rest.startswith(";") or not rest[1:].strip():
            return values, rest.removeprefix(";").strip(), None
        at = len(body) - len(rest[1:].lstrip())


def _llama3_json(answer: str) -> ParsedCalls | None:
    marker = next((m for m in (_PYTHON_TAG, _PYTHON_START) if answer.startswith(m)), "")
    marked = bool(marker)
    body = answer.removeprefix(marker).strip() if marked else answer
    if not body.startswith("{"):
        if not marked:
            return None
        # Llama 3.1's built-in tools: <|python_tag|>brave_search.call(query="...")
        return _pythonic(body, bare=True) or ParsedCalls(
            (), True, f"{marker} is followed by neither a JSON call nor a Python call: {body[:60]!r}", body, "llama3_json"
        )
    values, rest, error = _json_sequence(body)
    if error and (marked or '"name"' in body):
        calls, _ = _calls_of([v for v in values if _is_call(v)])
        return ParsedCalls(tuple(calls), True, f"a JSON call is invalid: {error}", rest, "llama3_json")
    if error:
        return None
    return _bare_json(values, rest, "llama3_json")


def _json_list(answer: str) -> ParsedCalls | None:
    """A bare JSON list of call objects (Mistral's calls where the server dropped [TOOL_CALLS])."""
    if not answer.startswith("[") or not answer[1:].lstrip().startswith("{"):
        return None
    try:
        payload, end = json.JSONDecoder().raw_decode(answer)
    except ValueError as exc:
        if '"name"' not in answer:
            return None
        return ParsedCalls((), True, f"a JSON list of calls is invalid: {exc}", answer, "mistral")
    return _bare_json(payload, answer[end:].strip(), "mistral")


def _mistral(answer: str) -> ParsedCalls | None:
    if _MISTRAL not in answer:
        return None
    before, _, after = answer.partition(_MISTRAL)
    after = after.strip()
    if after.startswith(("[", "{")):
        try:
            payload, end = json.JSONDecoder().raw_decode(after)
        except ValueError as exc:
            return ParsedCalls((), True, f"{_MISTRAL} is followed by invalid JSON: {exc}", before.strip(), "mistral")
        calls, error = _calls_of(payload)
        return ParsedCalls(tuple(calls), True, error, f"{before} {after[end:]}".strip(), "mistral")
    # Newer tokenizers: [TOOL_CALLS]name[ARGS]{...} (a [CALL_ID] may follow the name), per call.
    found: list[ToolCall] = []
    trailing: list[str] = [before]
    for segment in answer.split(_MISTRAL)[1:]:
        head, marker, arguments = segment.partition(_MISTRAL_ARGS)
        name = head.partition(_MISTRAL_ID)[0].strip()
        if not marker:
            problem = f"{_MISTRAL} is followed by neither a JSON list nor name{_MISTRAL_ARGS}{{...}}: {segment.strip()[:60]!r}"
            return ParsedCalls(tuple(found), True, problem, " ".join(trailing).strip(), "mistral")
        try:
            value, end = json.JSONDecoder().raw_decode(arguments.strip())
        except ValueError:
            problem = f"arguments of {name} are not JSON: {arguments.strip()[:60]!r}"
            return ParsedCalls(tuple(found), True, problem, " ".join(trailing).strip(), "mistral")
        call = _call({"name": name, "arguments": value})
        if isinstance(call, str):
            return ParsedCalls(tuple(found), True, call, " ".join(trailing).strip(), "mistral")
        found.append(call)
        trailing.append(arguments.strip()[end:])
    return ParsedCalls(tuple(found), True, None, " ".join(trailing).strip(), "mistral")


def _pythonic(answer: str, bare: bool = True) -> ParsedCalls | None:
    """`[f(a=1), g(b="x")]` (or one bare call, where `bare`): parsed with `ast`, never run."""
    marked = answer.startswith(_PYTHON_START)
    answer = answer.removeprefix(_PYTHON_START).strip()
    if not _PYTHONIC.match(answer) or not (bare or marked or answer.startswith("[")):
        return None
    parsed = _python_expression(answer)
    if isinstance(parsed, str):
        return ParsedCalls((), True, f"the Python call list does not parse: {parsed}", answer, "pythonic")
    tree, rest = parsed
    calls: list[ToolCall] = []
    for node in tree.elts if isinstance(tree, (ast.List, ast.Tuple)) else [tree]:
        call = _python_call(node)
        if isinstance(call, str):
            return ParsedCalls(tuple(calls), True, call, rest, "pythonic")
        calls.append(call)
    return ParsedCalls(tuple(calls), True, None, rest, "pythonic")


def _python_expression(text: str) -> tuple[ast.expr, str] | str:
    """The longest leading Python expression of `text` (ending at a ')' or ']'), with the text
    after it; else the syntax error of the whole."""
    ends = [len(text)] + [i + 1 for i in range(len(text) - 1, -1, -1) if text[i] in ")]"][:_LAST_ENDS]
    first: str | None = None
    for end in ends:
        try:
            return ast.parse(text[:end], mode="eval").body, text[end:].strip()
        except SyntaxError as exc:
            first = first or f"{exc.msg} (column {exc.offset})"
        except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes, absurd nesting
            first = first or f"{type(exc).__name__}: {exc}"
    return first or "empty"


def _python_call(node: ast.expr) -> ToolCall | str:
    if not isinstance(node, ast.Call):
        return f"not a call: {ast.unparse(node)[:60]}"
    name = _dotted(node.func)
    if name is None:
        return f"the function called is not a name: {ast.unparse(node.func)[:60]}"
    if node.args:
        return f"{name}() has positional arguments; a call names each argument (name=value)"
    arguments: dict[str, Any] = {}
    for keyword in node.keywords:
        if keyword.arg is None:
            return f"{name}() unpacks **{ast.unparse(keyword.value)[:40]}; a call names each argument (name=value)"
        try:
            arguments[keyword.arg] = _literal(keyword.value)
        except (ValueError, RecursionError):
            return f"argument {keyword.arg!r} of {name}() is not a literal: {ast.unparse(keyword.value)[:60]}"
    return ToolCall(name, arguments)


def _dotted(node: ast.expr) -> str | None:
    """`f` or `module.f` (BFCL's dotted function names)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        owner = _dotted(node.value)
        return f"{owner}.{node.attr}" if owner else None
    return None


def _literal(node: ast.expr) -> Any:
    """A JSON value written as a Python literal (true/false/null as JSON spells them too);
    anything else (names, calls, operators, sets, bytes) raises ValueError."""
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (str, bool, int, float))):
        return node.value
    if isinstance(node, ast.Name) and node.id in _JSON_NAMES:
        return _JSON_NAMES[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Dict) and all(isinstance(k, ast.Constant) and isinstance(k.value, str) for k in node.keys):
        return {k.value: _literal(v) for k, v in zip(node.keys, node.values) if isinstance(k, ast.Constant)}
    raise ValueError("not a literal")


_Reader = Callable[[str], "ParsedCalls | None"]
_READERS: dict[str, tuple[_Reader, ...]] = {
    "hermes": (),
    "llama3_json": (_llama3_json,),
    "pythonic": (_pythonic,),
    "mistral": (_mistral, _json_list),
    "auto": (_mistral, _llama3_json, lambda answer: _pythonic(answer, bare=False), _json_list),
}
