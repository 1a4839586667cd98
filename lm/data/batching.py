"""One contiguous token stream per split, laid out in B rows and served as ordered chunks (truncated BPTT).

    stream: a b c d e f g h i j k l m n o p q r s t u v w x (y z dropped: not a multiple of B)
    B = 4 rows (batch_first), each row a contiguous segment of the stream:
        row 0: a b c d e f          chunk 0 (T=2): x = [a b]  y = [b c]
        row 1: g h i j k l                         [g h]      [h i]
        row 2: m n o p q r                         [m n]      [n o]
        row 3: s t u v w x                         [s t]      [t u]
    Chunk k+1 continues each row where chunk k stopped, so the recurrent state at the end of chunk k is the
    right starting state for chunk k+1.

Under DDP the stream is cut into B x world_size rows and rank r owns rows [r*B, (r+1)*B).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.utils.data import IterableDataset


def batchify(ids: np.ndarray, batch_size: int, rank: int = 0, world_size: int = 1) -> np.ndarray:
    rows = batch_size * world_size
    length = len(ids) // rows
    if length < 2:
        raise ValueError(f"a stream of {len(ids)} tokens is too short for {rows} rows of at least 2 tokens")
    grid = np.asarray(ids[: rows * length]).reshape(rows, length)  # (B*W, L)
    return grid[rank * batch_size : (rank + 1) * batch_size]  # (B, L)


def chunk_bounds(length: int, bptt: int, variable: bool = False, rng: np.random.Generator | None = None):
    """Start and length of each chunk over rows of `length` tokens (inputs need one token of lookahead).

    Variable-length BPTT (Merity et al. 2018, AWD-LSTM): the base length is bptt with p=0.95, else bptt/2,
    then the length is drawn from N(base, 5), at least 5 tokens.
    """
    i, bounds = 0, []
    while i < length - 1:
        t = bptt
        if variable:
            base = bptt if rng.random() < 0.95 else bptt / 2
            t = max(5, int(rng.normal(base, 5)))
        t = min(t, length - 1 - i)
        bounds.append((i, t))
        i += t
    return bounds


class Chunks(IterableDataset):
    """Yields (inputs, targets), each (B, t) int64, in stream order; one pass is one epoch.

    With variable-length BPTT each epoch draws its own chunk lengths from (seed, epoch), so the number of chunks
    differs from epoch to epoch: such a dataset has no len() and Lightning ends the epoch when the rows do.
    `epoch_of` says which epoch a new pass serves (the trainer's; without it passes are counted), since Lightning
    may start a pass that it then drops. `resume(epoch, done)`: a pass of that epoch skips its first `done` chunks.
    """

    def __init__(self, grid: np.ndarray, bptt: int, variable: bool = False, seed: int = 0, epoch_of=None):
        self.grid, self.bptt, self.variable, self.seed, self.epoch_of = grid, bptt, variable, seed, epoch_of
        self.passes, self.resume_at = 0, (0, 0)

    def __len__(self) -> int:
        if self.variable:
            raise TypeError("variable-length BPTT draws a different number of chunks each epoch")
        return math.ceil((self.grid.shape[1] - 1) / self.bptt)

    def bounds(self, epoch: int) -> list[tuple[int, int]]:
        rng = np.random.default_rng([self.seed, epoch]) if self.variable else None
        return chunk_bounds(self.grid.shape[1], self.bptt, self.variable, rng)

    def resume(self, epoch: int, done: int) -> None:
        self.passes, self.resume_at = epoch, (epoch, done)

    def __iter__(self):
        epoch = self.epoch_of() if self.epoch_of else self.passes
        self.passes = epoch + 1
        skip = self.resume_at[1] if self.resume_at[0] == epoch else 0
        return (self._block(start, t) for start, t in self.bounds(epoch)[skip:])

    def _block(self, start: int, t: int) -> tuple[torch.Tensor, torch.Tensor]:
        block = torch.from_numpy(np.asarray(self.grid[:, start : start + t + 1], dtype=np.int64))
        return block[:, :-1], block[:, 1:]
