import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import pytorch_lightning as pl
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from lm.data.tokenizer import decode, encode_lines, train_tokenizer
from lm.generation.fast_decode import make_engine
from lm.generation.generator import TextStream, encode_prompt, generate
from lm.model.rnnlm import RNNLM
from lm.training.callbacks.samples import GenerateSamples

ROOT = Path(__file__).resolve().parents[1]
ENGINES = ["reference", "fp32", "bf16"]
EXACT = ["reference", "fp32"]  # bf16 rounds the weights


def full_logits(model, tokenizer, prompt, new_ids):
    """Logits predicting each new token from one forward pass over <eos> + prompt + new tokens. (N, V)"""
    ids, _ = encode_prompt(tokenizer, prompt)
    with torch.no_grad():
        logits, _ = model(torch.tensor([ids + new_ids]))
    return logits[0, len(ids) - 1 : len(ids) - 1 + len(new_ids)]


def model_for(tokenizer, cell="lstm", seed=0):
    torch.manual_seed(seed)
    return RNNLM(tokenizer.get_vocab_size(), emb_size=8, hidden_size=8, num_layers=2, cell=cell, dropout=0.0).eval()


# --- decoding ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_same_seed_same_text(tiny_model, word_tokenizer, engine):
    a = generate(tiny_model, word_tokenizer, "the cat", max_new_tokens=30, seed=7, engine=engine)[0]
    b = generate(tiny_model, word_tokenizer, "the cat", max_new_tokens=30, seed=7, engine=engine)[0]
    c = generate(tiny_model, word_tokenizer, "the cat", max_new_tokens=30, seed=8, engine=engine)[0]
    assert a.text == b.text and a.ids == b.ids and len(a.ids) == 30
    assert c.ids != a.ids


@pytest.mark.parametrize("engine", EXACT)
def test_stateful_decoding_matches_full_forward(tiny_model, word_tokenizer, engine):
    eng = make_engine(tiny_model, engine)
    ids, _ = encode_prompt(word_tokenizer, "the dog")
    new = torch.randint(word_tokenizer.get_vocab_size(), (40,), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        logits, state = eng.prefill(torch.tensor([ids]), batch=1)
        steps = [logits[0]]
        for tok in new[:-1]:
            logits, state = eng.step(tok.view(1), state)
            steps.append(logits[0])
    expected = full_logits(tiny_model, word_tokenizer, "the dog", new.tolist())
    torch.testing.assert_close(torch.stack(steps), expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("engine", ENGINES)
def test_logprobs_match_full_forward(tiny_model, word_tokenizer, engine):
    s = generate(tiny_model, word_tokenizer, "a cat", max_new_tokens=25, seed=1, engine=engine)[0]
    expected = full_logits(tiny_model, word_tokenizer, "a cat", s.ids).log_softmax(-1)
    expected = expected.gather(1, torch.tensor(s.ids)[:, None]).squeeze(1)
    tol = 1e-5 if engine in EXACT else 2e-2
    torch.testing.assert_close(torch.tensor(s.logprobs), expected, atol=tol, rtol=0)
    assert s.mean_logprob == pytest.approx(sum(s.logprobs) / 25)


@pytest.mark.parametrize("engine", EXACT)
def test_greedy_follows_the_argmax_path(tiny_model, word_tokenizer, engine):
    s = generate(tiny_model, word_tokenizer, "the", max_new_tokens=20, greedy=True, temperature=0, engine=engine)[0]
    assert s.ids == full_logits(tiny_model, word_tokenizer, "the", s.ids).argmax(-1).tolist()
    k1 = generate(tiny_model, word_tokenizer, "the", max_new_tokens=20, top_k=1, seed=3, engine=engine)[0]
    assert k1.ids == s.ids


@pytest.mark.parametrize("engine", ENGINES)
def test_batched_samples_equal_one_at_a_time(tiny_model, word_tokenizer, engine):
    kw = dict(max_new_tokens=30, temperature=0.9, top_p=0.95, engine=engine)
    batch = generate(tiny_model, word_tokenizer, "the dog", num_samples=4, seed=100, **kw)
    for i, s in enumerate(batch):
        alone = generate(tiny_model, word_tokenizer, "the dog", num_samples=1, seed=100 + i, **kw)[0]
        assert (s.ids, s.text, s.seed) == (alone.ids, alone.text, 100 + i)
    assert len({tuple(s.ids) for s in batch}) > 1


def test_stop_at_eos_ends_each_sample_at_its_first_eos(tiny_model, word_tokenizer):
    samples = generate(tiny_model, word_tokenizer, "the", max_new_tokens=60, num_samples=6, seed=0, stop_at_eos=True)
    eos = word_tokenizer.token_to_id("<eos>")
    for s in samples:
        assert eos not in s.ids[:-1] and (s.ids[-1] == eos or len(s.ids) == 60)
    assert any(s.ids[-1] == eos for s in samples)


def test_gru_uses_the_reference_engine(word_tokenizer):
    model = model_for(word_tokenizer, cell="gru")
    s = generate(model, word_tokenizer, "the", max_new_tokens=10, seed=0)[0]
    assert len(s.ids) == 10
    with pytest.raises(ValueError, match="engine"):
        generate(model, word_tokenizer, "the", engine="bf16")


def test_restores_train_mode(tiny_model, word_tokenizer):
    tiny_model.train()
    generate(tiny_model, word_tokenizer, "the", max_new_tokens=3, seed=0)
    assert tiny_model.training


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(max_new_tokens=-1), "max_new_tokens"),
        (dict(num_samples=0), "num_samples"),
        (dict(temperature=0), "temperature"),
        (dict(top_k=0), "top_k"),
        (dict(top_p=1.5), "top_p"),
        (dict(engine="turbo"), "engine"),
    ],
)
def test_generate_rejects_bad_arguments(tiny_model, word_tokenizer, kwargs, name):
    with pytest.raises(ValueError, match=name):
        generate(tiny_model, word_tokenizer, "the", **kwargs)


