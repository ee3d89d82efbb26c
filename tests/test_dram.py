"""DRAM baseline: exact parameter count (Table Supp.1), shapes, location policy, gradients."""
import pytest
import torch

from saccader.models import create_model, get_model_cfg
from saccader.models import dram as dram_mod
from saccader.models.dram import DRAMOutput, extract_glimpses, multi_resolution_sizes

PAPER_DRAM_PARAMS = 45_610_219  # Table Supp.1, all TF variables incl. BN moving mean/variance


def _count(model):
    params = sum(p.numel() for p in model.parameters())
    stats = sum(b.numel() for n, b in model.named_buffers() if not n.endswith("num_batches_tracked"))
    return params, stats


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return create_model("dram_tiny")


@pytest.fixture(scope="module")
def images():
    torch.manual_seed(1)
    return torch.randn(3, 3, 96, 96)


def test_dram_parameter_count_matches_paper():
    model = create_model("dram")
    params, stats = _count(model)
    assert params + stats == PAPER_DRAM_PARAMS
    # pieces, by arithmetic: slim resnet_v2_50 on 15 channels, TF LSTMs (one bias each), two heads
    assert sum(sum(_count(m)) for m in [model.glimpse_net]) == 23_602_432
    assert sum(p.numel() for p in model.rnn_classification.parameters()) == 4 * 1024 * (2048 + 1024) + 4 * 1024
    assert sum(p.numel() for p in model.rnn_location.parameters()) == 4 * 1024 * (1024 + 1024) + 4 * 1024
    assert model.classifier.weight.shape == (1001, 1024) and model.emission.weight.shape == (2, 1024)
    assert model.cfg.label_offset == 1 and model.cfg.num_classes == 1001
    # parameter groups cover everything exactly once
    n_groups = sum(p.numel() for p in model.classification_parameters()) + sum(
        p.numel() for p in model.location_parameters()
    )
    assert n_groups == params


def test_registry_cfgs():
    cfg = get_model_cfg("dram_tiny")
    assert cfg.input_size == (3, 96, 96) and cfg.glimpse_size == 33 and cfg.num_classes == 10
    assert cfg.label_offset == 0
    assert create_model("dram_tiny", num_classes=7).classifier.out_features == 7


def test_multi_resolution_sizes():
    assert multi_resolution_sizes(224, 77, 3) == [77, 150, 224]
    assert multi_resolution_sizes(96, 33, 3) == [33, 64, 96]


def test_extract_glimpses_matches_reference_rule():
    torch.manual_seed(0)
    img = torch.randn(2, 5, 96, 96)
    loc = torch.tensor([[0.0, 0.0], [-0.65625, 0.5]])
    out = extract_glimpses(img, loc, 33)
    assert out.shape == (2, 5, 33, 33)
    for b in range(2):
        top = int((96 * (loc[b, 0].item() + 3) - 33) / 2) - 96
        left = int((96 * (loc[b, 1].item() + 3) - 33) / 2) - 96
        assert torch.equal(out[b], img[b, :, top : top + 33, left : left + 33])
    # outside the image: nearest edge pixel (the full-image field of view off centre)
    full = extract_glimpses(img, torch.tensor([[0.5, 0.5], [0.5, 0.5]]), 96)
    assert torch.equal(full[:, :, -1], full[:, :, -2])
    assert torch.equal(full[:, :, -1, -1], img[:, :, -1, -1])


def test_tiny_forward_shapes_and_location_range(tiny, images):
    tiny.train()
    torch.manual_seed(0)
    out = tiny(images, num_glimpses=4)
    assert isinstance(out, DRAMOutput)
    assert out.logits.shape == (3, 10) and out.step_logits.shape == (3, 4, 10)
    assert out.locations.shape == (3, 4, 2) and out.location_mean.shape == (3, 4, 2)
    assert out.log_prob.shape == (3, 4)
    s = tiny.location_scale
    assert s == pytest.approx(1 - 33 / 96)
    assert out.locations.abs().max() <= s + 1e-6
    assert out.location_mean.abs().max() <= s + 1e-6
    # training samples differ from the means; "last" prediction is the last step
    assert not torch.allclose(out.locations, out.location_mean)
    assert torch.equal(out.logits, out.step_logits[:, -1])


