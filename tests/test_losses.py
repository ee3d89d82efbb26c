"""Losses of the training stages: hand-computed values, gradient signs, the L2 filter."""
import math

import pytest
import torch
import torch.nn as nn

from saccader import losses


def test_normalized_l2_is_mean_of_squares_over_all_weights():
    a = torch.tensor([1.0, 2.0, 3.0])
    b = torch.tensor([[4.0]])
    # one mean over the 4 weights together, not a mean of per-tensor means
    assert losses.normalized_l2([a, b]).item() == pytest.approx((1 + 4 + 9 + 16) / 4)
    torch.manual_seed(0)
    ws = [torch.randn(5, 3), torch.randn(7)]
    flat = torch.cat([w.flatten() for w in ws])
    assert torch.allclose(losses.normalized_l2(ws), flat.pow(2).mean())
    assert losses.normalized_l2([]).item() == 0.0


def test_l2_parameters_keeps_bn_gamma_beta_and_drops_layer_biases():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, bias=True), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))
    kept = {id(p) for p in losses.l2_parameters(net)}
    assert id(net[0].weight) in kept and id(net[3].weight) in kept
    assert id(net[1].weight) in kept and id(net[1].bias) in kept  # TF "batch_normalization/gamma|beta"
    assert id(net[0].bias) not in kept and id(net[3].bias) not in kept
    net[0].weight.requires_grad_(False)
    assert id(net[0].weight) not in {id(p) for p in losses.l2_parameters(net)}


def _l2_names(net):
    ids = {id(p) for p in losses.l2_parameters(net)}
    return {n for n, p in net.named_parameters() if id(p) in ids}


def test_l2_parameters_of_the_saccader_are_the_official_filter():
    """BagNet and attention BNs are TF-layers ``batch_normalization`` (no "Norm" in the name): kept;
    only the mixing conv's and logits2d's biases go."""
    from saccader.models import create_model

    net = create_model("saccader33_tiny")
    names = {n for n, _ in net.named_parameters()}
    assert names - _l2_names(net) == {"mix.bias", "representation.logits2d.bias"}
    assert {"representation.stem.1.weight", "representation.stem.1.bias", "attention.1.weight",
            "representation.groups.0.0.bn_downsample.bias", "cell.attention_weights.weight"} <= _l2_names(net)


def test_l2_parameters_of_dram_drop_the_slim_conv_batchnorms():
    """slim names the BN of conv1/conv2 of a bottleneck ``conv1/BatchNorm``: excluded by "Norm";
    ``preact`` and ``postnorm`` are kept; biases (convs, LSTM kernels, dense layers) go."""
    from saccader.models import create_model
    from saccader.train.distributed import convert_sync_batchnorm

    net = create_model("dram_tiny")
    names = {n for n, _ in net.named_parameters()}
    kept = _l2_names(net)
    expected = {n for n in names if not n.endswith("bias") and ".bn1." not in n and ".bn2." not in n}
    expected |= {n for n in names if n.endswith("bias") and (".preact." in n or n.startswith("glimpse_net.postnorm."))}
    assert kept == expected
    assert "glimpse_net.blocks.0.bn1.weight" not in kept and "glimpse_net.blocks.0.bn2.bias" not in kept
    assert {"glimpse_net.blocks.0.preact.weight", "glimpse_net.blocks.0.preact.bias",
            "glimpse_net.postnorm.weight", "glimpse_net.postnorm.bias", "glimpse_net.root.weight",
            "rnn_classification.kernel.weight", "classifier.weight", "emission.weight"} <= kept
    assert not {"glimpse_net.root.bias", "glimpse_net.blocks.0.conv3.bias", "glimpse_net.blocks.0.shortcut.bias",
                "rnn_classification.kernel.bias", "classifier.bias"} & kept
    # the same set once the BNs are converted for DDP (the exemption sits on the parent block)
    assert _l2_names(convert_sync_batchnorm(net, torch.device("cpu"))) == expected


def test_per_location_xent_hand_value():
    # 2 classes, 1x2 grid, one image of class 0: cell 0 logits (0, 0) -> log 2; cell 1 logits (ln 3, 0) -> log(4/3)
    logits2d = torch.zeros(1, 2, 1, 2)
    logits2d[0, 0, 0, 1] = math.log(3.0)
    labels = torch.tensor([0])
    expected = (math.log(2.0) + math.log(4.0 / 3.0)) / 2
    assert losses.per_location_xent(logits2d, labels).item() == pytest.approx(expected, rel=1e-6)
    # CE of the mean logits: mean = (ln3/2, 0) -> -log(sqrt3 / (sqrt3 + 1))
    expected_mean = -math.log(math.sqrt(3) / (math.sqrt(3) + 1))
    assert losses.mean_logits_xent(logits2d, labels).item() == pytest.approx(expected_mean, rel=1e-6)


