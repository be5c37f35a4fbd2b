"""User-supplied judges ("package.module:function"): a classifier that labels refusals, an
NLI scorer that checks entailment. Loaded by reference so no model is a dependency."""

from __future__ import annotations

import importlib
from typing import Any, Callable

from ...errors import UsageError


class JudgeError(UsageError, ValueError):
    """A judge reference that cannot be imported; the message says what to give instead."""


def load(reference: str, key: str, contract: str) -> Callable[..., Any]:
    module_name, _, attribute = reference.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError, ValueError) as exc:
        raise JudgeError(f"{key} = {reference!r} cannot be imported ({exc}); give 'package.module:function', {contract}") from exc
    if not callable(function):
        raise JudgeError(f"{key} = {reference!r} is not callable; give 'package.module:function', {contract}")
    return function
