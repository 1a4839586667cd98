"""The fiction corpus (data=books) from Project Gutenberg e-books: one paragraph a line, split by whole author.

Each e-book keeps only the text between Gutenberg's `*** START OF ...` and `*** END OF ...` lines, without the
producers' credit; hard-wrapped lines are joined into paragraphs and runs of white space collapsed; case and
punctuation stay. Books come from a folder of plain-text e-books (`local_books`) or from a hub dataset of them
(`hub_books`, streamed), author and title read from each e-book's own header. `build` caps each author's text,
puts the valid and test authors' books in their own splits, and writes train.txt, valid.txt, test.txt and
books.tsv (split, author, title, bytes).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lm.errors import UserError

START = re.compile(r"^\*\*\* ?START OF (?:THE|THIS) PROJECT GUTENBERG[^\n]*$", re.M | re.I)
END = re.compile(r"^\*\*\* ?END OF (?:THE|THIS) PROJECT GUTENBERG[^\n]*$", re.M | re.I)
CREDIT = re.compile(r"^(?:produced|e-?text prepared|transcribed) by\b", re.I)
# The authors of the shared corpus (../shared/data/README.md in the project's own workspace), as Gutenberg
# writes them; Stevenson is the validation split, Wharton the test split.
AUTHORS = (
    "Louisa May Alcott",
    "Jane Austen",
    "J. M. Barrie",
    "L. Frank Baum",
    "Charlotte Brontë",
    "Frances Hodgson Burnett",
    "Edgar Rice Burroughs",
    "Lewis Carroll",
    "G. K. Chesterton",
    "Agatha Christie",
    "Wilkie Collins",
    "Joseph Conrad",
    "Charles Dickens",
    "Arthur Conan Doyle",
    "Thomas Hardy",
    "Nathaniel Hawthorne",
    "Henry James",
    "Rudyard Kipling",
    "Jack London",
    "L. M. Montgomery",
    "E. Nesbit",
    "Walter Scott",
    "Mary Wollstonecraft Shelley",
    "Robert Louis Stevenson",
    "Bram Stoker",
    "Anthony Trollope",
    "Mark Twain",
    "H. G. Wells",
    "Edith Wharton",
    "Oscar Wilde",
    "P. G. Wodehouse",
)
VALID_AUTHORS, TEST_AUTHORS = ("Robert Louis Stevenson",), ("Edith Wharton",)


@dataclass
class Book:
    author: str
    title: str
    paragraphs: list[str]

    @property
    def bytes(self) -> int:
        return sum(len(p.encode("utf-8")) + 1 for p in self.paragraphs)


def header_field(text: str, name: str) -> str | None:
    """A field of the e-book's header ("Title: ...", "Author: ..."), before the START line."""
    start = START.search(text)
    m = re.search(rf"^{name}:[ \t]*(.+)$", text[: start.start() if start else 5000], re.M | re.I)
    return m.group(1).strip() if m else None


def paragraphs(text: str) -> list[str]:
    """The body between the START and END lines, one paragraph a string, white space collapsed."""
    start, end = START.search(text), END.search(text)
    body = text[start.end() if start else 0 : end.start() if end else len(text)]
    out = []
    for block in re.split(r"\n[ \t]*\n", body.replace("\r\n", "\n")):
        para = " ".join(block.split())
        if para and not CREDIT.match(para):
            out.append(para)
    return out


def parse(text: str, fallback_title: str = "") -> Book | None:
    """A Book from one e-book's text; None without an author in its header."""
    author = header_field(text, "Author")
    if not author:
        return None
    return Book(author, header_field(text, "Title") or fallback_title, paragraphs(text))


def local_books(folder: str | Path) -> Iterator[Book]:
    """Every *.txt e-book under `folder` whose header names its author."""
    d = Path(folder).expanduser()
    files = sorted(d.rglob("*.txt")) if d.is_dir() else []
    if not files:
        raise UserError(f"no .txt e-books under {d}: give a folder of Project Gutenberg plain-text files")
    for f in files:
        book = parse(f.read_text(encoding="utf-8", errors="replace"), f.stem)
        if book is not None:
            yield book


def hub_books(path: str = "manu/project_gutenberg", split: str = "en", text_field: str = "text") -> Iterator[Book]:
    """E-books from a hub dataset of Gutenberg texts, streamed (the whole collection is tens of GB)."""
    try:
        from datasets import load_dataset

        rows = load_dataset(path, split=split, streaming=True)
        for row in rows:
            book = parse(row[text_field])
            if book is not None:
                yield book
    except (ConnectionError, OSError, ValueError) as e:
        raise UserError(
            f"could not stream {path} ({split}) from the Hugging Face hub ({type(e).__name__}); "
            "without a network, give a folder of e-books: --src DIR"
        ) from None


def wanted(author: str, authors: Iterable[str]) -> str | None:
    """The name in `authors` that Gutenberg's author field refers to ("Dickens, Charles" or "Charles Dickens")."""

    def key(name: str) -> set[str]:
        return {w for w in re.findall(r"\w+", name.lower()) if len(w) > 2}

    found = key(author)
    return next((a for a in authors if key(a) and key(a) <= found), None)


def build(
    books: Iterable[Book],
    out_dir: str | Path,
    authors: Iterable[str] = AUTHORS,
    valid_authors: Iterable[str] = VALID_AUTHORS,
    test_authors: Iterable[str] = TEST_AUTHORS,
    max_author_bytes: int = 3_200_000,
    min_book_bytes: int = 60_000,
) -> dict[str, int]:
    """Write the corpus from `books`; returns the books written per split. One copy per title; an author's books
    are taken in the order they come until `max_author_bytes`."""
    authors = list(authors)
    split_of = {a: "valid" for a in valid_authors} | {a: "test" for a in test_authors}
    out = Path(out_dir).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    used: dict[str, int] = {}
    seen: set[tuple[str, str]] = set()
    counts = {"train": 0, "valid": 0, "test": 0}
    files = {s: (out / f"{s}.txt").open("w", encoding="utf-8") for s in counts}
    try:
        with (out / "books.tsv").open("w", encoding="utf-8", newline="") as f:
            table = csv.writer(f, delimiter="\t", lineterminator="\n")
            table.writerow(["split", "author", "title", "bytes"])
            for book in books:
                name = wanted(book.author, authors)
                if (
                    name is None
                    or (name, book.title.lower()) in seen
                    or book.bytes < min_book_bytes
                    or used.get(name, 0) + book.bytes > max_author_bytes
                ):
                    continue
                seen.add((name, book.title.lower()))
                used[name] = used.get(name, 0) + book.bytes
                split = split_of.get(name, "train")
                files[split].write("\n".join(book.paragraphs) + "\n")
                table.writerow([split, name, book.title, book.bytes])
                counts[split] += 1
    finally:
        for fh in files.values():
            fh.close()
    empty = [s for s, n in counts.items() if n == 0]
    if empty:
        raise UserError(
            f"no books for the {', '.join(empty)} split(s) in {out}: the source lacks their authors "
            f"({', '.join(a for a in [*valid_authors, *test_authors])} hold valid and test)"
        )
    return counts
