"""Which generation requests share a forward pass.

Rows of one batch are left-padded to its longest prompt, and the padding is computed and
thrown away: 21 long-context prompts of 256, 512 and 1024 tokens padded together cost 1.7x
the prefill of their real tokens. A new batch costs its decoding steps again, so prompts
are regrouped by length only where the padding saved outweighs that; elsewhere requests keep
their order (and so the batches, and answers, they had before this rule)."""

from __future__ import annotations

from typing import Sequence

# Padding a batch may add before it is closed: this share of its real tokens, and at least
# this many tokens (on a 2-core CPU one more batch of 48 decoding steps costs about the
# prefill of 256 tokens of the demo model).
PADDING_SHARE = 0.25
PADDING_FLOOR = 256


def length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices of `lengths` (prompt tokens) in batches of at most `batch_size`: in order while
    no batch pads too much, else shortest prompts first, a batch closed before padding it to
    the next prompt would add more than PADDING_SHARE of its real tokens and PADDING_FLOOR."""
    in_order = [list(range(start, min(start + batch_size, len(lengths)))) for start in range(0, len(lengths), batch_size)]
    if all(_padding(lengths, batch) <= _allowed(lengths, batch) for batch in in_order):
        return in_order
    batches: list[list[int]] = []
    current: list[int] = []
    for index in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        grown = [*current, index]
        if current and (len(grown) > batch_size or _padding(lengths, grown) > _allowed(lengths, grown)):
            batches.append(current)
            grown = [index]
        current = grown
    if current:
        batches.append(current)
    return batches


def _padding(lengths: Sequence[int], batch: Sequence[int]) -> int:
    rows = [lengths[i] for i in batch]
    return len(rows) * max(rows) - sum(rows)


def _allowed(lengths: Sequence[int], batch: Sequence[int]) -> float:
    return max(PADDING_SHARE * sum(lengths[i] for i in batch), PADDING_FLOOR)
