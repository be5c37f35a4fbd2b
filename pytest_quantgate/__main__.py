"""`python -m pytest_quantgate <command>`: the plugin's command-line helpers in one place."""

from __future__ import annotations

import sys
from typing import Sequence

COMMANDS = {
    "init": ("pytest_quantgate.scaffold", "write a commented quantgate.toml, a case file and an example test"),
    "matrix": ("pytest_quantgate.release.matrix", "the CI matrix: what runs where, what to install, the pytest command"),
    "manifest": ("pytest_quantgate.release.manifest", "the serving command of a gated candidate or of its rollback"),
    "power": ("pytest_quantgate.power", "how many cases a paired gate needs to decide at a margin"),
    "artifacts": ("pytest_quantgate.models.artifacts", "build llm-compressor artifacts of the demo model"),
}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] not in COMMANDS:
        width = max(map(len, COMMANDS))
        listing = "\n".join(f"  {name:<{width}}  {what}" for name, (_, what) in COMMANDS.items())
        print(f"usage: python -m pytest_quantgate <command> [options]\n\ncommands:\n{listing}", file=sys.stderr)
        return 0 if args[:1] in (["-h"], ["--help"]) else 2
    import importlib

    module = importlib.import_module(COMMANDS[args[0]][0])
    return int(module.main(args[1:]))


if __name__ == "__main__":
    raise SystemExit(main())
