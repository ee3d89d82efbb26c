"""BagNet, Saccader and the policies: exact parameter counts, receptive field, the cell's rules."""
import pytest
import torch

from saccader import losses
from saccader.models import create_model, get_model_cfg, list_models
from saccader.models.bagnet import BagNet, BagNetConfig
from saccader.models.policies import (POLICIES, center_cells, ordered_targets, random_cells, sobel_cells)
from saccader.report.reference import paper_table
from saccader.report.summary import parameter_counts

# Table Supp.1 (counting BN running statistics) and the trainable counts of SPEC 2.8
EXACT = {"bagnet77_lowd": (20_574_249, 20_628_393), "saccader77": (35_523_625, 35_583_913)}


@pytest.mark.parametrize("name", sorted(EXACT))
def test_exact_parameter_counts(name):
    counts = parameter_counts(create_model(name))
    assert (counts["trainable"], counts["with_bn_statistics"]) == EXACT[name]


def test_counts_agree_with_the_paper_data_file():
    table = paper_table("parameter_counts")
    for _, row in table.dropna(subset=["registry_name"]).iterrows():
        if row["registry_name"] in EXACT:
            assert EXACT[row["registry_name"]][1] == int(row["parameters"])


def test_usual_shortcut_bn_has_the_same_count():
    # moving the downsample BN to the shortcut keeps the number of parameters
    a = parameter_counts(create_model("bagnet77_lowd"))
    b = parameter_counts(create_model("bagnet77_lowd", downsample_bn_on_main=False))
    assert a == b
    # 1000 classes: 513 fewer parameters (SPEC 6.1 item 2)
    c = parameter_counts(create_model("bagnet77_lowd", num_classes=1000))
    assert a["trainable"] - c["trainable"] == 513


def test_bagnet77_grid_and_outputs():
    net = create_model("bagnet77_lowd").eval()
    with torch.no_grad():
        out = net(torch.randn(1, 3, 224, 224))
    assert out["features2d"].shape == (1, 2048, 19, 19)
    assert out["features2d_lowd"].shape == (1, 512, 19, 19)
    assert out["logits2d"].shape == (1, 1001, 19, 19)
    assert torch.allclose(out["logits"], out["logits2d"].mean(dim=(2, 3)))
    cfg = get_model_cfg("bagnet77_lowd")
    assert (cfg.grid_size, cfg.receptive_field, cfg.stride, cfg.num_classes) == (19, 77, 8, 1001)


def _randomize_bn(net):
    g = torch.Generator().manual_seed(0)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.weight.data = torch.randn(m.weight.shape, generator=g)
            m.bias.data = torch.randn(m.bias.shape, generator=g)


@pytest.mark.parametrize("name, size, cell", [("bagnet33_tiny", 96, (3, 5)), ("bagnet77_lowd", 224, (7, 11))])
def test_receptive_field_by_gradient_support(name, size, cell):
    """The gradient of one output cell w.r.t. the image is non-zero exactly inside its RF box."""
    net = create_model(name).eval()
    _randomize_bn(net)  # zero-initialized BN gammas would hide the residual branches
    x = torch.randn(1, 3, size, size, requires_grad=True)
    out = net(x)["logits2d"]
    i, j = cell
    out[0, :, i, j].sum().backward()
    support = x.grad[0].abs().sum(0) > 0
    rows = support.any(1).nonzero().flatten()
    cols = support.any(0).nonzero().flatten()
    rf, stride = net.receptive_field, net.stride
    assert (rows.min().item(), rows.max().item()) == (stride * i, stride * i + rf - 1)
    assert (cols.min().item(), cols.max().item()) == (stride * j, stride * j + rf - 1)


