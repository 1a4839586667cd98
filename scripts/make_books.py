"""Build the fiction corpus (data=books: data/books/{train,valid,test}.txt and books.tsv) from Project Gutenberg.

    python scripts/make_books.py                       # from the hub (streamed), into data/books
    python scripts/make_books.py --src DIR             # from a folder of Gutenberg plain-text e-books

What is kept and how it is cleaned: lm/data/gutenberg.py.
"""

import argparse
import sys

from lm.data import gutenberg
from lm.errors import exit_on_user_error


@exit_on_user_error
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--src", default="hub", help="hub (default), or a folder of .txt e-books")
    p.add_argument("--hub-dataset", default="manu/project_gutenberg", help="hub dataset of Gutenberg texts")
    p.add_argument("--hub-split", default="en")
    p.add_argument("--out", default="data/books")
    p.add_argument("--max-author-mb", type=float, default=3.2, help="text kept per author")
    args = p.parse_args()
    books = (
        gutenberg.hub_books(args.hub_dataset, args.hub_split) if args.src == "hub" else gutenberg.local_books(args.src)
    )
    counts = gutenberg.build(books, args.out, max_author_bytes=int(args.max_author_mb * 1e6))
    print(f"{args.out}: " + ", ".join(f"{n} books in {s}.txt" for s, n in counts.items()), file=sys.stderr)


if __name__ == "__main__":
    main()
