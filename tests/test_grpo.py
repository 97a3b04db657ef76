"""GRPO maths against values worked out by hand on toy batches."""
from __future__ import annotations

import math

import pytest
import torch

from mapkit.train.grpo import aggregate, constant_groups, group_advantages, grpo_loss, k3_kl, loss_units, token_mean

pytestmark = pytest.mark.train


def test_group_advantages_by_hand():
    # group 1: [1, 0, 0, 0] mean 0.25, sample std sqrt((0.75^2 + 3 * 0.25^2) / 3) = 0.5
    # group 2: all equal -> every advantage 0 (and no division blow-up thanks to eps)
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 2.0])
    adv = group_advantages(rewards, 4, "group")
    expected = torch.tensor([1.5, -0.5, -0.5, -0.5, 0, 0, 0, 0])
    assert torch.allclose(adv, expected, atol=1e-5)


def test_group_advantages_batch_and_none_scaling():
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 2.0])
    centred = torch.tensor([0.75, -0.25, -0.25, -0.25, 0, 0, 0, 0])
    assert torch.allclose(group_advantages(rewards, 4, "none"), centred)
    # batch std (sample): mean 1.125; squared deviations 0.015625 + 3 * 1.265625 + 4 * 0.765625 = 6.875; / 7
    batch_std = math.sqrt(6.875 / 7)
    assert torch.allclose(group_advantages(rewards, 4, "batch"), centred / (batch_std + 1e-6), atol=1e-6)
    with pytest.raises(ValueError, match="group, batch or none"):
        group_advantages(rewards, 4, "rank")


def test_constant_groups_flags_all_right_and_all_wrong():
    correct = torch.tensor([1.0, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0])
    assert constant_groups(correct, 4).tolist() == [True, True, False]


def test_k3_kl_by_hand_and_clamp():
    # policy p = 0.5, reference q = 0.25: d = ln q - ln p = -ln 2; exp(d) - d - 1 = 0.5 + ln 2 - 1
    kl = k3_kl(torch.tensor([math.log(0.5)]), torch.tensor([math.log(0.25)]))
    assert kl.item() == pytest.approx(math.log(2) - 0.5, abs=1e-6)
    assert k3_kl(torch.tensor([0.0]), torch.tensor([0.0])).item() == 0.0  # same policy
    assert k3_kl(torch.tensor([-30.0]), torch.tensor([0.0]), clamp=10.0).item() == 10.0


def _ratios(*values):
    """logp, old_logp for 1 x T tokens with the given ratios."""
    old = torch.zeros(1, len(values))
    return torch.log(torch.tensor([values])), old


def test_clipped_surrogate_by_hand():
    # ratios 1.5, 0.5 with A = +1: min(1.5, 1.2) = 1.2, min(0.5, 0.8) = 0.5  -> losses -1.2, -0.5
    logp, old = _ratios(1.5, 0.5)
    parts = grpo_loss(logp, old, torch.tensor([1.0]), torch.ones(1, 2), epsilon=0.2)
    assert torch.allclose(parts.per_token, torch.tensor([[-1.2, -0.5]]), atol=1e-6)
    assert parts.clipped_high.tolist() == [[True, False]] and not parts.clipped_low.any()
    # same ratios with A = -1: min(-1.5, -1.2) = -1.5, min(-0.5, -0.8) = -0.8 -> losses 1.5, 0.8
    parts = grpo_loss(logp, old, torch.tensor([-1.0]), torch.ones(1, 2), epsilon=0.2)
    assert torch.allclose(parts.per_token, torch.tensor([[1.5, 0.8]]), atol=1e-6)
    assert parts.clipped_low.tolist() == [[False, True]] and not parts.clipped_high.any()
    # clip-higher: epsilon_high 0.28 lets the ratio 1.5 count up to 1.28
    parts = grpo_loss(logp, old, torch.tensor([1.0]), torch.ones(1, 2), epsilon=0.2, epsilon_high=0.28)
    assert parts.per_token[0, 0].item() == pytest.approx(-1.28, abs=1e-6)


def test_token_mean_loss_with_padding_kl_and_entropy_by_hand():
    # two sequences, ratio 1 everywhere (on-policy); A = [2, -1]; second sequence has 1 real token of 3
    logp = torch.log(torch.tensor([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]))
    ref = torch.log(torch.tensor([[0.25, 0.5, 0.5], [0.5, 0.9, 0.9]]))
    entropy = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    parts = grpo_loss(logp, logp.detach(), torch.tensor([2.0, -1.0]), mask, ref_logp=ref, beta=0.1,
                      entropy=entropy, entropy_coef=0.01, loss_agg="token-mean")
    kl0 = math.log(2) - 0.5  # first token of sequence 1; the others are on the reference
    # per-token: -A + 0.1 * kl - 0.01 * entropy, over the 4 real tokens
    by_hand = ((-2 + 0.1 * kl0 - 0.01) + (-2 - 0.02) + (-2 - 0.03) + (1 - 0.04)) / 4
    assert parts.loss.item() == pytest.approx(by_hand, abs=1e-6)
    # micro-batches given the step's token count add up to the same token mean
    halves = [grpo_loss(logp[i:i + 1], logp[i:i + 1], torch.tensor([2.0, -1.0])[i:i + 1], mask[i:i + 1],
                        ref_logp=ref[i:i + 1], beta=0.1, entropy=entropy[i:i + 1], entropy_coef=0.01,
                        loss_agg="token-mean", denominator=4).loss
              for i in range(2)]
    assert sum(h.item() for h in halves) == pytest.approx(by_hand, abs=1e-6)


