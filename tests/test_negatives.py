import random

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from conftest import quiet_trainer
from lm.data.datamodule import LMDataModule
from lm.errors import UserError
from lm.training.module import LanguageModel
from lm.training.negatives import hinge, partner_table, third_person_form, verb_pairs

SGD = {"_target_": "torch.optim.SGD", "_partial_": True, "lr": 0.5}
ADAM = {"_target_": "torch.optim.Adam", "_partial_": True, "lr": 0.01}
STEPS = 150


def stream(text: str, vocab: dict) -> np.ndarray:
    return np.array([vocab.setdefault(w, len(vocab)) for w in text.split()])


def test_third_person_form_covers_s_es_and_ies():
    assert third_person_form("see") == "sees" and third_person_form("watch") == "watches"
    assert third_person_form("carry") == "carries" and third_person_form("play") == "plays"  # a vowel before y
    assert third_person_form("go") == "goes" and third_person_form("kiss") == "kisses"
    assert third_person_form("us") == "uss"  # "uses" belongs to use


def test_verb_pairs_keep_verbs_and_leave_out_nouns_and_rare_words():
    vocab = {}
    text = (
        "he sees it . to see them . she walks home . to walk far . the dogs bark . a dog ran . "
        "the books fell . to book it . she reads . he put it down . to put it . she puts it . "
    ) * 30 + "he hires me . to hire "  # hires: seen once, below min_count
    ids = stream(text, vocab)
    pairs = verb_pairs(vocab, ids, min_count=20)
    assert ("sees", "see") in pairs and ("walks", "walk") in pairs
    assert ("dogs", "dog") not in pairs  # never after he / she / it, never after to
    assert ("books", "book") not in pairs  # "to book" qualifies the stem, but "books" never follows a pronoun
    assert ("reads", "read") not in pairs  # "read" never follows to
    assert ("puts", "put") not in pairs  # "he put": a past tense like the bare form, where "puts" is no error
    assert all(form != "hires" for form, _ in pairs)


def test_verb_pairs_take_the_most_frequent_stem():
    vocab = {}
    ids = stream("he makes it . to make it . to make . to mak it . " * 30, vocab)
    assert ("makes", "make") in verb_pairs(vocab, ids, min_count=20)
    assert ("makes", "mak") not in verb_pairs(vocab, ids, min_count=20)


def test_partner_table_maps_pairs_both_ways_and_her_to_nothing():
    vocab = {w: i for i, w in enumerate("is are he she his him her himself herself was dog".split())}
    table, scale, _, used = partner_table(vocab, {"agreement": 3.0, "gender": 0.5})
    scale = scale[0]  # the scale away from a non-finite cue
    assert table[vocab["is"]] == vocab["are"] and table[vocab["are"]] == vocab["is"]
    assert table[vocab["she"]] == vocab["he"] and table[vocab["herself"]] == vocab["himself"]
    assert table[vocab["his"]] == vocab["her"] and table[vocab["him"]] == vocab["her"]
    assert table[vocab["her"]] == -1 and table[vocab["dog"]] == -1
    assert table[vocab["was"]] == -1  # "were" is not in the vocabulary: the pair is left out
    assert ("was", "were") not in used
    assert scale[vocab["are"]] == 3.0 and scale[vocab["she"]] == scale[vocab["him"]] == 0.5
    assert scale[vocab["her"]] == scale[vocab["dog"]] == scale[vocab["was"]] == 0.0  # no partner, no hinge
    for only_gender in (["gender"], {"agreement": 0, "gender": 1}):  # a list, or a scale of 0 leaving a group out
        table, scale, _, _ = partner_table(vocab, only_gender)
        assert table[vocab["is"]] == -1 and table[vocab["he"]] == vocab["she"] and scale[0, vocab["he"]] == 1.0


def test_after_a_nonfinite_cue_only_the_pronouns_keep_their_hinge():
    vocab = {w: i for i, w in enumerate("is are have has he she to To will t dog".split())}
    table, scale, row, _ = partner_table(vocab, {"agreement": 3.0, "gender": 0.5})
    assert row[vocab["to"]] == row[vocab["To"]] == row[vocab["will"]] == row[vocab["t"]] == 1
    assert row[vocab["dog"]] == row[vocab["he"]] == 0
    assert scale[1, vocab["have"]] == scale[1, vocab["is"]] == 0.0  # "to have", "will have": no number
    assert scale[0, vocab["have"]] == 3.0 and scale[1, vocab["he"]] == scale[0, vocab["he"]] == 0.5  # "to him"
    _, scale, _, _ = partner_table(vocab, {"agreement": 3.0}, finite_only=False)
    assert torch.equal(scale[0], scale[1])


