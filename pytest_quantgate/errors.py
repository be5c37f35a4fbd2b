"""One error hierarchy. Code below the pytest wiring raises these; `outcomes.py` alone turns
them into pytest outcomes, so a verdict's reason is always the plugin's own message.

- `UsageError`: the user must change something (config, case file, a missing record, an
  endpoint that is down); a usage error at start-up, a failed gate test during a run.
- `Unavailable`: this machine cannot run it (no GPU, a runtime not installed, an engine
  without a feature); the gate is skipped with the reason, never passed.
"""

from __future__ import annotations


class QuantgateError(Exception):
    """Base of every error the plugin raises on purpose; the message says what to do."""


class UsageError(QuantgateError):
    """Something the user can fix: the message names the file, key or command."""


class ConfigError(UsageError):
    """A mistake in the config or on the command line."""


class Unavailable(QuantgateError):
    """Cannot run on this machine or engine; the gate is skipped with this reason."""
