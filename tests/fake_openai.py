"""A trivial OpenAI-compatible streaming server for the load generator's own tests and its
benchmark: it streams `tokens` chunks after `ttft_s`, one every `itl_s`, and can fail or
stall on request. No model: it measures the client, never a gate's verdict."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.routing import Route


@dataclass
class Behaviour:
    ttft_s: float = 0.0
    itl_s: float = 0.0
    tokens: int = 4
    usage: bool = True  # send the final usage event (vLLM does, llama-cpp-python does not)
    fail_every: int = 0  # every n-th request answers 500
    stall_s: float = 0.0  # extra wait before the first token
    garbage: bool = False  # stream events that are not JSON
    html_models: bool = False  # GET /models answers an HTML page (a proxy's login page, say)
    in_flight: int = 0
    max_in_flight: int = 0
    requests: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)


def app(behaviour: Behaviour) -> Starlette:
    async def chat(request: Request) -> Any:
        body = await request.json()
        behaviour.requests += 1
        behaviour.bodies.append(body)
        if behaviour.fail_every and behaviour.requests % behaviour.fail_every == 0:
            return JSONResponse({"error": "overloaded"}, status_code=500)

        async def events() -> AsyncIterator[str]:
            behaviour.in_flight += 1
            behaviour.max_in_flight = max(behaviour.max_in_flight, behaviour.in_flight)
            try:
                await asyncio.sleep(behaviour.ttft_s + behaviour.stall_s)
                if behaviour.garbage:
                    yield "data: <html>502 Bad Gateway</html>\n\n"
                    return
                for i in range(behaviour.tokens):
                    if i:
                        await asyncio.sleep(behaviour.itl_s)
                    done = i == behaviour.tokens - 1
                    choice = {"index": 0, "delta": {"content": f" w{i}"}, "finish_reason": "length" if done else None}
                    yield f"data: {json.dumps({'choices': [choice]})}\n\n"
                if behaviour.usage:
                    usage = {"prompt_tokens": 3, "completion_tokens": behaviour.tokens}
                    yield f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n"
                yield "data: [DONE]\n\n"
            finally:
                behaviour.in_flight -= 1

        return StreamingResponse(events(), media_type="text/event-stream")

    async def models(request: Request) -> Any:
        if behaviour.html_models:
            return HTMLResponse("<html><body>Sign in to continue</body></html>")
        return JSONResponse({"data": [{"id": "fake"}]})

    return Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]), Route("/v1/models", models)])


class FakeServer:
    """Runs the app with uvicorn on a loopback port in a background thread."""

    def __init__(self, behaviour: Behaviour) -> None:
        import uvicorn

        from pytest_quantgate.engines.servers import free_port

        self.behaviour = behaviour
        self.port = free_port()
        config = uvicorn.Config(app(behaviour), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/"

    def __enter__(self) -> "FakeServer":
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