# --- text --------------------------------------------------------------------------------------------------


def stream_text(tokenizer, ids, line_start=True):
    stream = TextStream(tokenizer, line_start)
    pieces = [stream.push(i) for i in ids] + [stream.flush()]
    return pieces


def test_word_stream_spaces_line_breaks_and_unk(word_tokenizer):
    ids = sum(encode_lines(word_tokenizer, ["the cat zebra", "a dog"]), [])
    pieces = stream_text(word_tokenizer, ids)
    assert "".join(pieces) == "the cat <unk>\na dog\n" == decode(word_tokenizer, ids)
    assert "".join(stream_text(word_tokenizer, ids, line_start=False)).startswith(" the")


def test_streamed_text_is_the_sample_text(tiny_model, word_tokenizer):
    got = []
    s = generate(tiny_model, word_tokenizer, "the cat", max_new_tokens=40, seed=2, on_text=lambda r, p: got.append(p))[
        0
    ]
    assert "".join(got) == s.text
    assert "the cat" + s.text == decode(word_tokenizer, encode_prompt(word_tokenizer, "the cat")[0][1:] + s.ids)


MULTIBYTE = ["naïve café déjà vu", "日本語のテキスト", "emoji 🙂 and 🚀 too", "ünïcödé plain ascii"] * 8


@pytest.fixture(scope="module")
def bpe_tokenizer():
    return train_tokenizer("bpe", MULTIBYTE, vocab_size=300)


def test_bpe_round_trip_keeps_multibyte_characters_whole(bpe_tokenizer):
    text = "déjà 日本 🙂 🚀!"
    ids = bpe_tokenizer.encode(text, add_special_tokens=False).ids
    assert any("\ufffd" in bpe_tokenizer.decode([i]) for i in ids)  # some character really is split
    pieces = stream_text(bpe_tokenizer, ids)
    assert "".join(pieces) == text == decode(bpe_tokenizer, ids)
    assert not any("\ufffd" in p for p in pieces)


@pytest.mark.parametrize("kind", ["bpe", "char"])
def test_generated_stream_equals_decode(kind, bpe_tokenizer):
    tok = bpe_tokenizer if kind == "bpe" else train_tokenizer("char", MULTIBYTE)
    model = model_for(tok)
    got = []
    s = generate(model, tok, "naï", max_new_tokens=200, seed=0, on_text=lambda r, p: got.append(p))[0]
    assert "".join(got) == s.text
    assert "naï" + s.text == decode(tok, encode_prompt(tok, "naï")[0][1:] + s.ids)