def test_on_policy_gradient_is_advantage_times_score():
    # ratio exactly 1: d loss / d logp_t = -A / n_tokens for every real token
    logp = torch.tensor([[-1.0, -2.0], [-0.5, -0.1]], requires_grad=True)
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    parts = grpo_loss(logp, logp.detach(), torch.tensor([0.5, -2.0]), mask, loss_agg="token-mean")
    parts.loss.backward()
    assert torch.allclose(logp.grad, torch.tensor([[-0.5 / 3, -0.5 / 3], [2.0 / 3, 0.0]]))
    assert parts.clipped_low.sum() == 0 and parts.clipped_high.sum() == 0


def test_token_mean_ignores_padding():
    assert token_mean(torch.tensor([[1.0, 100.0]]), torch.tensor([[1.0, 0.0]])).item() == 1.0


def test_seq_mean_token_mean_loss_by_hand():
    """The release's aggregation: each sequence's token mean, then the mean over sequences.
    Same batch as the token-mean test above: sequence 1 has 3 real tokens, sequence 2 one."""
    logp = torch.log(torch.tensor([[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]]))
    ref = torch.log(torch.tensor([[0.25, 0.5, 0.5], [0.5, 0.9, 0.9]]))
    entropy = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    parts = grpo_loss(logp, logp.detach(), torch.tensor([2.0, -1.0]), mask, ref_logp=ref, beta=0.1,
                      entropy=entropy, entropy_coef=0.01, loss_agg="seq-mean-token-mean")
    kl0 = math.log(2) - 0.5
    seq1 = ((-2 + 0.1 * kl0 - 0.01) + (-2 - 0.02) + (-2 - 0.03)) / 3
    seq2 = (1 - 0.04) / 1
    assert parts.loss.item() == pytest.approx((seq1 + seq2) / 2, abs=1e-6)
    # micro-batches of one sequence given the step's sequence count add up to the same mean
    halves = [grpo_loss(logp[i:i + 1], logp[i:i + 1], torch.tensor([2.0, -1.0])[i:i + 1], mask[i:i + 1],
                        ref_logp=ref[i:i + 1], beta=0.1, entropy=entropy[i:i + 1], entropy_coef=0.01,
                        loss_agg="seq-mean-token-mean", denominator=2).loss for i in range(2)]
    assert sum(h.item() for h in halves) == pytest.approx((seq1 + seq2) / 2, abs=1e-6)
    # the default is the release's aggregation
    default = grpo_loss(logp, logp.detach(), torch.tensor([2.0, -1.0]), mask, ref_logp=ref, beta=0.1,
                        entropy=entropy, entropy_coef=0.01)
    assert default.loss.item() == pytest.approx(parts.loss.item())


def test_on_policy_gradient_per_aggregation_by_hand():
    """d loss / d logp_t = -A_i / (n_seqs * len_i) per sequence (seq-mean-token-mean) vs
    -A_i / n_tokens (token-mean): a 1-token answer weighs 3x a 3-token one per token."""
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    adv = torch.tensor([1.0, 1.0])
    logp = torch.zeros(2, 3, requires_grad=True)
    grpo_loss(logp, logp.detach(), adv, mask, loss_agg="seq-mean-token-mean").loss.backward()
    assert torch.allclose(logp.grad, torch.tensor([[-1 / 6, -1 / 6, -1 / 6], [-1 / 2, 0.0, 0.0]]))
    logp.grad = None
    grpo_loss(logp, logp.detach(), adv, mask, loss_agg="token-mean").loss.backward()
    assert torch.allclose(logp.grad, torch.tensor([[-1 / 4, -1 / 4, -1 / 4], [-1 / 4, 0.0, 0.0]]))


def test_aggregate_skips_empty_rows_and_counts_units():
    values = torch.tensor([[2.0, 4.0], [9.0, 9.0], [6.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0], [0.0, 0.0], [1.0, 0.0]])  # row 2 dropped (weight 0)
    assert aggregate(values, mask, "seq-mean-token-mean").item() == pytest.approx((3.0 + 6.0) / 2)
    assert aggregate(values, mask, "token-mean").item() == pytest.approx((2 + 4 + 6) / 3)
    assert (loss_units(mask, "seq-mean-token-mean"), loss_units(mask, "token-mean")) == (2.0, 3.0)
    with pytest.raises(ValueError, match="seq-mean-token-mean, token-mean"):
        aggregate(values, mask, "sum")


def test_zero_std_groups_by_reward_not_correctness():
    # all wrong but with detail credit: rewards differ, so the group carries signal and is kept
    rewards = torch.tensor([0.4, 0.1, 0.0, 0.0, 15.0, 15.0, 15.0, 15.0])
    assert constant_groups(rewards, 4).tolist() == [False, True]