def test_training_samples_are_clipped_to_location_scale(images):
    torch.manual_seed(0)
    model = create_model("dram_tiny", sampling_std=5.0).train()
    out = model(images, num_glimpses=3)
    s = model.location_scale
    assert out.locations.abs().max() <= s + 1e-6
    assert (out.locations.abs() > s - 1e-6).any()  # wide noise: some samples hit the bound


def test_eval_is_deterministic_and_uses_the_mean(tiny, images):
    tiny.eval()
    with torch.no_grad():
        a = tiny(images, num_glimpses=3)
        b = tiny(images, num_glimpses=3)
    assert torch.equal(a.locations, b.locations) and torch.equal(a.logits, b.logits)
    assert torch.equal(a.locations, a.location_mean)
    tiny.train()


def test_mean_prediction_and_policies(tiny, images):
    tiny.eval()
    with torch.no_grad():
        out = tiny(images, num_glimpses=3, prediction="mean")
        assert torch.allclose(out.logits, out.step_logits.mean(1))
        centre = tiny(images, num_glimpses=2, policy="center")
        assert torch.equal(centre.locations, torch.zeros_like(centre.locations))
    with pytest.raises(ValueError, match="prediction"):
        tiny(images, prediction="max")
    tiny.train()


def test_log_prob_gradient_reaches_emission_not_image(tiny, images):
    tiny.train()
    tiny.zero_grad(set_to_none=True)
    x = images.clone().requires_grad_(True)
    torch.manual_seed(0)
    out = tiny(x, num_glimpses=3)
    out.log_prob.sum().backward(retain_graph=True)
    assert tiny.emission.weight.grad is not None and tiny.emission.weight.grad.abs().sum() > 0
    assert tiny.rnn_location.kernel.weight.grad.abs().sum() > 0
    # the locations are stop-gradient samples: log_prob only reaches the location path
    assert x.grad is None
    out.logits.sum().backward()
    assert tiny.glimpse_net.root.weight.grad.abs().sum() > 0
    assert x.grad is None  # stop-gradient through glimpse extraction


def test_limit_classification_rf_masks_low_resolutions(tiny, images):
    loc = torch.zeros(3, 2)
    full = tiny.glimpse_input(images, loc, use_all=True)
    limited = tiny.glimpse_input(images, loc, use_all=False)
    assert full.shape == limited.shape == (3, 15, 33, 33)
    assert torch.equal(full[:, :5], limited[:, :5])
    # other resolutions: constant per channel, equal to the spatial mean of the full glimpse
    assert torch.allclose(limited[:, 5:], full[:, 5:].mean((2, 3), keepdim=True).expand_as(limited[:, 5:]))
    # position channels of the high-res glimpse: row then column coordinate, increasing
    assert (limited[:, 3, 1:, 0] > limited[:, 3, :-1, 0]).all()
    assert (limited[:, 4, 0, 1:] > limited[:, 4, 0, :-1]).all()


def test_tf_lstm_cell_has_one_bias():
    cell = dram_mod.TFLSTMCell(6, 4)
    assert sum(p.numel() for p in cell.parameters()) == 4 * 4 * (6 + 4) + 4 * 4
    h, (h2, c) = cell(torch.randn(2, 6), cell.zero_state(2, torch.zeros(1)))
    assert h.shape == c.shape == (2, 4) and torch.equal(h, h2)


def test_tiny_dram_can_fit_one_batch():
    """The classification path trains: Adam steps on 8 images with the stage's loss drive their
    loss down and their training accuracy to 100%. Each image carries its class everywhere (a
    class colour plus noise), so the outcome does not hinge on where the sampled glimpses fall
    (with pure-noise images it did: one unlucky location sample, or another thread count's
    rounding, left the loss above the bound)."""
    from saccader.train.presets import resolve_config
    from saccader.train.stages import dram_loss

    torch.manual_seed(0)
    net = create_model("dram_tiny")
    cfg = resolve_config("dram", "tiny")
    g = torch.Generator().manual_seed(0)
    y = torch.arange(8) % 10
    x = torch.randn(10, 3, 1, 1, generator=g)[y] + 0.1 * torch.randn(8, 3, 96, 96, generator=g)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(30):
        loss, metrics = dram_loss(net, net, x, y, cfg)
        losses.append(metrics["xent"].item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert max(losses[-5:]) < 0.1 * losses[0] and metrics["acc"].item() == 1.0