def test_bagnet_rejects_small_images_and_bad_config():
    net = create_model("bagnet33_tiny")
    with pytest.raises(ValueError, match="receptive field"):
        net(torch.randn(1, 3, 20, 20))
    with pytest.raises(ValueError, match="one entry per group"):
        BagNetConfig(kernel3=(2, 2, 2))
    with pytest.raises(ValueError, match="unknown model 'saccader78'"):
        create_model("saccader78")


# ------------------------------------------------------------------------------------------------
# the Saccader
# ------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = create_model("saccader33_tiny")
    _randomize_bn(model)
    return model


@pytest.fixture(scope="module")
def images():
    return torch.randn(4, 3, 96, 96, generator=torch.Generator().manual_seed(1))


def test_outputs_and_mean_of_step_logits(tiny, images):
    tiny.eval()
    out = tiny(images, num_glimpses=5)
    assert out.logits.shape == (4, 10) and out.step_logits.shape == (4, 5, 10)
    assert out.indices.shape == (4, 5) and out.location_logits.shape == (4, 5, 64)
    assert torch.allclose(out.logits, out.step_logits.mean(1))
    cells = out.logits2d.flatten(2)  # (B, C, N)
    for b in range(4):
        for t in range(5):
            assert torch.equal(out.step_logits[b, t], cells[b, :, out.indices[b, t]])


def test_evaluation_is_argmax_and_never_revisits(tiny, images):
    tiny.eval()
    out = tiny(images, num_glimpses=64)  # every cell of the 8 x 8 grid
    for row in out.indices:
        assert len(set(row.tolist())) == 64
    again = tiny(images, num_glimpses=64)
    assert torch.equal(out.indices, again.indices)
    # the first choice is the argmax of the unmasked location logits; visited cells are masked
    assert torch.equal(out.indices[:, 0], out.location_logits[:, 0].argmax(-1))
    assert (out.location_logits[:, 1].gather(1, out.indices[:, :1]) < -1e4).all()


def test_training_samples_distinct_cells(tiny, images):
    tiny.train()
    torch.manual_seed(0)
    a = tiny(images, num_glimpses=12).indices
    b = tiny(images, num_glimpses=12).indices
    tiny.eval()
    assert not torch.equal(a, b)
    for row in a:
        assert len(set(row.tolist())) == 12


def test_forced_indices_teacher_forcing(tiny, images):
    tiny.eval()
    forced = torch.stack([torch.randperm(64)[:6] for _ in range(4)])
    out = tiny(images, num_glimpses=6, forced_indices=forced)
    assert torch.equal(out.indices, forced)
    # step t's logits are masked exactly at the forced cells of steps < t
    assert (out.location_logits[:, 3].gather(1, forced[:, :3]) < -1e4).all()


def test_reinforce_reaches_location_parameters_only_when_detached(tiny, images):
    tiny.train()
    out = tiny(images, num_glimpses=6, detach_representation=True)
    assert not out.indices.requires_grad
    rewards = torch.tensor([1.0, 0.0, 1.0, 0.0])
    tiny.zero_grad(set_to_none=True)
    losses.reinforce_discrete(out.location_logits, out.indices, rewards).backward()
    loc = list(tiny.location_parameters())
    assert all(p.grad is not None for p in loc)
    assert sum(p.grad.abs().sum() for p in loc) > 0
    assert all(p.grad is None for p in tiny.representation.parameters())
    # without detaching, REINFORCE also trains the BagNet through the what/where features
    tiny.zero_grad(set_to_none=True)
    out = tiny(images, num_glimpses=6)
    losses.reinforce_discrete(out.location_logits, out.indices, rewards).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in tiny.representation.parameters())
    tiny.eval()


def test_location_pretraining_loss_does_not_reach_the_representation(tiny, images):
    tiny.train()
    tiny.zero_grad(set_to_none=True)
    out = tiny(images, num_glimpses=12, detach_representation=True)
    targets = ordered_targets(out.logits2d, 12)
    losses.location_pretraining_loss(out.location_logits, targets).backward()
    assert all(p.grad is None for p in tiny.representation.parameters())
    assert all(p.grad is not None for p in tiny.location_parameters())
    tiny.eval()


