import numpy as np
import pytest

from lm.data.batching import Chunks, batchify, chunk_bounds


def rows_from_chunks(ds):
    inputs, targets = zip(*ds)
    return np.concatenate([x.numpy() for x in inputs], 1), np.concatenate([y.numpy() for y in targets], 1)


@pytest.mark.parametrize("variable", [False, True])
def test_chunks_cover_each_row_once_in_order_with_targets_shifted_by_one(variable):
    ids = np.arange(1003)
    grid = batchify(ids, 4)  # (4, 250): 3 tokens dropped
    assert grid.shape == (4, 250)
    assert (grid[1] == np.arange(250, 500)).all()  # row b is the b-th contiguous segment
    x, y = rows_from_chunks(Chunks(grid, bptt=7, variable=variable, seed=3))
    assert (x == grid[:, :-1]).all()  # every input token once, nothing repeated or lost
    assert (y == grid[:, 1:]).all()  # targets are the inputs shifted by one


def test_variable_bptt_lengths_vary_and_differ_between_epochs():
    ds = Chunks(batchify(np.arange(20_000), 2), bptt=35, variable=True, seed=0)
    first = [x.shape[1] for x, _ in ds]
    second = [x.shape[1] for x, _ in ds]
    assert len(set(first)) > 5 and min(first) >= 5
    assert first != second


def test_ranks_own_disjoint_rows_that_cover_the_stream():
    ids = np.arange(1200)
    parts = [batchify(ids, 3, rank=r, world_size=2) for r in range(2)]
    assert all(p.shape == (3, 200) for p in parts)
    seen = np.concatenate([p.ravel() for p in parts])
    assert len(np.unique(seen)) == len(seen) == 1200


def test_chunk_bounds_last_chunk_is_short():
    assert chunk_bounds(11, 4) == [(0, 4), (4, 4), (8, 2)]


def test_too_short_stream_is_refused():
    with pytest.raises(ValueError, match="too short"):
        batchify(np.arange(5), 4)
