"""Messages for the person at the console. Through logging when Hydra has set it up, so that the run's train.log
holds them too; printed when nothing has (train() called from Python or the compose API)."""

from __future__ import annotations

import logging
import os
import shutil
import sys
from pathlib import Path

log = logging.getLogger("lm")


def say(text: str) -> None:
    if logging.getLogger().handlers:
        log.info(text)
    else:
        print(text, flush=True)


def watched() -> bool:
    """Progress bars only where someone watches (a terminal), not in logs and CI output."""
    return sys.stderr.isatty()


def console_command(name: str) -> str:
    """How to start the console command `name` (lm-generate, ...) pasted into a fresh shell: the bare name when
    PATH finds this installation's, else its path (.venv/bin/lm-generate from the checkout)."""
    exe = Path(sys.executable).parent / name
    found = shutil.which(name)
    if found and Path(found).resolve() == exe.resolve():
        return name
    return shown_path(exe)


def shown_path(path: str | Path) -> str:
    """A path as a user pastes it from here: relative under the working directory, absolute elsewhere."""
    rel = os.path.relpath(Path(path).absolute())
    return str(Path(path).absolute()) if rel.startswith("..") else rel
