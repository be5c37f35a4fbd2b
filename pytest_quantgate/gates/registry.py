"""The gate registry: one definition per gate. Markers, option help, config validation, the
built-in suite, the harness and the report order all read it, so adding a gate is one folder
(thresholds, decision, runner) and one `Gate(...)` in its `__init__.py`.

Third-party gates register through the entry-point group `pytest_quantgate.gates`, each entry
naming a `Gate`:

    [project.entry-points."pytest_quantgate.gates"]
    echo = "my_package.echo_gate:GATE"
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import QuantgateConfig
    from .context import GateContext
    from .verdict import GateVerdict

ENTRY_POINT_GROUP = "pytest_quantgate.gates"
# What a gate needs from the candidate's engine; without it the gate is skipped with why.
Need = Literal["teacher_forcing", "serving"]
BUILTIN = (
    "golden",
    "structured_output",
    "tool_call",
    "long_context",
    "safety",
    "rag_faithfulness",
    "latency",
    "drift",
    "compat",
    "adapter",
    "canary",
    "lm_eval",
)


@dataclass(frozen=True)
class Gate:
    """A gate: its marker name, its one-line help, its settings dataclass (the [gates.<name>]
    table; None if it has none) and its runner, `run(context, **options) -> GateVerdict`,
    given as a callable or as "package.module:function" (imported when the gate first runs)."""

    name: str
    help: str
    runner: Callable[..., "GateVerdict"] | str
    settings: type | None = None
    needs: frozenset[Need] = frozenset()
    # Test modules of the built-in suite (files collected by --quantgate-suite); built-in
    # gates keep theirs in pytest_quantgate/suite/.
    suite: tuple[Path, ...] = field(default=())

    def run(self, context: "GateContext", *args: Any, **options: Any) -> "GateVerdict":
        return self.load_runner()(context, *args, **options)

    def load_runner(self) -> Callable[..., "GateVerdict"]:
        if callable(self.runner):
            return self.runner
        module, _, name = self.runner.partition(":")
        runner: Callable[..., GateVerdict] = getattr(importlib.import_module(module), name)
        return runner


@functools.cache
def gates() -> Mapping[str, Gate]:
    """Every registered gate by name: the built-in ones in report order, then entry points."""
    found: dict[str, Gate] = {}
    for name in BUILTIN:
        found[name] = importlib.import_module(f"{__package__}.{name}").GATE
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            gate = entry.load()
        except Exception as exc:  # a broken plugin must say which one
            raise ConfigError(f"gate entry point {entry.name!r} ({entry.value}) failed to load: {exc}") from exc
        if not isinstance(gate, Gate):
            raise ConfigError(f"gate entry point {entry.name!r} ({entry.value}) is not a pytest_quantgate Gate")
        if gate.name in found:
            raise ConfigError(f"gate entry point {entry.name!r}: a gate named {gate.name!r} is already registered")
        found[gate.name] = gate
    return found


def get(name: str) -> Gate:
    try:
        return gates()[name]
    except KeyError:
        raise ConfigError(f"no gate named {name!r}; registered gates: {', '.join(gates())}") from None


def names() -> tuple[str, ...]:
    return tuple(gates())


def settings_types() -> dict[str, type | None]:
    """Each gate's settings dataclass, as config loading takes them."""
    return {name: gate.settings for name, gate in gates().items()}


def load_config(rootdir: Path, explicit: str | None = None) -> "QuantgateConfig":
    """The project's config, its [gates.*] tables checked against every registered gate."""
    from ..config import load

    return load(rootdir, explicit, settings_types())


def parse_config(table: Mapping[str, Any], path: Path) -> "QuantgateConfig":
    from ..config import parse

    return parse(table, path, settings_types())
