"""The `openai` engine: any OpenAI-compatible endpoint (vLLM, llama.cpp's server, TGI,
SGLang, a canary route behind a gateway).

The endpoint serves the candidate; the candidate's `model` (local weights) supplies the
tokenizer, so token counts and token ids mean the same as on the other engines. Requests of
one gate go out concurrently; answers stream, so each carries its time to first token.
Teacher-forced scoring needs prompt log-probs, which the API does not offer: gates that
need it are skipped with that reason.

Native tool calls: a server with a tool parser (vLLM's --tool-call-parser, llama-cpp-python's
function-calling chat formats, OpenAI, a gateway) answers `message.tool_calls` instead of text,
streamed as deltas (`index`, an `id` and the name once, `arguments` in pieces). They are
gathered per index and rendered after the answer's text, one call per tag, as
`<tool_call>{"name": ..., "arguments": {...}}</tool_call>` (Hermes' form, which the tool-call
gate reads in every style; arguments that are not JSON stay a string, which it reports as
such). A request's `tools` go with its `tool_choice` when it names one.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from ..config import CandidateSpec, ConfigError, Endpoint
from ..errors import UsageError
from ..redaction import redact_url
from . import hf_tokenizer
from .base import (
    Capabilities,
    ChatMessage,
    EngineUnavailable,
    FinishReason,
    Gather,
    Generation,
    GenerationRequest,
    ScoredSequence,
    Timings,
    TokenizerFacts,
    TokenLogprobs,
    refuse_quantization,
)

if TYPE_CHECKING:
    import httpx

CONCURRENCY = 8  # requests in flight per gate call
TOKEN_ID_PREFIX = "token_id:"  # vLLM's `return_tokens_as_token_ids` spelling


NO_PROMPT_LOGPROBS = (
    "an OpenAI-compatible endpoint does not offer prompt log-probs (teacher-forced scoring); "
    "gate drift on the same weights with the vllm, llamacpp or hf engine"
)


class EndpointError(UsageError):
    """The endpoint is down or answered with an error; the message says what to check."""


def check_spec(spec: CandidateSpec) -> None:
    if (spec.endpoint is None) == (spec.server is None):
        raise ConfigError(
            f"key candidates.{spec.name}: the openai engine needs either an endpoint "
            "(endpoint = {base_url = 'http://127.0.0.1:8000/v1', model = '...'}) or a server it starts "
            "(server = 'vllm' or 'llamacpp'), not both"
        )
    refuse_quantization(spec, "an endpoint's quantization is the server's; describe it in `description`")


def headers_for(endpoint: Endpoint) -> dict[str, str]:
    """Request headers: the configured ones, those read from the environment (headers_env)
    and the bearer key from its environment variable."""
    headers = dict(endpoint.headers)
    for header, variable in endpoint.headers_env.items():
        value = os.environ.get(variable)
        if not value:
            raise ConfigError(f"endpoint.headers_env.{header} names {variable}, which is not set in the environment")
        headers[header] = value
    if endpoint.api_key_env:
        key = os.environ.get(endpoint.api_key_env)
        if not key:
            raise ConfigError(f"endpoint.api_key_env names {endpoint.api_key_env}, which is not set in the environment")
        headers["Authorization"] = f"Bearer {key}"
    return headers


@dataclass
class StreamedAnswer:
    """One streamed chat completion as the client saw it (token times for the latency gate)."""

    text: str = ""
    finish_reason: str | None = None
    logprobs: list[Mapping[str, Any]] = field(default_factory=list)
    sent_s: float = 0.0
    # Arrival of each streamed event that carries a choice (vllm bench serve's token events:
    # the first is the first token, the last ends the request; a usage-only event is neither).
    event_s: list[float] = field(default_factory=list)
    usage: Mapping[str, Any] | None = None
    # Native tool calls by index: {"id", "name", "arguments"} (arguments as the JSON text sent).
    tool_calls: dict[int, dict[str, str]] = field(default_factory=dict)

    @property
    def ttft_s(self) -> float:
        return (self.event_s[0] - self.sent_s) if self.event_s else 0.0

    @property
    def answer_text(self) -> str:
        """The text, then the native tool calls rendered as `<tool_call>` tags."""
        calls = tool_call_text(self.tool_calls[i] for i in sorted(self.tool_calls))
        if not calls:
            return self.text
        return f"{self.text}\n{calls}" if self.text and not self.text.endswith("\n") else self.text + calls


def tool_call_text(calls: Iterable[Mapping[str, str]]) -> str:
    """Native tool calls as answer text: `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`
    per call (arguments that are not JSON stay the string the server sent)."""
    tags = []
    for call in calls:
        raw = call.get("arguments", "")
        try:
            arguments: Any = json.loads(raw) if raw.strip() else {}
        except ValueError:
            arguments = raw
        body = json.dumps({"name": call.get("name", ""), "arguments": arguments}, ensure_ascii=False)
        tags.append(f"<tool_call>{body}</tool_call>")
    return "\n".join(tags)


def tool_choice_payload(choice: str | Mapping[str, Any]) -> Any:
    """OpenAI's `tool_choice`: "auto", "none", "required" or a named function."""
    if isinstance(choice, str) and choice not in ("auto", "none", "required"):
        return {"type": "function", "function": {"name": choice}}
    return choice if isinstance(choice, str) else dict(choice)


