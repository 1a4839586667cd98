"""What one analysis produced (files, tables and text through lm/results)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Section:
    """What one analysis produced: files written, tables (name -> rows) for W&B, text printed, summary."""

    name: str
    files: list[Path] = field(default_factory=list)
    tables: dict[str, list[dict]] = field(default_factory=dict)
    text: list[str] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    def say(self, text: str) -> None:
        self.text.append(text)
        print(text, flush=True)