def test_person_cues_drop_the_verbs_hinge_after_i_and_you_but_keep_the_pronouns():
    vocab = {w: i for i, w in enumerate("I have has told him her".split())}
    ids = stream("he sees . she sees . to see . they see . i see . you see . " * 30, vocab)
    for person_cues, after_i in [(False, 1.0), (True, 0.0)]:
        _, scale, row, _ = partner_table(vocab, {"agreement": 1.0, "gender": 1.0}, ids, person_cues=person_cues)
        assert scale[row[vocab["i"]], vocab["see"]] == scale[row[vocab["I"]], vocab["have"]] == after_i
        assert scale[row[vocab["you"]], vocab["sees"]] == after_i
        assert scale[row[vocab["they"]], vocab["see"]] == scale[row[vocab["he"]], vocab["sees"]] == 1.0
        assert scale[row[vocab["to"]], vocab["see"]] == 0.0  # finite_only, either way
        assert scale[row[vocab["you"]], vocab["him"]] == 1.0  # "told you him": the pronouns keep theirs


def test_balance_gives_both_sides_of_a_pair_the_same_total_weight():
    vocab = {}
    ids = stream(". he saw him and her . he is . he is . she is . they are . to have . i have . it has . " * 5, vocab)
    _, plain, row, _ = partner_table(vocab, {"agreement": 2.0, "gender": 1.0}, ids)
    _, scale, _, _ = partner_table(vocab, {"agreement": 2.0, "gender": 1.0}, ids, balance=True)
    hinged = plain[row[torch.as_tensor(ids[:-1])], torch.as_tensor(ids[1:])] > 0
    for a, b in [("he", "she"), ("is", "are"), ("has", "have")]:
        mass = [(scale[0, vocab[w]] * (torch.as_tensor(ids[1:]) == vocab[w])[hinged].sum()).item() for w in (a, b)]
        assert mass[0] == pytest.approx(mass[1])
    assert scale[0, vocab["she"]] == pytest.approx(20 / (2 * 5))  # 15 he, 5 she: 3 times the weight of "he"
    assert scale[0, vocab["have"]] == pytest.approx(2.0)  # "to have" has no hinge: one "have" to count, like "has"
    assert scale[0, vocab["him"]] == 1.0  # one-way: nothing to balance against


def test_a_cased_vocabulary_pairs_the_capitalised_forms_too():
    vocab = {w: i for i, w in enumerate("He She he she Is are".split())}
    table, _, _, used = partner_table(vocab, ["agreement", "gender"])
    assert table[vocab["He"]] == vocab["She"] and table[vocab["she"]] == vocab["he"]
    assert table[vocab["Is"]] == -1  # "Are" is missing
    assert ("He", "She") in used and ("he", "she") in used


@pytest.mark.parametrize("groups", [["tense"], {"tense": 1.0}, {"agreement": -1.0}, {"gender": "high"}])
def test_an_unknown_group_or_a_bad_scale_is_a_user_error(groups):
    with pytest.raises(UserError, match="negatives.groups"):
        partner_table({"is": 0}, groups)


def test_hinge_is_zero_beyond_the_margin_and_linear_inside_it():
    good, bad = torch.tensor([-1.0, -1.0, -5.0]), torch.tensor([-12.0, -3.0, -1.0])
    assert hinge(good, bad, 10.0).tolist() == [0.0, 8.0, 14.0]