def test_soft_attention(tiny, images):
    tiny.eval()
    out = tiny(images, num_glimpses=3, soft_attention=True)
    probs = torch.softmax(out.location_logits[:, 0], -1)  # (B, N)
    expected = torch.einsum("bn,bcn->bc", probs, out.logits2d.flatten(2))
    assert torch.allclose(out.step_logits[:, 0], expected, atol=1e-5)


def test_location_parameters_are_attention_mix_and_cell():
    model = create_model("saccader77")
    n_loc = sum(p.numel() for p in model.location_parameters())
    n_rep = sum(p.numel() for p in model.representation_parameters())
    assert n_loc == 35_523_625 - 20_574_249 and n_rep == 20_574_249
    assert model.cell.attention_weights.weight.numel() == 512  # the cell's only weights


# ------------------------------------------------------------------------------------------------
# policies
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_has_the_same_outputs(tiny, images, policy):
    tiny.eval()
    out = tiny(images, num_glimpses=4, policy=policy)
    assert out.indices.shape == (4, 4) and out.step_logits.shape == (4, 4, 10)
    assert torch.allclose(out.logits, out.step_logits.mean(1))
    assert int(out.indices.min()) >= 0 and int(out.indices.max()) < 64


def test_unknown_policy(tiny, images):
    with pytest.raises(ValueError, match="unknown policy 'greedy'"):
        tiny(images, policy="greedy")


def test_ordered_logits_are_the_top_cells_of_the_predicted_class():
    logits2d = torch.zeros(1, 3, 2, 2)
    logits2d[0, 2] = torch.tensor([[5.0, 1.0], [3.0, 4.0]])  # class 2 predicted (mean 3.25)
    logits2d[0, 1, 0, 1] = 9.0  # a larger logit of another class is ignored (mean 2.25)
    assert ordered_targets(logits2d, 3).tolist() == [[0, 3, 2]]


def test_center_and_random_cells():
    assert center_cells(2, 3, 19).tolist() == [[180] * 3] * 2
    assert center_cells(1, 1, 8).tolist() == [[4 * 8 + 4]]  # round(3.5) = 4 (half to even)
    torch.manual_seed(0)
    r = random_cells(500, 6, 19)
    assert r.min() >= 0 and r.max() < 361
    assert any(len(set(row.tolist())) < 6 for row in random_cells(2000, 6, 4))  # may revisit, as the code


def test_sobel_picks_the_edges():
    img = torch.zeros(2, 3, 96, 96)
    img[0, :, 60:70, 60:70] = 1.0  # a bright square near the bottom right
    img[1, :, 5:15, 5:15] = 1.0  # ... near the top left
    top = sobel_cells(img, 1, 33, 8, "mean")[:, 0]
    rows, cols = top // 8, top % 8
    assert rows[0] >= 4 and cols[0] >= 4 and rows[1] <= 1 and cols[1] <= 1
    var = sobel_cells(img, 3, 33, 8, "var")
    assert var.shape == (2, 3)


@pytest.mark.parametrize("name", [n for n in list_models() if "nasnet" not in n and "resnetv2" not in n])
def test_registry_forward_at_the_default_input(name):
    """Every registered model builds and runs at its configured input size (NASNet/ResNet-v2
    ClassNets are covered by their own tests)."""
    cfg = get_model_cfg(name)
    model = create_model(name).eval()
    assert model.cfg == cfg
    with torch.no_grad():
        out = model(torch.randn(1, *cfg.input_size))
    logits = out["logits"] if isinstance(out, dict) else out.logits
    assert logits.shape == (1, cfg.num_classes)
    if isinstance(model, BagNet):
        assert out["logits2d"].shape[-1] == cfg.grid_size
        assert model.receptive_field == cfg.receptive_field == cfg.glimpse_size
