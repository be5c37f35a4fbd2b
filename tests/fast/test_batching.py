"""Length-aware batching of generation requests (engines/batching.py)."""

from hypothesis import given
from hypothesis import strategies as st

from pytest_quantgate.engines.batching import PADDING_FLOOR, PADDING_SHARE, length_batches


def test_long_context_lengths_are_not_padded_to_the_longest() -> None:
    lengths = [1024, 256, 512] * 7  # the built-in long-context gate: 7 cases at each length
    batches = length_batches(lengths, 32)
    assert [sorted({lengths[i] for i in b}) for b in batches] == [[256], [512], [1024]]


def test_short_prompts_keep_their_order_and_batches() -> None:
    # The built-in golden prompts (36-54 tokens): padding them costs less than another batch.
    lengths = [36 + (i * 7) % 19 for i in range(56)]
    assert length_batches(lengths, 32) == [list(range(32)), list(range(32, 56))]


@given(st.lists(st.integers(1, 4096), max_size=80), st.integers(1, 40))
def test_every_request_in_one_batch_within_the_width_and_the_padding_rule(lengths: list[int], batch_size: int) -> None:
    batches = length_batches(lengths, batch_size)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    in_order = [i for b in batches for i in b] == list(range(len(lengths)))
    for batch in batches:
        assert 1 <= len(batch) <= batch_size
        rows = [lengths[i] for i in batch]
        padding = len(rows) * max(rows) - sum(rows)
        assert len(rows) == 1 or padding <= max(PADDING_SHARE * sum(rows), PADDING_FLOOR)
        assert in_order or rows == sorted(rows)
    if not in_order:  # regrouped shortest first: a later batch never holds a shorter prompt
        for first, second in zip(batches, batches[1:]):
            assert max(lengths[i] for i in first) <= min(lengths[i] for i in second)
