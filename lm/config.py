"""What Hydra needs registered before it composes this project's configs."""

from __future__ import annotations

import os

from omegaconf import OmegaConf


def register_resolvers() -> None:
    """`${pid:}`: the process id, which no two live processes on a machine share; the run directory adds it to the
    start time so that runs started in the same second (parallel sweeps, job arrays) never share a directory."""
    if not OmegaConf.has_resolver("pid"):
        OmegaConf.register_new_resolver("pid", lambda: str(os.getpid()), use_cache=True)
