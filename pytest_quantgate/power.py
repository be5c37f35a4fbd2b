"""How many cases a paired gate needs to decide: the same rule the gates apply (the Wilson
upper bound of the pass->fail rate, less the fail->pass rate, within the margin), solved for
the case count at a given discordance (the share of cases whose outcome flips either way).

    python -m pytest_quantgate.power --margin 0.02 --confidence 0.95 --discordance 0.08
    python -m pytest_quantgate.power --margin 0.05 --discordance 0.1 --loss 0.01
    python -m pytest_quantgate.power --table        # suite sizes for margins of 1, 2, 5 and 10 points

An underpowered verdict reports the same figure at its observed flip rates
(`cases_needed` in the gate's metrics).
"""

from __future__ import annotations

import argparse
from typing import Sequence

from .stats import MAX_CASES_NEEDED, cases_needed

MARGINS = (0.01, 0.02, 0.05, 0.10)
DISCORDANCES = (0.02, 0.05, 0.10, 0.20)


def needed(margin: float, discordance: float, confidence: float = 0.95, loss: float = 0.0) -> int | None:
    """Cases at which a candidate whose outcomes flip on `discordance` of the cases, losing
    `loss` of the pass rate on balance, is decided PASS (None: never, or over a million)."""
    if not 0 <= loss <= discordance <= 1:
        raise ValueError(f"need 0 <= loss ({loss}) <= discordance ({discordance}) <= 1")
    if loss >= margin:
        return None  # a true loss at or beyond the margin is never decided PASS
    return cases_needed((discordance + loss) / 2, (discordance - loss) / 2, margin, confidence)


def table(confidence: float = 0.95) -> str:
    """Markdown: cases needed per margin (rows) and discordance (columns), no true loss."""
    head = "| margin | " + " | ".join(f"{d:.0%} flip" for d in DISCORDANCES) + " |"
    lines = [head, "|---" * (len(DISCORDANCES) + 1) + "|"]
    for margin in MARGINS:
        cells = [needed(margin, d, confidence) for d in DISCORDANCES]
        lines.append(f"| {margin:.0%} | " + " | ".join(f"{n:,}" if n else f"> {MAX_CASES_NEEDED:,}" for n in cells) + " |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pytest_quantgate.power", description=__doc__.splitlines()[0])
    parser.add_argument("--margin", type=float, default=0.1, help="the gate's margin (0.02 = 2 points of pass rate)")
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--discordance", type=float, default=0.1, help="share of cases whose outcome flips, either way")
    parser.add_argument("--loss", type=float, default=0.0, help="the candidate's true loss of pass rate (pass->fail minus fail->pass rate)")
    parser.add_argument("--table", action="store_true", help="a table of case counts for common margins and discordances")
    args = parser.parse_args(argv)
    if args.table:
        print(table(args.confidence))
        return 0
    try:
        count = needed(args.margin, args.discordance, args.confidence, args.loss)
    except ValueError as exc:
        parser.exit(2, f"error: {exc}\n")
    if count is None:
        print(f"never decided PASS: a true loss of {args.loss:.1%} at {args.discordance:.1%} discordance does not fit the {args.margin:.1%} margin "
              f"(or it needs over {MAX_CASES_NEEDED:,} cases)")
        return 1
    print(f"{count} cases: at {args.discordance:.1%} discordance and a true loss of {args.loss:.1%}, the upper "
          f"{args.confidence:.0%} bound on the loss falls within the {args.margin:.1%} margin")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
