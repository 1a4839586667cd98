"""A tiny run on the built-in corpus, composed with Hydra's compose API and run in-process."""

import csv
import os
import re
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from omegaconf import open_dict

from lm.model import checkpoint
from lm.training.train import train

CONF = str(Path(__file__).resolve().parents[1] / "conf")


def tiny_cfg(tmp_path, run, *overrides):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(
            "train",
            return_hydra_config=True,
            overrides=[
                "data.lines.train=600",
                "data.lines.valid=60",
                "data.lines.test=60",
                "data.batch_size=4",
                "data.bptt=10",
                "model.emb_size=16",
                "model.hidden_size=16",
                "model.num_layers=1",
                "trainer.max_epochs=1",
                "trainer.enable_progress_bar=false",
                "trainer.enable_model_summary=false",
                "logger=none",
                "callbacks.samples.every_n_epochs=0",
                "callbacks.probes.n_items=0",
                f"paths.cache_dir={tmp_path / 'cache'}",
                f"paths.output_root={tmp_path / 'outputs'}",
                f"hydra.run.dir={tmp_path / run}",
                *overrides,
            ],
        )
    HydraConfig.instance().set_config(cfg)  # resolves ${hydra:runtime.output_dir}
    with open_dict(cfg):
        cfg.paths.run_dir = str(tmp_path / run)
        del cfg.hydra
    return cfg


def test_builtin_run_writes_a_standalone_checkpoint_that_resumes(tmp_path):
    metrics = train(tiny_cfg(tmp_path, "first"))
    assert metrics["test/ppl"] > 1 and metrics["val/ppl"] > 1
    last = tmp_path / "first" / "checkpoints" / "last.ckpt"
    raw = torch.load(last, weights_only=True)
    assert raw["lm"]["config"]["data"]["source"] == "builtin"
    loaded = checkpoint.load(tmp_path / "first")  # a run directory is enough
    assert loaded.path.name == "best.ckpt"
    assert loaded.tokenizer.get_vocab_size() == loaded.model.vocab_size
    assert loaded.tokenizer.token_to_id("himself") is not None  # the grammar's words

    train(tiny_cfg(tmp_path, "second", "trainer.max_epochs=2", f"ckpt_path={tmp_path / 'first'}"))
    resumed = torch.load(tmp_path / "second" / "checkpoints" / "last.ckpt", weights_only=True)
    assert resumed["global_step"] == 2 * raw["global_step"]
    assert not torch.equal(resumed["state_dict"]["model.decoder.bias"], raw["state_dict"]["model.decoder.bias"])


def test_fused_adamw_trains_the_same_weights_and_refuses_fp16_clipping(tmp_path):
    from lm.errors import UserError

    weights = {}
    for run, fused in (("plain", "false"), ("fused", "true")):
        train(tiny_cfg(tmp_path, run, "test=false", f"+optim.optimizer.fused={fused}"))
        saved = torch.load(tmp_path / run / "checkpoints" / "last.ckpt", weights_only=True)
        assert saved["optimizer_states"][0]["param_groups"][0]["fused"] is (fused == "true")
        weights[run] = saved["state_dict"]
    for name, plain in weights["plain"].items():  # a faster kernel for the same update: equal up to rounding
        torch.testing.assert_close(weights["fused"][name], plain, rtol=1e-4, atol=1e-5, msg=name)
    with pytest.raises(UserError, match="fused=false"):
        train(tiny_cfg(tmp_path, "fp16", "trainer.precision=16-mixed", "+optim.optimizer.fused=true"))
    assert not (tmp_path / "fp16").exists()  # refused before anything was written


def test_debug_overfit_memorises_one_batch(tmp_path):
    cfg = tiny_cfg(
        tmp_path,
        "overfit",
        "debug=overfit",
        "trainer.max_epochs=150",
        "logger=csv",
        "model.hidden_size=32",
        "model.emb_size=32",
        "optim.optimizer.lr=0.02",
    )
    train(cfg)
    rows = list(csv.DictReader(open(tmp_path / "overfit" / "csv" / "version_0" / "metrics.csv")))
    losses = [float(r["train/loss"]) for r in rows if r.get("train/loss")]
    assert losses[-1] < 0.2 and losses[0] > 10 * losses[-1]


def test_debug_fast_dev_run_saves_and_logs_nothing(tmp_path):
    metrics = train(tiny_cfg(tmp_path, "smoke", "debug=fast_dev_run"))
    assert metrics["val/loss"] > 0
    assert not list((tmp_path / "smoke").glob("checkpoints/*.ckpt")) and not (tmp_path / "smoke" / "wandb").exists()


def test_ckpt_path_last_is_the_newest_run_of_this_name(tmp_path):
    from lm.errors import UserError
    from lm.training.train import resume_path

    root = tmp_path / "outputs" / "builtin"
    with pytest.raises(UserError, match="no last.ckpt under"):
        resume_path("last", root)
    for i, run in enumerate(["2026-01-02_00-00-00", "2026-01-01_00-00-00"]):
        ckpt = root / run / "checkpoints" / "last.ckpt"
        ckpt.parent.mkdir(parents=True)
        ckpt.write_bytes(b"x")
        os.utime(ckpt, (1000 + i, 1000 + i))  # the second one written last
    assert resume_path("last", root) == root / "2026-01-01_00-00-00" / "checkpoints" / "last.ckpt"
    assert resume_path(str(root / "2026-01-02_00-00-00"), root).parent.parent.name == "2026-01-02_00-00-00"
    assert resume_path(None, root) is None


