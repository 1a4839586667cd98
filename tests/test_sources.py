import pytest

from lm.data import cache
from lm.data.datamodule import LMDataModule
from lm.data.sources import HubSource, make_source
from lm.errors import UserError


def corpus(tmp_path, **texts):
    for split in ("train", "valid", "test"):
        (tmp_path / f"{split}.txt").write_bytes(texts.get(split, b"a b c\nb c a\n"))
    return tmp_path


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty"),
        (b"  \n\n \n", "only white space"),
        (b"caf\xe9 ok\n", r"not UTF-8 \(byte 0xe9 at offset 3\).*iconv"),
    ],
)
def test_bad_files_are_named_with_the_fix(tmp_path, content, message):
    corpus(tmp_path, valid=content)
    with pytest.raises(UserError, match=message) as e:
        make_source({"source": "text", "dir": str(tmp_path)})
    assert "data.valid" in str(e.value)


def test_missing_file_and_missing_setting(tmp_path):
    corpus(tmp_path)
    (tmp_path / "test.txt").unlink()
    with pytest.raises(UserError, match=r"data.test: no file at .*test.txt"):
        make_source({"source": "text", "dir": str(tmp_path)})
    with pytest.raises(UserError, match="data.train is not set"):
        make_source({"source": "text"})


def test_hub_without_network_names_the_offline_alternatives(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    src = HubSource("Salesforce/wikitext", "wikitext-2-v1", "text", {"train": "train"})
    with pytest.raises(UserError, match="could not load Salesforce/wikitext.*data=builtin.*data=text data.dir"):
        next(src.batches("train"))


def test_tokenize_once_second_prepare_reads_the_cache(tmp_path, monkeypatch):
    cfg = {"source": "text", "dir": str(corpus(tmp_path)), "batch_size": 1, "bptt": 2}
    first = LMDataModule(cfg, {"kind": "word"}, tmp_path / "cache")
    first.prepare()

    def fail(*a, **k):
        raise AssertionError("tokenized again")

    monkeypatch.setattr(cache, "train_tokenizer", fail)
    monkeypatch.setattr(cache, "encode_lines", fail)
    second = LMDataModule(cfg, {"kind": "word"}, tmp_path / "cache")
    second.prepare()
    assert second.tokenizer.to_str() == first.tokenizer.to_str()
    assert list(second.ids["train"]) == list(first.ids["train"])
    assert type(second.ids["train"]).__name__ == "memmap"
    with pytest.raises(AssertionError, match="tokenized again"):  # another tokenizer is another cache entry
        LMDataModule(cfg, {"kind": "char"}, tmp_path / "cache").prepare()


def test_changed_file_is_tokenized_again(tmp_path):
    cfg = {"source": "text", "dir": str(corpus(tmp_path)), "batch_size": 1, "bptt": 2}
    a = LMDataModule(cfg, {"kind": "word"}, tmp_path / "cache").prepare()
    (tmp_path / "train.txt").write_text("x y z w\n")
    b = LMDataModule(cfg, {"kind": "word"}, tmp_path / "cache").prepare()
    assert "x" in b.get_vocab() and "x" not in a.get_vocab()
