"""A candidate as an OpenAI-compatible endpoint, for what only serving shows (latency, load).

An `openai` candidate is served already (its endpoint) or by the server it names. A `vllm`
or `llamacpp` candidate is served by its runtime's own server (`vllm serve`, llama-cpp-
python's server) with the same weights and runtime flags as its offline engine. transformers
has no serving runtime here: an `hf` candidate cannot be measured under load.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..config import CandidateSpec, Endpoint
from ..errors import UsageError
from ..redaction import redact_url
from . import hf_tokenizer, servers
from .base import EngineUnavailable

NOT_SERVED = (
    "the hf engine has no serving runtime (transformers); serve the same weights with vLLM or llama.cpp "
    "(engine = 'vllm' or 'llamacpp'), or point engine = 'openai' at an endpoint or a server"
)


class ServingError(UsageError):
    """A server did not start or an endpoint is misdeclared; the message says what to do."""


@dataclass
class ServedModel:
    """Where requests for one candidate go, and the local server behind it (if one was started)."""

    name: str
    endpoint: Endpoint
    served_model: str
    headers: Mapping[str, str] = field(default_factory=dict)
    server: servers.LocalServer | None = None
    model_path: Path | None = None  # the weights, whose tokenizer counts and renders tokens
    _tokenizer: Any = field(default=None, repr=False)

    def tokenizer(self) -> Any:
        """The weights' Hugging Face tokenizer (loaded on first use)."""
        if self._tokenizer is None:
            assert self.model_path is not None
            self._tokenizer = hf_tokenizer.load_tokenizer(self.model_path)
        return self._tokenizer

    @property
    def base_url(self) -> str:
        return self.endpoint.base_url.rstrip("/") + "/"

    @property
    def pid(self) -> int | None:
        """The local server's process (memory is read from its process tree), if any."""
        return self.server.process.pid if self.server is not None and self.server.process is not None else None

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()


def server_flags(spec: CandidateSpec, require_runtime: bool = True, model_path: Path | None = None) -> tuple[str, list[str]]:
    """The server kind and the flags that give it the candidate's runtime settings
    (`require_runtime=False`: the command line only, for a machine that will serve it)."""
    if spec.engine == "openai" and spec.server:
        return spec.server, list(spec.server_args)
    from . import engine_class

    kind = engine_class(spec.engine).capabilities.serving_runtime
    if kind is None:
        raise EngineUnavailable(NOT_SERVED)
    package = servers.PACKAGES[kind]
    if require_runtime and importlib.util.find_spec(package) is None:
        raise EngineUnavailable(f"serving {spec.name} needs {package} installed in this environment")
    if kind == "llamacpp":
        from .llamacpp import llama_options

        # llama-cpp-python's server settings carry the Llama() argument names.
        return kind, [arg for key, value in llama_options(spec).items() for arg in (f"--{key}", str(value))]
    from .vllm import server_options, unsupported_reason

    reason = unsupported_reason(spec, model_path) if require_runtime else None  # a command for elsewhere: not this machine's call
    if reason:
        raise EngineUnavailable(reason)
    return kind, server_options(spec)


def serve(spec: CandidateSpec, model_path: Path) -> ServedModel:
    """The candidate's endpoint; a local server is started (and waited on) when it needs one.
    (An `openai` spec arrives here through OpenAIEngine, which has validated it.)"""
    from .openai import headers_for

    if spec.engine == "openai":
        if spec.endpoint is not None:
            return ServedModel(spec.name, spec.endpoint, spec.endpoint.model or spec.name, headers_for(spec.endpoint), None, model_path)
    kind, flags = server_flags(spec, model_path=model_path)
    from .vllm import runtime_environment

    try:
        server = servers.launch(kind, model_path, spec.name, spec.dtype, flags, env=runtime_environment() if kind == "vllm" else {})
    except servers.ServerError as exc:
        raise ServingError(f"{spec.name}: {exc}") from exc
    # llama-cpp-python's server answers one request at a time and reuses the previous prompt's
    # KV cache: requests sent one by one keep its answers independent of arrival order.
    concurrency = 1 if kind == "llamacpp" else Endpoint.concurrency
    endpoint = Endpoint(base_url=server.base_url, model=spec.name, concurrency=concurrency)
    return ServedModel(spec.name, endpoint, spec.name, {}, server, model_path)


def describe(served: ServedModel) -> dict[str, Any]:
    """Where it was served (for the report: never the API key)."""
    out: dict[str, Any] = {"base_url": redact_url(served.endpoint.base_url), "model": served.served_model}
    if served.server is not None:
        out |= {"server": served.server.kind, "argv": served.server.argv[1:], "started_s": round(served.server.started_s, 2)}
    return out
