from cli import run_script
from lm.data.antecedents import gendered_words, tally
from lm.probes.vocab import load_vocab

GENDERS = {"john": "m", "mary": "f", "king": "m", "queen": "f"}


def test_tally_counts_first_against_nearest_and_skips_what_does_not_decide():
    lines = [
        "John told Mary that he would go. Mary saw John. She smiled!",  # same: first; next: first
        "The king met the queen and she laughed.",  # same: nearest
        "Mary asked John to help himself. He did.",  # reflexive: nearest; "He" after both: next, nearest
        "John and the king said that he was tired.",  # one gender only: undecided
        "He met Mary. Then John left.",  # a pronoun before both, and no pronoun after the pair
    ]
    counts = tally(lines, GENDERS)
    assert counts == {
        ("same sentence", "first"): 1,
        ("same sentence", "nearest"): 1,
        ("next sentence", "first"): 1,
        ("next sentence", "nearest"): 1,
        ("reflexive", "nearest"): 1,
        ("same sentence", "undecided"): 1,  # John and the king: one gender
    }


def test_only_the_first_pronoun_of_a_sentence_counts():
    counts = tally(["John saw Mary and she waved and he waved."], GENDERS)
    assert counts == {("same sentence", "nearest"): 1}


def test_gendered_words_are_singular_nouns_and_names_of_the_probe_lexicon():
    words = gendered_words(load_vocab("english"))
    assert words["man"] == "m" and words["woman"] == "f" and words["mary"] == "f" and words["john"] == "m"
    assert "men" not in words and "women" not in words  # plurals refer as "they"


def test_the_script_prints_shares_and_a_missing_file_is_one_line(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("John told Mary that he would go.\nThe king met the queen and she laughed.\n" * 3)
    out = run_script("antecedents.py", text)
    assert out.returncode == 0, out.stderr
    row = next(r.split() for r in out.stdout.splitlines() if r.startswith("same sentence"))
    assert row[2:5] == ["0", "6", "0.500"]  # undecided, n, first
    bad = run_script("antecedents.py", tmp_path / "no.txt")
    assert bad.returncode != 0 and bad.stderr.strip().count("\n") == 0 and "no file" in bad.stderr
