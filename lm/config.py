"""What Hydra needs registered before it composes this project's configs, and reading list options."""

from __future__ import annotations

import os

from omegaconf import ListConfig, OmegaConf


def register_resolvers() -> None:
    """`${pid:}`: the process id, which no two live processes on a machine share; the run directory adds it to the
    start time so that runs started in the same second (parallel sweeps, job arrays) never share a directory."""
    if not OmegaConf.has_resolver("pid"):
        OmegaConf.register_new_resolver("pid", lambda: str(os.getpid()), use_cache=True)


def as_list(value) -> list[str]:
    """A list option as given on the command line: [a,b], a single value, or "a,b" (quoted, so Hydra keeps it)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple, ListConfig)):
        return [str(v) for v in value]
    return [s.strip() for s in str(value).split(",") if s.strip()]
