"""The one place where the plugin's errors become pytest outcomes."""

from __future__ import annotations

import contextlib
from typing import Iterator

import pytest

from .errors import QuantgateError, Unavailable


def reason(exc: BaseException) -> str:
    """The plugin's own message, one line first; a cause from a library appended briefly."""
    text = str(exc).strip() or type(exc).__name__
    cause = exc.__cause__
    if cause is not None and not isinstance(cause, QuantgateError):
        detail = (str(cause).strip().splitlines() or [""])[0]
        brief = f"{type(cause).__name__}: {detail}" if detail else type(cause).__name__
        if (detail or brief) not in text:  # unless the message already says it
            text = f"{text} (cause: {brief[:200]})"
    return text


@contextlib.contextmanager
def gate_outcome() -> Iterator[None]:
    """Around a gate's run: unavailability skips it, a user's mistake fails it without a
    traceback. Anything else is a bug and keeps its traceback."""
    # `from None`: the outcome carries the message once, without "During handling of ...".
    try:
        yield
    except Unavailable as exc:
        raise pytest.skip.Exception(f"quantgate: {reason(exc)}") from None
    except QuantgateError as exc:
        raise pytest.fail.Exception(reason(exc), pytrace=False) from None


@contextlib.contextmanager
def usage_outcome() -> Iterator[None]:
    """At start-up (configure, collection): a user's mistake stops the run as a usage error."""
    try:
        yield
    except QuantgateError as exc:
        raise pytest.UsageError(reason(exc)) from None
