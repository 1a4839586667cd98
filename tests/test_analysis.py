"""The analyses (lm/analysis/) on planted signals and hand-built models (the command: test_analyze_cli.py)."""

import numpy as np
import pytest
import torch

from lm.analysis import ablation, agreement, gates, gradients, state_probes
from lm.analysis.items import Item, encode_sentences, encode_words, grammar_items, line_item
from lm.data.grammar import Line, generate_text
from lm.data.lexicon import load_lexicon
from lm.data.tokenizer import train_tokenizer
from lm.errors import UserError
from lm.model.rnnlm import RNNLM


def small_model(tokenizer, cell="lstm", hidden=8, layers=2, seed=0):
    torch.manual_seed(seed)
    return RNNLM(
        tokenizer.get_vocab_size(), emb_size=8, hidden_size=hidden, num_layers=layers, cell=cell, dropout=0.0
    ).eval()


# -- state probes ----------------------------------------------------------------------------------------


def planted(n=600, d=16, unit=5, strength=1.5, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, d, generator=g)
    x[:, unit] += strength * (2 * y - 1)
    return x, y


def test_probe_reads_a_signal_planted_in_one_unit():
    x, y = planted()
    acc = state_probes.probe_accuracy(x[:400], y[:400], x[400:], y[400:])
    assert acc > 0.9
    probe = state_probes.fit_probe(x[:400], y[:400])
    w = probe.linear.weight.detach()
    assert (w[1] - w[0]).abs().argmax() == 5  # it reads the planted unit


def test_probe_stays_at_chance_on_shuffled_labels():
    x, y = planted()
    shuffled = y[torch.randperm(len(y), generator=torch.Generator().manual_seed(3))]
    accs = [
        state_probes.probe_accuracy(x[:400], shuffled[:400], x[400:], y[400:]),
        state_probes.probe_accuracy(x[:400], y[:400], x[400:], shuffled[400:]),
    ]
    assert all(0.35 < a < 0.65 for a in accs)


def test_probe_table_finds_the_planted_feature_per_position_on_held_apart_items():
    rng = np.random.default_rng(0)
    n, n_words, hidden = 300, 6, 8
    labels = rng.integers(0, 2, n)
    items = [Item((0,) * (n_words + 1), tuple(range(1, n_words + 1)), 0, n_words, distance=n_words) for _ in range(n)]
    signal = [rng.normal(size=(1, n_words, hidden)) for _ in range(n)]
    noise = [rng.normal(size=(1, n_words, hidden)) for _ in range(n)]
    for s, y in zip(signal, labels):
        s[0, :, 2] += 2.0 * (2 * y - 1)
    rows = state_probes.probe_table({"h": signal, "c": noise}, labels, items, max_offset=10, min_items=40)
    by = {(r["feature"], r["position"]): r for r in rows}
    assert {p for _, p in by} == {"0", "1", "2", "3", "4", "5", "pre"}  # only positions before the target
    for p in ("0", "3", "pre"):
        assert by[("h", p)]["acc"] > 0.9
        assert 0.3 < by[("c", p)]["acc"] < 0.7
        assert 0.3 < by[("h", p)]["shuffled_acc"] < 0.7
        assert by[("h", p)]["n_train"] + by[("h", p)]["n_test"] == n
    assert by[("h", "0")]["n_test"] == 90


def test_control_labels_are_balanced_within_each_true_class():
    labels = np.array([0] * 50 + [1] * 30)
    rows = np.arange(80)
    ctrl = state_probes.control_labels(labels, rows, seed=0)
    assert abs((ctrl[labels == 0] == 0).mean() - 0.5) < 0.05 and abs((ctrl[labels == 1] == 0).mean() - 0.5) < 0.05


def test_state_probes_on_a_model_use_h_and_c_of_every_layer(grammar_tokenizer):
    model = small_model(grammar_tokenizer)
    items, _ = grammar_items(grammar_tokenizer, "agreement", 80, seed=2)
    rows = state_probes.run_probes(model, {"number": items}, ["h", "c"], max_offset=2, min_items=20)
    assert {(r["feature"], r["layer"]) for r in rows} == {("h", 0), ("h", 1), ("c", 0), ("c", 1)}
    assert all(0 <= r["acc"] <= 1 and r["task"] == "number" for r in rows)


# -- unit ablation ---------------------------------------------------------------------------------------


