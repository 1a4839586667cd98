import math

import pytest
import torch

from lm.generation.sampling import check_args, draw, nucleus_mask, probabilities, sample, sample_with_logprob


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def logits():
    return torch.randn(64, 50, generator=gen(0)) * 3  # (B, V)


# hand-made distribution, deliberately not sorted by probability
HAND = torch.tensor([0.15, 0.5, 0.05, 0.2, 0.1])


def kept(top_p, hand=HAND):
    probs = probabilities(hand.log()[None], top_p=top_p)[0]
    return set(torch.nonzero(probs).flatten().tolist())


def test_same_seed_same_tokens_and_different_seed_differs(logits):
    a = sample(logits, generator=gen(1))
    assert torch.equal(a, sample(logits, generator=gen(1)))
    assert not torch.equal(a, sample(logits, generator=gen(2)))


def test_greedy_is_argmax_and_draws_nothing(logits):
    g = gen(3)
    before = g.get_state()
    assert torch.equal(sample(logits, temperature=0.0, greedy=True, generator=g), logits.argmax(-1))
    assert torch.equal(g.get_state(), before)


def test_top_k_1_equals_greedy(logits):
    for seed in range(5):
        assert torch.equal(sample(logits, top_k=1, generator=gen(seed)), sample(logits, greedy=True))


def test_top_k_keeps_k_most_probable(logits):
    probs = probabilities(logits, top_k=5)
    assert ((probs > 0).sum(-1) == 5).all()
    assert torch.equal(probs.topk(5).indices.sort().values, logits.topk(5).indices.sort().values)
    assert torch.allclose(probs.sum(-1), torch.ones(len(probs)))
    assert torch.allclose(probabilities(logits, top_k=10**6), logits.softmax(-1))  # k > V keeps all


@pytest.mark.parametrize(
    "top_p, expected",
    [
        (0.3, {1}),  # 0.5 alone reaches 0.3
        (0.5, {1}),  # ... and exactly 0.5
        (0.51, {1, 3}),
        (0.7, {1, 3}),  # 0.5 + 0.2 reaches 0.7 exactly: 0.15 is not needed
        (0.71, {1, 3, 0}),
        (0.9, {1, 3, 0, 4}),
        (0.96, {0, 1, 2, 3, 4}),
        (1.0, {0, 1, 2, 3, 4}),
    ],
)
def test_top_p_keeps_smallest_set_reaching_p(top_p, expected):
    assert kept(top_p) == expected


def test_top_p_boundary_survives_rounding():
    # one token of 0.5 and 1000 of 0.0005: fp32 rounding over hundreds of tokens must not add or drop a token
    hand = torch.cat([torch.tensor([0.5]), torch.full((1000,), 0.0005)])
    for j in (1, 10, 200, 555, 900, 998):
        assert len(kept(0.5 + 0.0005 * j, hand)) == 1 + j


def test_top_p_renormalises_kept_mass():
    probs = probabilities(HAND.log()[None], top_p=0.7)[0]
    assert torch.allclose(probs, torch.tensor([0, 0.5, 0, 0.2, 0]) / 0.7)


def test_nucleus_mask_per_row():
    probs = torch.tensor([[0.6, 0.3, 0.1], [0.1, 0.3, 0.6]])
    assert nucleus_mask(probs, 0.8).tolist() == [[True, True, False], [False, True, True]]


def test_temperature_scales_logits(logits):
    for t in (0.5, 1.0, 2.0):
        assert torch.allclose(probabilities(logits, temperature=t), (logits / t).softmax(-1), atol=1e-7)
    entropy = [
        -(p * p.clamp_min(1e-30).log()).sum(-1).mean()
        for p in (probabilities(logits, temperature=t) for t in (0.5, 1.0, 2.0))
    ]
    assert entropy[0] < entropy[1] < entropy[2]
    cold = probabilities(torch.tensor([[1.0, 1.1, 0.5]]), temperature=1e-3)
    assert torch.allclose(cold, torch.tensor([[0.0, 1.0, 0.0]]))


def test_draws_follow_the_distribution():
    probs = torch.tensor([0.5, 0.25, 0.125, 0.125, 0.0])
    n = 40_000
    ids = sample(probs.log().expand(n, -1), generator=gen(0))
    freq = torch.bincount(ids, minlength=5).float() / n
    assert freq[4] == 0
    assert torch.allclose(freq, probs, atol=4 * math.sqrt(0.25 / n))


def test_draw_never_picks_a_filtered_token_at_the_edges():
    probs = torch.tensor([[0.0, 0.3, 0.0, 0.7, 0.0]]).expand(3, -1)
    u = torch.tensor([[0.0], [0.3], [1.0]])  # 1.0 is outside [0, 1) but must still land on a kept token
    assert draw(probs, u).tolist() == [1, 3, 3]


def test_two_level_draw_is_the_inverse_cdf_across_blocks():
    g = gen(5)
    probs = torch.rand(1, 1000, generator=g) * (torch.rand(1, 1000, generator=g) < 0.3)  # 70% zeros, V % 128 != 0
    probs[0, 256:512] = 0  # two whole blocks empty
    u = torch.rand(4000, 1, generator=g)
    ids = draw(probs.expand(4000, -1), u)
    cdf = probs[0].double().cumsum(0)
    expected = torch.searchsorted(cdf, u[:, 0].double() * cdf[-1], right=True)
    assert (probs[0, ids] > 0).all()
    assert (ids != expected).sum() <= 4  # only where u lands within rounding of a boundary


def test_per_row_generators_batch_equals_rows_alone(logits):
    batch = sample(logits, temperature=0.8, top_k=20, top_p=0.9, generator=[gen(10 + i) for i in range(len(logits))])
    alone = [
        sample(logits[i], temperature=0.8, top_k=20, top_p=0.9, generator=gen(10 + i)).item()
        for i in range(len(logits))
    ]
    assert batch.tolist() == alone


@pytest.mark.parametrize("kwargs", [{}, dict(temperature=0.7), dict(top_k=5), dict(top_p=0.8), dict(greedy=True)])
def test_sample_with_logprob_is_sample_plus_the_models_logprob(logits, kwargs):
    ids, lp = sample_with_logprob(logits, generator=gen(4), **kwargs)
    assert torch.equal(ids, sample(logits, generator=gen(4), **kwargs))
    torch.testing.assert_close(lp, logits.log_softmax(-1).gather(1, ids[:, None]).squeeze(1), atol=1e-5, rtol=0)


def test_one_dimensional_logits_give_a_scalar():
    assert sample(torch.tensor([0.0, 5.0, 1.0]), greedy=True).dim() == 0


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(temperature=0.0), "temperature"),
        (dict(temperature=-1.0), "temperature"),
        (dict(temperature=float("nan")), "temperature"),
        (dict(top_k=0), "top_k"),
        (dict(top_k=2.5), "top_k"),
        (dict(top_p=0.0), "top_p"),
        (dict(top_p=1.5), "top_p"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, name, logits):
    with pytest.raises(ValueError, match=name):
        sample(logits, **kwargs)


def test_greedy_allows_zero_temperature():
    check_args(temperature=0.0, greedy=True)
