"""Secrets never leave the process: header values, URL user info and token-like query
parameters are masked in everything the plugin writes (reports, manifests, messages)."""

from __future__ import annotations

import re
from typing import Any, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
# Query parameters that carry credentials (Azure's sig / api-key, ?token=, ?key=, ...).
_SECRET_PARAM = re.compile(r"(token|key|secret|sig|signature|password|passwd|auth|credential)", re.IGNORECASE)


def redact_url(url: str) -> str:
    """`https://user:pw@host/v1?api-key=x&a=1` -> `https://***@host/v1?api-key=***&a=1`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, MASK if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Every header value masked (a routing header is rarely secret, but a key often is)."""
    return {name: MASK for name in headers}


def redact_text(text: str, secrets: Mapping[str, str] | None = None) -> str:
    """URLs in free text made safe, and any known secret value replaced."""
    text = re.sub(r"https?://[^\s'\"<>)]+", lambda m: redact_url(m.group(0)), text)
    for value in (secrets or {}).values():
        if value and len(value) >= 4:
            text = text.replace(value, MASK)
    return text


def redact_spec(data: Mapping[str, Any]) -> dict[str, Any]:
    """A candidate spec as written to reports and manifests."""
    out = dict(data)
    endpoint = out.get("endpoint")
    if isinstance(endpoint, Mapping):
        endpoint = dict(endpoint)
        if "base_url" in endpoint:
            endpoint["base_url"] = redact_url(str(endpoint["base_url"]))
        if endpoint.get("headers"):
            endpoint["headers"] = redact_headers(endpoint["headers"])
        out["endpoint"] = endpoint
    if out.get("server_args"):
        out["server_args"] = redact_argv(out["server_args"])
    return out


def redact_argv(argv: Any) -> list[str]:
    """A command line with the value of any key-like option masked (`--api-key X`, `--token=X`)."""
    out: list[str] = []
    hide_next = False
    for arg in map(str, argv):
        if hide_next:
            out.append(MASK)
            hide_next = False
            continue
        option, eq, _value = arg.partition("=")
        if option.startswith("-") and _SECRET_PARAM.search(option):
            if eq:
                out.append(f"{option}={MASK}")
            else:
                out.append(arg)
                hide_next = True
            continue
        out.append(redact_url(arg) if "://" in arg else arg)
    return out