@pytest.mark.parametrize("avx512_bf16, amx, warns", [(True, False, False), (False, True, False), (False, False, True)])
def test_bf16_on_a_cpu_without_bf16_instructions_is_warned_about(tmp_path, monkeypatch, avx512_bf16, amx, warns):
    from lm.training.train import precision_warning

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    assert tiny_cfg(tmp_path, "run").trainer.precision == "32-true"  # the default: exact
    message = precision_warning(tiny_cfg(tmp_path, "run", "trainer.precision=bf16-mixed"))
    assert (message is not None) == warns
    if warns:
        assert "32-true" in message
    assert precision_warning(tiny_cfg(tmp_path, "run", "trainer=gpu")) is None  # GPUs: bf16-mixed always


@pytest.mark.parametrize("native, expected", [(True, "bf16-mixed"), (False, "32-true")])
def test_auto_precision_is_bf16_only_where_the_cpu_has_bf16_instructions(tmp_path, monkeypatch, native, expected):
    from lm.training.train import build

    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: native)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    cfg = tiny_cfg(tmp_path, "run", "trainer.precision=auto")
    _, module = build(cfg)
    assert cfg.trainer.precision == expected and module.run_config["trainer"]["precision"] == expected
    kept = tiny_cfg(tmp_path, "run", "trainer.precision=32-true")
    build(kept)
    assert kept.trainer.precision == "32-true"  # a precision that is named is left alone


@pytest.mark.parametrize("experiment", sorted(p.stem for p in (Path(CONF) / "experiment").glob("*.yaml")))
def test_every_experiment_composes_and_builds_its_model_and_callbacks(experiment, tmp_path):
    from hydra.utils import instantiate

    from lm.model.rnnlm import RNNLM

    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        cfg = compose(
            "train",
            overrides=[
                f"experiment={experiment}",
                "model.emb_size=16",
                "model.hidden_size=16",
                f"paths.run_dir={tmp_path}",
            ],
        )
    model_args = {k: v for k, v in cfg.model.items()}
    RNNLM(vocab_size=max(60, *(model_args.get("cutoffs") or [0])) + 10, **model_args)
    for name, spec in cfg.callbacks.items():
        assert instantiate(spec) is not None, name


def test_throughput_monitor_logs_the_model_flops_of_each_token(tmp_path):
    train(
        tiny_cfg(
            tmp_path,
            "tp",
            "logger=csv",
            "callbacks.throughput.window_size=2",
            "trainer.log_every_n_steps=1",
            "test=false",
        )
    )
    rows = list(csv.DictReader(open(tmp_path / "tp" / "csv" / "version_0" / "metrics.csv")))
    tp = [r for r in rows if r.get("train/device/flops_per_sec")]
    assert tp and any(r.get("lr-AdamW") for r in rows)
    model = checkpoint.load(tmp_path / "tp").model
    for r in tp:  # FLOPs per token: 2 per multiply-add, forward and backward (x3)
        per_token = float(r["train/device/flops_per_sec"]) / float(r["train/device/items_per_sec"])
        assert per_token == pytest.approx(6 * model.macs_per_token(), rel=1e-6)


def test_negatives_train_on_the_grammar_and_a_wrong_group_is_one_clear_error(tmp_path, caplog):
    from lm.errors import UserError

    caplog.set_level("INFO", logger="lm.training.train")
    train(tiny_cfg(tmp_path, "neg", "logger=csv", "trainer.log_every_n_steps=1", "test=false", "negatives.weight=1"))
    rows = [r for r in csv.DictReader(open(tmp_path / "neg" / "csv" / "version_0" / "metrics.csv"))]
    hinge = [float(r["train/negatives"]) for r in rows if r.get("train/negatives")]
    share = [float(r["train/negatives_share"]) for r in rows if r.get("train/negatives_share")]
    assert len(hinge) == len(share) > 10
    assert all((h > 0) == (s > 0) for h, s in zip(hinge, share))  # margin 10: no pair gets that far apart here
    assert 0.02 < sum(share) / len(share) < 0.5  # the grammar's verbs and pronouns, not every word
    assert re.search(r"negatives: \d+ minimal pairs \(is/are, was/were", caplog.text)
    with pytest.raises(UserError, match="negatives.groups"):  # checked with the weight at 0 too
        train(tiny_cfg(tmp_path, "bad", "+negatives.groups.tense=1"))
    assert not (tmp_path / "bad" / "checkpoints").exists()
    for kind in ("bpe", "char"):  # BPE has "is" and "are" as pieces: they must not pass for words
        with pytest.raises(UserError, match=f"negatives need word tokens, not {kind}"):
            train(tiny_cfg(tmp_path, kind, "negatives.weight=1", f"tokenizer={kind}"))
