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


def test_variable_bptt_has_no_fixed_length_so_lightning_runs_each_epoch_to_the_end():
    ds = Chunks(batchify(np.arange(5_000), 2), bptt=35, variable=True, seed=0)
    with pytest.raises(TypeError):
        len(ds)
    counts = {len(ds.bounds(e)) for e in range(6)}
    assert len(counts) > 1  # epochs draw different numbers of chunks
    assert len(list(ds)) == len(ds.bounds(0))


@pytest.mark.parametrize("variable", [False, True])
def test_resume_continues_the_epoch_where_it_stopped_and_then_the_next(variable):
    grid = batchify(np.arange(4_000), 2)
    full = Chunks(grid, bptt=9, variable=variable, seed=1)
    epochs = [[x.numpy().tolist() for x, _ in full] for _ in range(3)]
    resumed = Chunks(grid, bptt=9, variable=variable, seed=1)
    resumed.resume(epoch=1, done=5)
    assert [x.numpy().tolist() for x, _ in resumed] == epochs[1][5:]
    assert [x.numpy().tolist() for x, _ in resumed] == epochs[2]
    resumed.resume(epoch=0, done=len(epochs[0]))  # saved after the last chunk: that pass is empty
    assert list(resumed) == []
    assert [x.numpy().tolist() for x, _ in resumed] == epochs[1]
