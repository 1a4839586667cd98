"""lm-export: safetensors + config.json + tokenizer.json that load without the checkpoint and score the same."""

import json

import pytest
import torch

from cli import run_script
from lm.errors import UserError
from lm.model import checkpoint
from lm.model.export import export, load_exported
from lm.model.rnnlm import RNNLM


@pytest.mark.parametrize("args", [dict(), dict(tie_weights=True, softmax="adaptive", cutoffs=[6], div_value=1.0)])
def test_export_round_trips_the_log_probs(tmp_path, word_tokenizer, args):
    torch.manual_seed(0)
    margs = dict(vocab_size=word_tokenizer.get_vocab_size(), emb_size=8, hidden_size=8, num_layers=2, **args)
    model = RNNLM(**margs).eval()
    torch.save(
        {
            "state_dict": {f"model.{k}": v for k, v in model.state_dict().items()},
            "hyper_parameters": {"model": margs},
            "lm": {"format": 1, "tokenizer_json": word_tokenizer.to_str(), "config": {"seed": 7}},
        },
        tmp_path / "m.ckpt",
    )
    out = export(tmp_path / "m.ckpt", tmp_path / "export")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors", "tokenizer.json"]
    assert b"\x80" not in (out / "config.json").read_bytes() and json.loads((out / "config.json").read_text())[
        "training"
    ] == {"seed": 7}
    back, tok, _ = load_exported(out)
    ids = torch.tensor([tok.encode("the cat sees the dog", add_special_tokens=False).ids])
    loaded = checkpoint.load(tmp_path / "m.ckpt").model
    with torch.no_grad():
        want = loaded.log_probs(loaded.features(ids)[0])
        got = back.log_probs(back.features(ids)[0])
    assert torch.equal(got, want) and want.shape == (1, ids.shape[1], margs["vocab_size"])


def test_not_an_export_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="model.safetensors, config.json, tokenizer.json missing"):
        load_exported(tmp_path)


def test_export_command_writes_next_to_the_run(tiny_checkpoint):
    res = run_script("export.py", f"ckpt={tiny_checkpoint}")
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tiny_checkpoint.parent / "export" / "model.safetensors").is_file()
    res = run_script("export.py")
    assert (
        res.returncode == 2
        and res.stderr.strip() == "error: no checkpoint given: add ckpt=<checkpoint file or run directory>"
    )