def number_unit_model(tokenizer):
    """A 1-layer LSTM with 2 units: unit 0 stores the number of the last noun (its input gate opens and its
    forget gate closes on nouns; C~ is +1 for plural nouns, -1 for singular ones); unit 1 is dead (all its
    weights zero: C stays 0, so h stays 0). The decoder prefers plural verbs when h_0 > 0."""
    lex = load_lexicon()
    model = RNNLM(tokenizer.get_vocab_size(), emb_size=2, hidden_size=2, num_layers=1, dropout=0.0).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        for word, i in tokenizer.get_vocab().items():
            w = lex.features(word)
            if w is not None and w.pos == "noun":
                model.embedding.weight[i] = torch.tensor([1.0 if w.number == "pl" else -1.0, 1.0])
            if w is not None and w.pos == "verb":
                model.decoder.weight[i, 0] = 5.0 if w.number == "pl" else -5.0
        w_ih, b = model.rnn.weight_ih_l0, model.rnn.bias_ih_l0  # rows [i0 i1 | f0 f1 | g0 g1 | o0 o1]
        w_ih[0, 1], b[0] = 10.0, -5.0  # i_t of unit 0: open on nouns
        w_ih[2, 1], b[2] = -10.0, 5.0  # f_t of unit 0: forget on nouns, keep otherwise
        w_ih[4, 0] = 3.0  # C~_t of unit 0: the noun's number
        b[6] = 5.0  # o_t of unit 0: open
    return model


def agreement_line(text, controller, target):
    return Line(
        text,
        {
            "kind": "agreement",
            "construction": "test",
            "controller": controller,
            "target": target,
            "distance": target - controller,
            "n_attractors": 0,
        },
    )


@pytest.fixture(scope="module")
def number_items(grammar_tokenizer):
    lines = [
        agreement_line(f"the {n} {v} .", 1, 2)
        for n in ("dog", "dogs", "cat", "cats")
        for v in (("runs", "sleeps") if not n.endswith("s") else ("run", "sleep"))
    ]
    lines += [
        agreement_line(f"the {n} near the old {h} {v} .", 1, 6)  # the unit keeps the last noun's number
        for n, h, v in (("dog", "house", "runs"), ("dogs", "houses", "run"), ("cats", "cars", "sleep"))
    ]
    return [line_item(grammar_tokenizer, ln) for ln in lines]


def test_ablating_the_planted_number_unit_costs_accuracy_and_a_dead_unit_does_not(grammar_tokenizer, number_items):
    model = number_unit_model(grammar_tokenizer)
    base, rows = ablation.rank_units(model, number_items)
    assert base["acc"] == 1.0
    by = {(r["layer"], r["unit"]): r for r in rows}
    assert by[(0, 0)]["drop"] == 1.0 and by[(0, 0)]["rank"] == 1  # with h_0 gone, every margin is 0: a tie
    assert by[(0, 1)]["drop"] == 0.0
    assert "1 unit(s)" in ablation.few_units_verdict(base, rows)


def test_batched_ablation_equals_one_unit_at_a_time(grammar_tokenizer):
    model = small_model(grammar_tokenizer, hidden=6)
    items, _ = grammar_items(grammar_tokenizer, "agreement", 40, seed=3)
    units = ablation.all_units(model)
    together = ablation.ablated_margins(model, items, [None, *units], max_rows=10_000) > 0
    for k, unit in enumerate([None, *units[:4], units[-1]]):
        mask = ablation.ablation_mask(model, [unit], 1)[:, 0]  # (L, H)
        alone = agreement.margins(model, items, agreement.explicit(model, mask)) > 0
        assert (together[[None, *units].index(unit)] == alone).all(), unit
    assert (together[0] == (agreement.margins(model, items) > 0)).all()  # no ablation = the fused kernel


# -- gradients through time -------------------------------------------------------------------------------


def test_gradient_norms_of_an_rnn_with_small_recurrent_weights_fall_with_distance(grammar_tokenizer):
    torch.manual_seed(0)
    model = RNNLM(
        grammar_tokenizer.get_vocab_size(),
        emb_size=6,
        hidden_size=6,
        num_layers=1,
        cell="rnn",
        dropout=0.0,
        init_range=0.5,
    ).eval()
    with torch.no_grad():
        model.rnn.weight_hh_l0.copy_(0.3 * torch.eye(6))
    n_words = 10
    ids = tuple(torch.randint(2, grammar_tokenizer.get_vocab_size(), (n_words + 1,)).tolist())
    items = [
        Item(ids, tuple(range(1, n_words + 1)), k, n_words, good=(5,), distance=n_words - k) for k in range(n_words)
    ]
    g = gradients.gradient_norms(model, items)
    order = np.argsort(g["distance"])
    norms = g["norm"][order]
    assert (np.diff(norms) < 0).all(), norms
    assert norms[-1] < 1e-3 * norms[0]  # 0.3 per step and tanh' <= 1: faster than 0.3 ** 9 ~ 2e-5 ... 1e-3
    assert gradients.decay_rate(gradients.by_distance(g["distance"], g["norm"]), min_n=1) < -0.5


