"""Where the files that ship with the package live: the checkout's conf/ and data/ (grammar lexicon, probe word
lists) or, installed from a wheel, their copies packaged as lm/conf and lm/_data (symlinks in the checkout)."""

from __future__ import annotations

from pathlib import Path

PKG = Path(__file__).resolve().parent
_CHECKOUT, _PACKAGED = (
    {"conf": PKG.parent / "conf", "data": PKG.parent / "data"},
    {"conf": PKG / "conf", "data": PKG / "_data"},
)


def shipped(folder: str, *parts: str) -> Path:
    """`folder` (conf or data), then `parts` below it: the checkout's when it has it, else the packaged copy."""
    path = _CHECKOUT[folder].joinpath(*parts)
    return path if path.exists() else _PACKAGED[folder].joinpath(*parts)