def agreement_corpus(root, n=400, seed=0):
    """'the dog <fillers> is' / 'the dogs <fillers> are': the verb's number is the subject's, filler between."""
    root.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    fillers = "near the old big red house with a tree".split()
    lines = []
    for _ in range(n):
        plural = rng.random() < 0.5
        middle = " ".join(rng.choices(fillers, k=rng.randint(0, 4)))
        lines.append(f"the {'dogs' if plural else 'dog'} {middle} {'are' if plural else 'is'} here .")
    for split in ("train", "valid", "test"):
        (root / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return root


def make_run(tmp_path, adaptive: bool):
    dm = LMDataModule(
        {"source": "text", "dir": str(agreement_corpus(tmp_path)), "batch_size": 4, "eval_batch_size": 2, "bptt": 8},
        {"kind": "word"},
        tmp_path / "cache",
    )
    tok = dm.prepare()
    model = {"vocab_size": tok.get_vocab_size(), "emb_size": 16, "hidden_size": 16, "num_layers": 1, "dropout": 0.0}
    if adaptive:  # is and are in different clusters: the cutoff falls between their frequency ranks
        vocab = tok.get_vocab()
        model |= {"softmax": "adaptive", "cutoffs": [max(vocab["is"], vocab["are"])]}
    return dm, tok, model


@pytest.mark.parametrize("adaptive", [False, True])
def test_the_negative_loss_is_the_hinge_over_partnered_tokens_per_token(tmp_path, adaptive):
    dm, tok, model = make_run(tmp_path, adaptive)
    module = LanguageModel(model, SGD, negatives={"weight": 1.0, "margin": 3.0, "groups": ["agreement"]})
    module.partners, scale, _, _ = partner_table(tok.get_vocab(), {"agreement": 2.5})
    tokens = torch.as_tensor(dm.ids["train"][:33].astype(np.int64)).view(1, -1)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    sites = module._hinge_sites(inputs, targets)
    nll, _, partner_logp = module._forward_nll(inputs, targets, "train", sites[:2])  # one pass for both words
    value, share = module._negative_loss(nll, sites, partner_logp)
    feats, _ = module.model.features(inputs)
    logp = module.model.log_probs(feats)[0]  # (T, V): the whole distribution, for a count by hand
    assert nll[0].tolist() == pytest.approx((-logp.gather(1, targets.T)[:, 0]).tolist(), rel=1e-5)
    vocab = tok.get_vocab()
    expected, partnered = 0.0, 0
    for t, target in enumerate(targets[0].tolist()):
        word = tok.id_to_token(target)
        if word in ("is", "are"):
            other = vocab["are" if word == "is" else "is"]
            expected += max(0.0, 3.0 - (logp[t, target] - logp[t, other]).item())
            partnered += 1
    assert partnered > 0
    assert value.item() == pytest.approx(expected / targets.numel(), rel=1e-5)
    assert share == pytest.approx(partnered / targets.numel())
    module.partner_scale = scale  # the group's scale multiplies each of its terms
    sites = module._hinge_sites(inputs, targets)
    assert module._negative_loss(nll, sites, partner_logp)[0].item() == pytest.approx(2.5 * value.item(), rel=1e-5)


def test_the_hinge_skips_the_tokens_whose_previous_word_selects_a_zero_scale(tmp_path):
    dm, tok, model = make_run(tmp_path, adaptive=False)
    module = LanguageModel(model, SGD, negatives={"weight": 1.0, "margin": 3.0, "groups": ["agreement"]})
    vocab = tok.get_vocab()
    module.partners, module.partner_scale, _, _ = partner_table(vocab, {"agreement": 2.0})
    module.partner_row = torch.zeros(len(vocab), dtype=torch.long)
    module.partner_row[vocab["tree"]] = 1  # stands in for "to": row 1 has the verbs at 0
    tokens = torch.as_tensor(dm.ids["train"][:400].astype(np.int64)).view(1, -1)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    verbs = (targets == vocab["is"]) | (targets == vocab["are"])
    after_tree = verbs & (inputs == vocab["tree"])
    assert after_tree.any() and (verbs & ~after_tree).any()
    positions, partners, _ = module._hinge_sites(inputs, targets)
    assert positions.tolist() == (verbs & ~after_tree).flatten().nonzero()[:, 0].tolist()
    assert partners.tolist() == module.partners[targets.flatten()[positions]].tolist()


def mean_gap(module, dm, tok) -> float:
    """Mean of log p(verb) - log p(other number's verb) at every is / are of the validation text."""
    vocab = tok.get_vocab()
    ids = torch.as_tensor(dm.ids["valid"].astype(np.int64)).view(1, -1)
    module.eval()
    with torch.no_grad():
        logp = module.model.log_probs(module.model.features(ids[:, :-1])[0])[0]
    targets = ids[0, 1:]
    gaps = []
    for word, other in (("is", "are"), ("are", "is")):
        at = targets == vocab[word]
        gaps.append(logp[at, vocab[word]] - logp[at, vocab[other]])
    return torch.cat(gaps).mean().item()


def test_training_with_negatives_widens_the_verb_gap_more_than_the_nll_alone(tmp_path):
    gaps = {}
    for weight in (0.0, 1.0):
        pl.seed_everything(0)
        dm, tok, model = make_run(tmp_path / str(weight), adaptive=False)
        module = LanguageModel(model, ADAM, negatives={"weight": weight, "margin": 10.0, "groups": ["agreement"]})
        module.tokenizer = tok
        module.partners, module.partner_scale, module.partner_row, _ = partner_table(tok.get_vocab(), ["agreement"])
        quiet_trainer(max_steps=STEPS, limit_val_batches=0).fit(module, datamodule=dm)
        gaps[weight] = mean_gap(module, dm, tok)
    assert gaps[1.0] > gaps[0.0] + 2.0, gaps  # measured: 0.0 / 4.1 after 100 steps, 1.0 / 11.8 after 300
    tables = {"partners", "partner_scale", "partner_row"}
    assert not tables & set(module.state_dict())  # rebuilt by each run, never in a checkpoint
