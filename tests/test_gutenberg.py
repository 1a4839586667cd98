"""The fiction-corpus builder (lm/data/gutenberg.py) on e-books written here, as Gutenberg lays them out."""

import textwrap

import pytest

from cli import run_script
from lm.data import gutenberg
from lm.errors import UserError


def ebook(author, title, paragraphs):
    body = "\n\n".join(textwrap.fill(p, width=30) for p in paragraphs)  # hard-wrapped, as Gutenberg's are
    return (
        f"The Project Gutenberg eBook of {title}\n\nTitle: {title}\n\nAuthor: {author}\n\nLanguage: English\n\n"
        f"*** START OF THE PROJECT GUTENBERG EBOOK {title.upper()} ***\n\nProduced by Someone Kind\n\n{body}\n\n"
        f"*** END OF THE PROJECT GUTENBERG EBOOK {title.upper()} ***\n\nLicence text that must not appear.\n"
    )


def test_an_ebook_becomes_its_paragraphs_without_header_credit_or_licence():
    text = ebook(
        "Jane Austen",
        "Emma",
        [
            "Emma Woodhouse, handsome, clever, and rich, seemed to unite.",
            "She was the youngest   of the two daughters.",
        ],
    )
    book = gutenberg.parse(text)
    assert (book.author, book.title) == ("Jane Austen", "Emma")
    assert book.paragraphs == [
        "Emma Woodhouse, handsome, clever, and rich, seemed to unite.",
        "She was the youngest of the two daughters.",
    ]
    assert gutenberg.parse("no header at all") is None


def test_build_splits_by_author_caps_each_and_keeps_one_copy_per_title(tmp_path):
    para = "word " * 40
    src = tmp_path / "src"
    src.mkdir()
    books = [
        ("Austen, Jane", "Emma"),
        ("Jane Austen", "Emma"),
        ("Jane Austen", "Persuasion"),
        ("Jane Austen", "Sanditon"),
        ("Robert Louis Stevenson", "Kidnapped"),
        ("Edith Wharton", "Summer"),
        ("Somebody Else", "Not Fiction Here"),
    ]
    texts = [ebook(author, title, [f"{title} {i} " + para] * 20) for i, (author, title) in enumerate(books)]
    for i, text in enumerate(texts):
        (src / f"{i}.txt").write_text(text, encoding="utf-8")
    cap = gutenberg.parse(texts[0]).bytes + gutenberg.parse(texts[2]).bytes  # Emma and Persuasion fit, not Sanditon
    counts = gutenberg.build(gutenberg.local_books(src), tmp_path / "out", max_author_bytes=cap, min_book_bytes=100)
    assert counts == {"train": 2, "valid": 1, "test": 1}  # Emma once; Sanditon over Austen's cap; no stranger
    rows = (tmp_path / "out" / "books.tsv").read_text().splitlines()
    assert rows[0] == "split\tauthor\ttitle\tbytes" and rows[1].startswith("train\tJane Austen\tEmma\t")
    assert (tmp_path / "out" / "valid.txt").read_text().startswith("Kidnapped 4 word")
    train = (tmp_path / "out" / "train.txt").read_text().splitlines()
    assert len(train) == 40 and not any("Licence" in line or "Produced by" in line for line in train)


def test_a_source_without_the_held_out_authors_is_refused(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text(ebook("Jane Austen", "Emma", ["x " * 100]), encoding="utf-8")
    with pytest.raises(UserError, match="no books for the valid, test split"):
        gutenberg.build(gutenberg.local_books(src), tmp_path / "out", min_book_bytes=10)
    res = run_script("make_books.py", "--src", str(tmp_path / "nothing"), "--out", str(tmp_path / "o2"))
    assert res.returncode == 2 and res.stderr.strip().startswith("error: no .txt e-books under")
