"""Mistakes a user can fix get one clear line and a non-zero exit, not a traceback."""

from __future__ import annotations

import functools
import sys


class UserError(Exception):
    """Something the user can fix; the message says what is wrong and how to fix it."""


class Diverged(UserError):
    """A non-finite loss, gradient or validation loss: the message names the step and what to try."""


EXIT_USER_ERROR = 2


def exit_on_user_error(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as e:
            print(f"error: {e}", file=sys.stderr, flush=True)
            sys.exit(EXIT_USER_ERROR)
        except KeyboardInterrupt:  # Ctrl-C outside training (training saves and stops by itself)
            print("interrupted", file=sys.stderr, flush=True)
            sys.exit(130)

    return wrapper