def _choice_text(choice: Mapping[str, Any]) -> str:
    """The text of a choice or a streamed chunk, for either API."""
    if "text" in choice:  # completions
        return choice.get("text") or ""
    return ((choice.get("delta") or choice.get("message")) or {}).get("content") or ""


def _choice_logprobs(choice: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Log-probs as the chat API spells them ({token, logprob, top_logprobs[]}); the
    completions API's parallel lists are turned into that shape."""
    logprobs = choice.get("logprobs") or {}
    if "content" in logprobs:
        return list(logprobs["content"] or ())
    tokens = logprobs.get("tokens") or ()
    values = logprobs.get("token_logprobs") or ()
    tops = logprobs.get("top_logprobs") or [{}] * len(tokens)
    return [
        {"token": t, "logprob": lp, "top_logprobs": [{"token": k, "logprob": v} for k, v in (top or {}).items()]}
        for t, lp, top in zip(tokens, values, tops)
    ]


def _choice_tool_calls(choice: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The tool calls of a message or of a streamed delta (the legacy `function_call` as one)."""
    part = (choice.get("delta") or choice.get("message")) or {}
    calls = part.get("tool_calls")
    if not calls and part.get("function_call"):
        calls = [{"index": 0, "function": part["function_call"]}]
    return [c for c in calls or () if isinstance(c, Mapping)]


def _add_tool_calls(answer: StreamedAnswer, entries: Sequence[Mapping[str, Any]]) -> None:
    """Gather tool-call deltas by `index` (where a server leaves it out: by `id`, else by the
    place in the list). The name comes once (OpenAI, vLLM) or again with every delta
    (llama-cpp-python): a repeat is not appended; `arguments` pieces are."""
    for position, entry in enumerate(entries):
        function = entry.get("function") or {}
        index = entry.get("index")
        call_id = entry.get("id") or ""
        if not isinstance(index, int):
            known = [i for i, c in answer.tool_calls.items() if call_id and c["id"] == call_id]
            index = known[0] if known else (max(answer.tool_calls, default=-1) + 1 if call_id else position)
        call = answer.tool_calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
        call["id"] = call["id"] or call_id
        name = function.get("name") or ""
        if name and name != call["name"]:
            call["name"] += name
        arguments = function.get("arguments")
        if arguments:
            call["arguments"] += arguments if isinstance(arguments, str) else json.dumps(arguments)


def _read_choice(answer: StreamedAnswer, choice: Mapping[str, Any]) -> None:
    answer.text += _choice_text(choice)
    answer.logprobs += _choice_logprobs(choice)
    _add_tool_calls(answer, _choice_tool_calls(choice))
    answer.finish_reason = choice.get("finish_reason") or answer.finish_reason


async def stream_answer(client: httpx.AsyncClient, path: str, payload: Mapping[str, Any]) -> StreamedAnswer:
    """POST `path` (chat/completions or completions) with stream=true; read the events."""
    answer = StreamedAnswer(sent_s=time.perf_counter())
    async with client.stream("POST", path, json={**payload, "stream": True}) as response:
        if response.status_code != 200:
            raise EndpointError(f"{response.status_code} from {redact_url(str(response.url))}: {(await response.aread()).decode()[:300]}")
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            try:
                chunk = json.loads(data)
            except ValueError as exc:
                raise EndpointError(
                    f"{redact_url(str(response.url))} streamed an event that is not JSON ({data[:80]!r}); "
                    "expected OpenAI-compatible server-sent events (is base_url the API root, ending in /v1?)"
                ) from exc
            answer.usage = chunk.get("usage") or answer.usage
            choices = chunk.get("choices") or ()
            if choices:
                answer.event_s.append(time.perf_counter())
            for choice in choices:
                _read_choice(answer, choice)
    return answer


async def fetch_answer(client: httpx.AsyncClient, path: str, payload: Mapping[str, Any]) -> StreamedAnswer:
    """The same request without streaming (for servers or proxies that cannot stream)."""
    answer = StreamedAnswer(sent_s=time.perf_counter())
    response = await client.post(path, json={**payload, "stream": False})
    if response.status_code != 200:
        raise EndpointError(f"{response.status_code} from {redact_url(str(response.url))}: {response.text[:300]}")
    body = _json_body(response, "a chat completion")
    answer.usage = body.get("usage")
    answer.event_s.append(time.perf_counter())
    _read_choice(answer, body["choices"][0])
    return answer


def _json_body(response: Any, expected: str) -> Any:
    """The JSON of an answer, or an error naming the URL and what came back instead."""
    try:
        return response.json()
    except ValueError as exc:
        kind = response.headers.get("content-type", "no content type")
        raise EndpointError(
            f"{redact_url(str(response.url))} answered {kind} ({response.text[:80]!r}), not JSON; expected {expected} "
            "(is base_url the API root of an OpenAI-compatible server, ending in /v1?)"
        ) from exc


def transport_error(name: str, endpoint: Endpoint, exc: BaseException, request: str) -> EndpointError:
    """A transport failure as the user can act on it: which request, what, and the setting."""
    where = redact_url(endpoint.base_url)
    if "Timeout" in type(exc).__name__:
        return EndpointError(
            f"{name}: {request} to {where} got no answer within {endpoint.timeout_s:g} s ({type(exc).__name__}); "
            f"raise candidates.{name}.endpoint.timeout_s or check the server"
        )
    detail = str(exc).strip() or "the connection closed without an answer"
    return EndpointError(f"{name}: {request} to {where} failed: {type(exc).__name__}: {detail}")


def check_endpoint(name: str, endpoint: Endpoint, served_model: str, base_url: str, headers: Mapping[str, str]) -> Mapping[str, Any]:
    """The served model's entry in GET /models; a clear error when the endpoint is down, is
    not an OpenAI-compatible API, or does not serve the model."""
    import httpx

    url = base_url + "models"
    try:
        response = httpx.get(url, headers=dict(headers), timeout=10)
    except Exception as exc:  # httpx's errors, or httpcore's when a re-import split them
        raise EndpointError(
            f"{name}: endpoint {redact_url(endpoint.base_url)} is not reachable ({type(exc).__name__}: {exc}); "
            f"start the server or fix candidates.{name}.endpoint.base_url"
        ) from exc
    if response.status_code != 200:
        raise EndpointError(f"{name}: GET {redact_url(url)} answered {response.status_code}: {response.text[:200]}")
    body = _json_body(response, "the model list of GET /models")
    models: dict[str, Mapping[str, Any]] = {str(m.get("id")): m for m in (body.get("data") or []) if isinstance(m, dict)}
    if served_model not in models:
        raise EndpointError(
            f"{name}: the endpoint serves {sorted(models)}, not {served_model!r}; set candidates.{name}.endpoint.model"
        )
    return models[served_model]


class OpenAIEngine(hf_tokenizer.HFTokenizerEngine):
    # response_format json_schema (a server without it answers 400); the API has no prompt
    # log-probs; it is served already (its endpoint, or the server it names).
    capabilities = Capabilities(guided_json=True, teacher_forcing=False)

    def _prepare(self, spec: CandidateSpec) -> None:
        check_spec(spec)

    def _load(self, model_path: Path) -> None:
        from . import serving

        try:
            self.served: serving.ServedModel = serving.serve(self.spec, model_path)
        except serving.ServingError as exc:
            raise EndpointError(str(exc)) from exc
        try:
            self.endpoint = self.served.endpoint
            self.served_model = self.served.served_model
            self._client_args: dict[str, Any] = {
                "base_url": self.served.base_url,
                "headers": dict(self.served.headers),
                "timeout": self.endpoint.timeout_s,
            }
            self._model_entry = self._check_endpoint()
            # vLLM returns the sampled tokens' log-probs at no real cost (their ids too, with
            # --return-tokens-as-token-ids): asked for even at top 0, since the answer text
            # re-tokenized is not always the path the model took (same text, other ids: 13 of
            # 512 golden answers of the same float32 weights read as early divergences).
            self._sampled_ids = self._model_entry.get("owned_by") == "vllm"
            self.tokenizer = hf_tokenizer.load_tokenizer(model_path)
        except BaseException:  # a server started for this engine never outlives it
            self.served.stop()
            raise

    def _check_endpoint(self) -> Mapping[str, Any]:
        return check_endpoint(
            self.spec.name, self.endpoint, self.served_model, self._client_args["base_url"], self._client_args["headers"]
        )

    # -- generation ----------------------------------------------------------------------
    def _payload(self, request: GenerationRequest, top_k: int) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": self.served_model, "max_tokens": request.max_new_tokens, "temperature": 0.0}
        asks_logprobs = bool(top_k) or self._sampled_ids
        if self.endpoint.api == "completions":
            # The prompt as this engine renders it: the server applies no template of its own.
            ids = self.render_chat(request.messages, request.tools)
            payload |= {"prompt": self.tokenizer.decode(ids)}
            payload |= {"logprobs": top_k} if asks_logprobs else {}
        else:
            payload["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
            # None asked: none computed (llama-cpp-python's server sorts the whole vocabulary
            # in Python for every token it returns log-probs for: 1-2 s a request here).
            payload |= {"logprobs": True, "top_logprobs": top_k} if asks_logprobs else {}
            if request.tools:
                payload["tools"] = [dict(t) for t in request.tools]
                if request.tool_choice is not None:
                    payload["tool_choice"] = tool_choice_payload(request.tool_choice)
        if request.json_schema:
            payload["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": json.loads(request.json_schema)},
            }
        return payload

    def stream_answers(self, payloads: Sequence[Mapping[str, Any]], concurrency: int = CONCURRENCY) -> list[StreamedAnswer]:
        """Send the payloads with at most `concurrency` in flight; answers in order."""
        import httpx

        read = stream_answer if self.endpoint.stream else fetch_answer
        path = "completions" if self.endpoint.api == "completions" else "chat/completions"

        async def run() -> list[StreamedAnswer]:
            limit = asyncio.Semaphore(concurrency)
            async with httpx.AsyncClient(**self._client_args) as client:

                async def one(index: int, payload: Mapping[str, Any]) -> StreamedAnswer:
                    async with limit:
                        try:
                            return await read(client, path, payload)
                        except Exception as exc:  # transport errors (httpx's, or httpcore's when re-imported)
                            if not type(exc).__module__.startswith(("httpx", "httpcore")):
                                raise
                            request = f"request {index + 1} of {len(payloads)} (POST {path})"
                            raise transport_error(self.spec.name, self.endpoint, exc, request) from exc

                return await asyncio.gather(*(one(i, p) for i, p in enumerate(payloads)))

        return asyncio.run(run())

    def _generate(self, requests: Sequence[GenerationRequest], top_logprobs: int) -> list[Generation]:
        started = time.perf_counter()
        answers = self.stream_answers([self._payload(r, top_logprobs) for r in requests], self.endpoint.concurrency)
        elapsed = time.perf_counter() - started
        return [self._generation(r, a, top_logprobs, elapsed) for r, a in zip(requests, answers)]

    def _token_id(self, token: str) -> int | None:
        """A streamed token as an id: vLLM's `token_id:N`, else the piece if it is one token."""
        if token.startswith(TOKEN_ID_PREFIX):
            return int(token[len(TOKEN_ID_PREFIX) :])
        ids = self.tokenize(token)
        return ids[0] if len(ids) == 1 else None

    def _generation(self, request: GenerationRequest, answer: StreamedAnswer, top_k: int, elapsed: float) -> Generation:
        steps: list[TokenLogprobs] = []
        # Rendered native tool calls are not the tokens the model sampled: their ids are the
        # rendered text's, with no log-probs.
        for entry in () if answer.tool_calls else answer.logprobs:
            token = self._token_id(entry.get("token", ""))
            if token is None:
                steps = []  # pieces that are not single tokens: ids cannot be trusted
                break
            top = [(self._token_id(t.get("token", "")), float(t["logprob"])) for t in entry.get("top_logprobs", ())]
            steps.append(TokenLogprobs(token, float(entry["logprob"]), tuple((t, lp) for t, lp in top[:top_k] if t is not None)))
        if steps:
            ids = [s.token_id for s in steps]
        else:
            ids = self.tokenize(answer.answer_text)
        finish: FinishReason = "stop" if answer.finish_reason in ("stop", "tool_calls", "function_call") else "length"
        eos = self.tokenizer.eos_token_id
        if finish == "stop" and eos is not None and (not ids or ids[-1] != eos):
            ids.append(eos)  # as local engines report it: the stop token ends the answer
        return Generation(
            text=answer.answer_text,
            token_ids=tuple(ids),
            logprobs=tuple(steps) if top_k else (),
            finish_reason=finish,
            timings=Timings(
                prompt_tokens=int((answer.usage or {}).get("prompt_tokens", 0)), ttft_s=answer.ttft_s, total_s=elapsed
            ),
        )

    # -- what the API does not offer -------------------------------------------------------
    def _score(self, sequences: Sequence[Sequence[int]], top_logprobs: int, gather: Gather | None) -> list[ScoredSequence]:
        raise EngineUnavailable(NO_PROMPT_LOGPROBS)

    # -- facts ---------------------------------------------------------------------------
    def render_chat(self, messages: Sequence[ChatMessage], tools: Sequence[Mapping[str, Any]] = ()) -> list[int]:
        """The server's own rendering where it offers vLLM's /tokenize, else the local template."""
        import httpx

        chat = [{"role": m.role, "content": m.content} for m in messages]
        root = self._client_args["base_url"].removesuffix("v1/")
        body = {"model": self.served_model, "messages": chat, "add_generation_prompt": True}
        if tools:
            body["tools"] = [dict(t) for t in tools]
        try:
            response = httpx.post(root + "tokenize", json=body, headers=self._client_args["headers"], timeout=10)
            if response.status_code == 200 and "tokens" in response.json():
                return list(response.json()["tokens"])
        except httpx.HTTPError:
            pass
        return super().render_chat(messages, tools)

    def tokenizer_facts(self) -> TokenizerFacts:
        # The server's sampling defaults are not observable; every request sends temperature 0.
        return hf_tokenizer.tokenizer_facts(
            self.tokenizer, None, self._model_entry.get("max_model_len") or getattr(self.tokenizer, "model_max_length", None), {}
        )

    def close(self) -> None:
        self.tokenizer = None
        self.served.stop()