def test_unknown_words_warn_and_map_to_unk(tiny_model, word_tokenizer):
    ids, unknown = encode_prompt(word_tokenizer, "the zebra sees a yak")
    assert unknown == ["zebra", "yak"] and ids.count(word_tokenizer.token_to_id("<unk>")) == 2
    with pytest.warns(UserWarning, match="'zebra', 'yak'"):
        s = generate(tiny_model, word_tokenizer, "the zebra sees a yak", max_new_tokens=5, seed=0)[0]
    assert len(s.ids) == 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        generate(tiny_model, word_tokenizer, "the cat", max_new_tokens=2, seed=0)


def test_stream_matches_decode_on_random_byte_soup(bpe_tokenizer):
    # random BPE ids are mostly invalid UTF-8: the held-back bytes and U+FFFDs must still match the decoder
    g = torch.Generator().manual_seed(0)
    eos = bpe_tokenizer.token_to_id("<eos>")
    for _ in range(20):
        ids = [i for i in torch.randint(bpe_tokenizer.get_vocab_size(), (60,), generator=g).tolist() if i != eos]
        assert "".join(stream_text(bpe_tokenizer, ids)) == decode(bpe_tokenizer, ids)


# --- the training callback ---------------------------------------------------------------------------------


class TableLogger:
    def __init__(self):
        self.calls = []

    def log_table(self, key, columns, data):
        self.calls.append((key, columns, data))


def fake_trainer(epoch, loggers=(), sanity=False):
    return SimpleNamespace(
        current_epoch=epoch, global_step=10 * epoch, sanity_checking=sanity, is_global_zero=True, loggers=list(loggers)
    )


def test_callback_logs_a_growing_table_every_n_epochs(tiny_model, word_tokenizer):
    cb = GenerateSamples(prompts=["the", "a dog"], every_n_epochs=2, max_new_tokens=5, seed=0)
    module = SimpleNamespace(model=tiny_model.train(), tokenizer=word_tokenizer)
    logger = TableLogger()
    for epoch in range(4):
        cb.on_validation_epoch_end(fake_trainer(epoch, [logger]), module)
    cb.on_validation_epoch_end(fake_trainer(5, [logger], sanity=True), module)
    assert [len(data) for _, _, data in logger.calls] == [2, 4]  # after epochs 1 and 3, rows accumulate
    key, columns, data = logger.calls[-1]
    assert key == "samples" and columns[:4] == ["epoch", "step", "prompt", "sample"]
    assert [row[0] for row in data] == [1, 1, 3, 3] and data[1][3].startswith("a dog ")
    assert tiny_model.training


def test_callback_without_wandb_logs_text(tiny_model, word_tokenizer, caplog):
    cb = GenerateSamples(prompts=["the"], every_n_epochs=1, max_new_tokens=3)
    with caplog.at_level("INFO", logger="lm.training.callbacks.samples"):
        cb.on_validation_epoch_end(fake_trainer(0), SimpleNamespace(model=tiny_model, tokenizer=word_tokenizer))
    assert "sample (epoch 0" in caplog.text


class TinyModule(pl.LightningModule):
    def __init__(self, model, tokenizer):
        super().__init__()
        self.model, self.tokenizer = model, tokenizer

    def training_step(self, batch, batch_idx):
        logits, _ = self.model(batch[0][:, :-1])
        return torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch[0][:, 1:].flatten())

    def validation_step(self, batch, batch_idx):
        pass

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_callback_runs_inside_a_lightning_fit(tiny_model, word_tokenizer):
    ids = torch.tensor(sum(encode_lines(word_tokenizer, ["the cat sees the dog"] * 12), []))[:64].view(4, 16)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(ids), batch_size=2)
    cb = GenerateSamples(prompts=["the"], every_n_epochs=1, max_new_tokens=4)
    trainer = pl.Trainer(
        max_epochs=2,
        accelerator="cpu",
        logger=False,
        callbacks=[cb],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(TinyModule(tiny_model.train(), word_tokenizer), loader, loader)
    assert [row[0] for row in cb.rows] == [0, 1] and all(row[3].startswith("the") for row in cb.rows)


def test_callback_config_instantiates_and_zero_turns_it_off():
    cfg = OmegaConf.load(ROOT / "conf" / "callbacks" / "samples.yaml")
    cb = instantiate(cfg.samples, every_n_epochs=0)
    assert isinstance(cb, GenerateSamples) and not cb.due(fake_trainer(0))
