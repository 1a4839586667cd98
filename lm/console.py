"""Messages for the person at the console. Through logging when Hydra has set it up, so that the run's train.log
holds them too; printed when nothing has (train() called from Python or the compose API)."""

from __future__ import annotations

import logging

log = logging.getLogger("lm")


def say(text: str) -> None:
    if logging.getLogger().handlers:
        log.info(text)
    else:
        print(text, flush=True)