def test_location_pretraining_loss_hand_value_and_masking():
    logits = torch.zeros(1, 2, 4)  # B=1, T=2, N=4 cells
    logits[0, 0, 2] = math.log(3.0)  # step 0: p(cell 2) = 3/6
    targets = torch.tensor([[2, 1]])
    expected = (-math.log(0.5) + -math.log(1 / 4)) / 2
    assert losses.location_pretraining_loss(logits, targets).item() == pytest.approx(expected, rel=1e-6)
    # a masked (already visited) target: huge loss, bounded gradient (softmax - onehot)
    masked = torch.zeros(1, 1, 4, requires_grad=True)
    value = losses.location_pretraining_loss(masked + torch.tensor([0.0, -1e5, 0.0, 0.0]), torch.tensor([[1]]))
    value.backward()
    assert value.item() > 1e4
    assert masked.grad.abs().max().item() <= 1.0 + 1e-6


def test_reinforce_discrete_hand_value():
    # B=2, T=1, N=2; uniform logits -> log pi = log 0.5; rewards (1, 0) -> advantages (0.5, -0.5)
    logits = torch.zeros(2, 1, 2)
    idx = torch.tensor([[0], [1]])
    loss = losses.reinforce_discrete(logits, idx, torch.tensor([1.0, 0.0]))
    assert loss.item() == pytest.approx(-(0.5 * math.log(0.5) - 0.5 * math.log(0.5)) / 2, abs=1e-7)
    # equal rewards: zero advantage, zero loss and zero gradient
    logits = torch.randn(3, 4, 5, requires_grad=True)
    loss = losses.reinforce_discrete(logits, torch.randint(0, 5, (3, 4)), torch.ones(3))
    loss.backward()
    assert loss.item() == 0.0 and logits.grad.abs().max().item() == 0.0


def test_reinforce_discrete_gradient_raises_logit_of_rewarded_action():
    torch.manual_seed(0)
    logits = torch.randn(4, 3, 6, requires_grad=True)
    idx = torch.randint(0, 6, (4, 3))
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0])  # only image 0 was right
    losses.reinforce_discrete(logits, idx, rewards).backward()
    for t in range(3):
        # gradient descent raises the sampled logit of the rewarded image ...
        assert logits.grad[0, t, idx[0, t]] < 0
        # ... and lowers the sampled logit of the others (below-mean reward)
        assert logits.grad[1, t, idx[1, t]] > 0
    # one SGD step increases log pi of the rewarded action
    before = torch.log_softmax(logits.detach()[0, 0], -1)[idx[0, 0]]
    after = torch.log_softmax((logits - 0.5 * logits.grad).detach()[0, 0], -1)[idx[0, 0]]
    assert after > before


def test_reinforce_discrete_matches_official_mean_over_b_and_t():
    torch.manual_seed(1)
    logits, idx, r = torch.randn(3, 2, 5), torch.randint(0, 5, (3, 2)), torch.tensor([1.0, 0.0, 1.0])
    logp = torch.log_softmax(logits, -1).gather(-1, idx[..., None])[..., 0]
    adv = (r - r.mean())[:, None]
    assert losses.reinforce_discrete(logits, idx, r).item() == pytest.approx(-(adv * logp).mean().item(), rel=1e-6)
    # per-step rewards give the same for identical columns
    assert losses.reinforce_discrete(logits, idx, r[:, None].expand(3, 2)).item() == pytest.approx(
        losses.reinforce_discrete(logits, idx, r).item(), rel=1e-6)


def test_reinforce_gaussian_hand_value_and_sign():
    mean = torch.zeros(2, 1, 2, requires_grad=True)
    loc = torch.tensor([[[0.1, 0.0]], [[-0.1, 0.0]]])  # sampled locations
    logp = torch.distributions.Normal(mean, 0.1).log_prob(loc)  # (B, T, 2): summed inside
    rewards = torch.tensor([1.0, 0.0])
    loss = losses.reinforce_gaussian(logp, rewards)
    lp = torch.distributions.Normal(0.0, 0.1).log_prob(torch.tensor(0.1)) + torch.distributions.Normal(0.0, 0.1).log_prob(torch.tensor(0.0))
    assert loss.item() == pytest.approx(-(0.5 * lp - 0.5 * lp).item() / 2, abs=1e-6)
    loss.backward()
    # descent moves the mean of the rewarded image towards its sample (+0.1), away for the other
    assert mean.grad[0, 0, 0] < 0 and mean.grad[1, 0, 0] < 0


def test_correct_rewards():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [5.0, 0.0]])
    labels = torch.tensor([0, 0, 0])
    assert losses.correct_rewards(logits, labels).tolist() == [1.0, 0.0, 1.0]
    assert losses.correct_rewards(logits, labels, use_punishment=True).tolist() == [1.0, -1.0, 1.0]
