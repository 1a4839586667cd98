import os

import pytest
import pytorch_lightning as pl
import torch

from lm.data.lexicon import load_lexicon
from lm.data.tokenizer import train_tokenizer
from lm.model.rnnlm import RNNLM

os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

TINY_LINES = ["the cat sees the dog", "the dogs see the cat", "a cat and a dog run", "the dog runs"] * 4


@pytest.fixture(autouse=True)
def one_thread():
    # the tests' models are tiny: a second thread only adds waiting, a lot of it on a busy machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def grammar_tokenizer():
    return train_tokenizer("word", [" ".join(load_lexicon().vocab)])  # every word the grammar can emit


@pytest.fixture
def word_tokenizer():
    return train_tokenizer("word", TINY_LINES)


@pytest.fixture
def tiny_model(word_tokenizer):
    torch.manual_seed(0)
    return RNNLM(word_tokenizer.get_vocab_size(), emb_size=8, hidden_size=8, num_layers=2, dropout=0.0).eval()


def write_checkpoint(path, model, tokenizer, config=None):
    """A checkpoint in the format scripts/train.py writes (see lm/model/checkpoint.py), without training."""
    hp = dict(
        vocab_size=model.vocab_size,
        emb_size=model.emb_size,
        hidden_size=model.hidden_size,
        num_layers=model.num_layers,
        cell=model.cell,
        dropout=0.0,
    )
    torch.save(
        {
            "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
            "hyper_parameters": {"model": hp},
            "lm": {"format": 1, "tokenizer_json": tokenizer.to_str(), "config": config or {}},
        },
        path,
    )
    return path


@pytest.fixture
def tiny_checkpoint(tmp_path, tiny_model, word_tokenizer):
    return write_checkpoint(tmp_path / "tiny.ckpt", tiny_model, word_tokenizer)


def quiet_trainer(**kw) -> pl.Trainer:
    """A Lightning Trainer for a test: no logger, checkpoints, bar, summary or sanity check; `kw` adds the rest."""
    return pl.Trainer(
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        enable_model_summary=False,
        **kw,
    )