def test_gradient_of_a_batch_equals_each_item_alone(grammar_tokenizer):
    model = small_model(grammar_tokenizer, cell="lstm")
    items, _ = grammar_items(grammar_tokenizer, "agreement", 6, seed=4)
    together, _, logp = gradients.item_gradients(model, items)
    for k, it in enumerate(items):
        alone, _, lp = gradients.item_gradients(model, [it])
        assert alone[0] == pytest.approx(together[k], rel=1e-4)
        assert lp[0] == pytest.approx(logp[k], abs=1e-5)


# -- agreement scoring and items ---------------------------------------------------------------------------


def test_margins_sum_the_log_probs_of_multi_token_continuations():
    lines = ["the dogs near the car run .", "the dog runs .", "the cats sleep ."] * 3
    tok = train_tokenizer("char", lines)
    model = small_model(tok, layers=1)
    item = line_item(tok, agreement_line("the dogs near the car run .", 1, 5))
    assert len(item.good) == 4 and len(item.bad) == 5  # " run" / " runs" in characters

    def logp(cont):
        seq = torch.tensor([item.ids + cont])
        lp = model(seq)[0][0].log_softmax(-1)
        return sum(lp[len(item.ids) - 1 + j, t].item() for j, t in enumerate(cont))

    (m,) = agreement.margins(model, [item])
    assert m == pytest.approx(logp(item.good) - logp(item.bad), abs=1e-4)


@pytest.mark.parametrize("kind", ["word", "char", "bpe"])
def test_each_words_last_token_is_found_for_every_tokenizer(kind):
    lines = generate_text(300, "train", 0) + [" ".join(load_lexicon().vocab)]
    tok = train_tokenizer(kind, lines, vocab_size=300 if kind == "bpe" else None)
    words = "the dogs near the cars run .".split()
    ids, last, uncovered = encode_words(tok, words)
    assert ids[0] == tok.token_to_id("<eos>") and len(last) == len(words) and not uncovered
    starts = [1] + [i + 1 for i in last[:-1]]
    assert [tok.decode(list(ids[a : b + 1])).strip() for a, b in zip(starts, last)] == words
    if kind == "bpe":
        assert len(ids) - 1 > len(words)  # some words span several tokens


def test_uncovered_sentence_is_a_user_error(grammar_tokenizer):
    with pytest.raises(UserError, match="cannot cover 'zebras'"):
        encode_sentences(grammar_tokenizer, ["the zebras run ."])


def test_by_distance_bins_and_intervals():
    rows = agreement.by_distance([1, 1, 2, 5, 6], [True, False, True, True, True], bin_width=2)
    assert [(r["lo"], r["hi"], r["n"], r["acc"]) for r in rows] == [(1, 2, 3, 2 / 3), (5, 6, 2, 1.0)]
    assert all(r["ci_lo"] <= r["acc"] <= r["ci_hi"] for r in rows)


# -- gates --------------------------------------------------------------------------------------------------


def test_subject_change_statistics(grammar_tokenizer):
    model = small_model(grammar_tokenizer)
    items, _ = grammar_items(grammar_tokenizer, "gender", 30, construction="subject_change")
    summary, units = gates.subject_change(model, items, top_units=3)
    assert {(r["layer"], r["position"]) for r in summary} == {
        (layer, p) for layer in (0, 1) for p in ("change", "previous_subject", "elsewhere")
    }
    by = {(r["layer"], r["position"]): r for r in summary}
    assert by[(0, "change")]["n_tokens"] == 30
    assert by[(0, "elsewhere")]["n_tokens"] == sum(len(it.ids) - 1 for it in items) - 60
    assert all(0 < r["f_mean"] < 1 and 0 < r["i_mean"] < 1 for r in summary)
    assert len(units) == 6 and "layer 0" in gates.change_verdict(summary)


def test_gates_need_an_lstm(grammar_tokenizer):
    with pytest.raises(UserError, match="LSTM checkpoints only, but .* is a GRU .*exist only in the LSTM"):
        gates.require_cell(small_model(grammar_tokenizer, cell="gru"), ("lstm",), "gates")
