"""Golden tests: the model against independent references, so that a wrong model fails.

(a) The Saccader cell against a plain-Python, step-by-step transcription of the official
    ``SaccaderCell.__call__`` (SPEC 2.5), written from the spec and not from our module, with small
    fixed weights. ``test_golden_detects_broken_cells`` checks that the comparison does fail for the
    likely mistakes (no 1/sqrt(D), one mask instead of two, a softmax over the wrong axis, a
    column-major grid).
(b) The Sobel policies against values worked out by hand on a 6x6 image, and against a plain loop
    transcription of ``tf.image.sobel_edges`` + the official window statistics on random images.
(c) The placement of the downsample BN (``downsample_bn_on_main``) by its forward output, against a
    hand-written numpy reference of each placement (the parameter counts are equal).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from saccader.models import policies as P
from saccader.models.bagnet import BagNet, BagNetConfig, Bottleneck
from saccader.models.saccader import SaccaderCell

# ================================================================================================
# (a) the Saccader cell
# ================================================================================================

# Mixed features M (B=2, H=3, W=3, D=4), channels last as in the official code; fixed values.
M_FIXED = np.array(
    [[[[-1.7, -1.1, 1.2, 0.3], [-1.6, -0.3, -0.1, -1.4], [0.9, -1.5, -0.4, 0.1]],
      [[-0.3, 0.3, 1.0, 1.8], [-0.9, 0.6, 0.8, -0.8], [-2.0, 1.9, -0.8, -0.7]],
      [[1.6, 0.3, -0.1, 1.1], [-1.9, 0.8, -0.5, -1.6], [0.6, 1.7, -1.2, 0.5]]],
     [[[-0.8, 1.0, 0.9, -1.1], [1.3, 0.6, 0.7, 1.3], [-0.3, 1.0, 1.5, -1.6]],
      [[1.4, -0.4, -0.1, -1.4], [0.8, -0.8, 1.5, -0.9], [0.2, -0.4, 0.5, -1.2]],
      [[-1.3, 1.0, 1.0, 0.3], [1.7, -1.2, 1.4, -1.3], [1.9, 0.5, 0.4, 1.9]]]])
W_FIXED = [0.9, -1.3, 0.6, 2.0]  # the dense layer "attention_weights" (D -> 1, no bias)
NUM_CLASSES = 3
STEPS = 4
# what the transcription gives on these weights (pinned): the cells chosen per image, row-major,
# and the location logits R of image 0 at step 1 (nothing masked yet)
GOLDEN_INDICES = [[3, 6, 8, 2], [8, 1, 7, 4]]
GOLDEN_R00 = [-0.143586, -1.013028, -0.038083, 0.943785, -0.284140, -0.677725, 0.843470, -1.109020, 0.304455]


def _logits2d_fixed() -> np.ndarray:
    """Per-cell class logits (B, H, W, C): distinct values, so every cell's vector is its own."""
    b, h, w, _ = M_FIXED.shape
    out = np.zeros((b, h, w, NUM_CLASSES))
    for i in range(b):
        for r in range(h):
            for c in range(w):
                for k in range(NUM_CLASSES):
                    out[i, r, c, k] = 0.5 * i + 0.3 * r - 0.7 * c + 1.1 * k - 0.05 * r * c * k
    return out


def _softmax(values: list[float]) -> list[float]:
    top = max(values)
    e = [math.exp(v - top) for v in values]
    s = sum(e)
    return [x / s for x in e]


def official_cell(M: np.ndarray, w: list[float], logits2d: np.ndarray, steps: int) -> dict:
    """The official ``SaccaderCell`` unrolled ``steps`` times at inference (argmax), one image and
    one step at a time, in plain Python (SPEC 2.5):

        a_ij  = (w . M_ij) / sqrt(D) - 1e5 C_ij       alpha = softmax over the H*W positions
        g_k   = sum_ij alpha_ij M_ijk                  beta  = softmax over the D channels
        R_ij  = sum_k beta_k M_ijk - 1e5 C_ij          pi    = softmax over the H*W positions
        l     = argmax R (row-major)                   C_l   = 1
        z     = logits2d[l] (hard) or sum_ij pi_ij logits2d_ij (soft attention)

    Returns lists per image of per-step R (H*W, row-major), chosen index, z_hard, z_soft."""
    batch, height, width, depth = M.shape
    out = {"R": [], "index": [], "z": [], "z_soft": []}
    for b in range(batch):
        visited = [[0.0] * width for _ in range(height)]
        rs, idxs, zs, zsofts = [], [], [], []
        for _ in range(steps):
            a = []
            for i in range(height):
                for j in range(width):
                    dot = sum(w[k] * M[b, i, j, k] for k in range(depth))
                    a.append(dot / math.sqrt(depth) - 1e5 * visited[i][j])
            alpha = _softmax(a)
            g = [sum(alpha[i * width + j] * M[b, i, j, k] for i in range(height) for j in range(width))
                 for k in range(depth)]
            beta = _softmax(g)
            r = []
            for i in range(height):
                for j in range(width):
                    r.append(sum(beta[k] * M[b, i, j, k] for k in range(depth)) - 1e5 * visited[i][j])
            pi = _softmax(r)
            best = max(range(height * width), key=lambda n: (r[n], -n))  # first maximum, as tf.argmax
            bi, bj = divmod(best, width)
            z = [logits2d[b, bi, bj, c] for c in range(logits2d.shape[-1])]
            z_soft = [sum(pi[i * width + j] * logits2d[b, i, j, c] for i in range(height) for j in range(width))
                      for c in range(logits2d.shape[-1])]
            visited[bi][bj] = min(1.0, visited[bi][bj] + 1.0)
            rs.append(r)
            idxs.append(best)
            zs.append(z)
            zsofts.append(z_soft)
        out["R"].append(rs)
        out["index"].append(idxs)
        out["z"].append(zs)
        out["z_soft"].append(zsofts)
    return {k: np.array(v, dtype=np.float64) for k, v in out.items()}


def _our_cell(soft: bool = False):
    cell = SaccaderCell(M_FIXED.shape[-1])
    with torch.no_grad():
        cell.attention_weights.weight.copy_(torch.tensor([W_FIXED]))
    mixed2d = torch.tensor(M_FIXED, dtype=torch.float32).permute(0, 3, 1, 2)  # (B, D, H, W)
    logits2d = torch.tensor(_logits2d_fixed(), dtype=torch.float32).permute(0, 3, 1, 2)
    with torch.no_grad():
        return cell(mixed2d, logits2d, STEPS, sample=False, soft_attention=soft)


def _golden_mismatch() -> str | None:
    """None if our cell matches the transcription at every step; else what differs."""
    ref = official_cell(M_FIXED, W_FIXED, _logits2d_fixed(), STEPS)
    steps, idx, loc = _our_cell()
    soft_steps, soft_idx, _ = _our_cell(soft=True)
    if not np.array_equal(idx.numpy(), ref["index"]):
        return f"chosen cells {idx.tolist()} != official {ref['index'].astype(int).tolist()}"
    if not np.array_equal(soft_idx.numpy(), ref["index"]):
        return f"chosen cells (soft attention) {soft_idx.tolist()} != official"
    loc = loc.double().numpy()
    masked = ref["R"] < -5e4
    if not np.array_equal(loc < -5e4, masked):
        return "the masked (visited) cells differ"
    # unmasked logits to 1e-5; masked ones carry -1e5, which float32 holds to ~0.008
    if not np.allclose(loc[~masked], ref["R"][~masked], rtol=0, atol=1e-5):
        return f"location logits differ by up to {np.abs(loc[~masked] - ref['R'][~masked]).max():.3g}"
    if not np.allclose(loc[masked], ref["R"][masked], rtol=0, atol=0.02):
        return "masked location logits differ"
    if not np.allclose(steps.double().numpy(), ref["z"], rtol=0, atol=1e-5):
        return "class logits of the chosen cells differ"
    if not np.allclose(soft_steps.double().numpy(), ref["z_soft"], rtol=0, atol=1e-5):
        return f"soft-attention class logits differ by {np.abs(soft_steps.double().numpy() - ref['z_soft']).max():.3g}"
    return None


def test_reference_is_not_degenerate():
    """The fixed weights make a test that can fail: clear argmax margins, cells that differ between
    the two images, spatial attention far from uniform."""
    ref = official_cell(M_FIXED, W_FIXED, _logits2d_fixed(), STEPS)
    for b in range(2):
        for t in range(STEPS):
            r = np.sort(ref["R"][b, t])[::-1]
            assert r[0] - r[1] > 1e-3
    assert ref["index"][0].tolist() != ref["index"][1].tolist()
    assert len(set(ref["index"][0].tolist())) == STEPS  # never revisits
    a = np.einsum("bhwd,d->bhw", M_FIXED, W_FIXED).reshape(2, -1) / 2
    assert (a.max(1) - a.min(1) > 2).all()


def test_cell_matches_the_official_transcription():
    assert _golden_mismatch() is None


def test_cell_golden_values():
    """The transcription's own numbers on the fixed weights, pinned (first step, image 0, and the
    chosen cells), so that a change to the transcription itself is noticed too."""
    ref = official_cell(M_FIXED, W_FIXED, _logits2d_fixed(), STEPS)
    assert ref["index"].astype(int).tolist() == GOLDEN_INDICES
    np.testing.assert_allclose(ref["R"][0, 0], GOLDEN_R00, atol=1e-6)


# ---- mutants: each is a likely bug; the golden comparison must reject every one ----------------

_MASK = 1e5


def _no_sqrt(self, mixed, state, space):  # spatial logits not divided by sqrt(D)
    return _ORIG(self, mixed, state, space * mixed.shape[-1] ** 0.5)


def _mask_only_location_logits(self, mixed, state, space):  # visited cells still get attention
    alpha = torch.softmax(space, dim=-1)
    beta = torch.softmax(torch.einsum("bn,bnd->bd", alpha, mixed), dim=-1)
    return torch.einsum("bnd,bd->bn", mixed, beta) - _MASK * state


def _mask_only_attention(self, mixed, state, space):  # visited cells can be chosen again
    alpha = torch.softmax(space - _MASK * state, dim=-1)
    beta = torch.softmax(torch.einsum("bn,bnd->bd", alpha, mixed), dim=-1)
    return torch.einsum("bnd,bd->bn", mixed, beta)


def _alpha_wrong_axis(self, mixed, state, space):  # spatial softmax over the batch
    alpha = torch.softmax(space - _MASK * state, dim=0)
    beta = torch.softmax(torch.einsum("bn,bnd->bd", alpha, mixed), dim=-1)
    return torch.einsum("bnd,bd->bn", mixed, beta) - _MASK * state


def _beta_wrong_axis(self, mixed, state, space):  # channel softmax over the batch
    alpha = torch.softmax(space - _MASK * state, dim=-1)
    beta = torch.softmax(torch.einsum("bn,bnd->bd", alpha, mixed), dim=0)
    return torch.einsum("bnd,bd->bn", mixed, beta) - _MASK * state


def _no_channel_softmax(self, mixed, state, space):  # beta = the raw channel logits
    alpha = torch.softmax(space - _MASK * state, dim=-1)
    beta = torch.einsum("bn,bnd->bd", alpha, mixed)
    return torch.einsum("bnd,bd->bn", mixed, beta) - _MASK * state


def _column_major(self, mixed2d, logits2d, *args, **kwargs):  # cells numbered column by column
    return _ORIG_FORWARD(self, mixed2d.transpose(2, 3), logits2d.transpose(2, 3), *args, **kwargs)


_ORIG = SaccaderCell.location_logits
_ORIG_FORWARD = SaccaderCell.forward
MUTANTS = {
    "no 1/sqrt(D)": ("location_logits", _no_sqrt),
    "mask on the location logits only": ("location_logits", _mask_only_location_logits),
    "mask on the spatial attention only": ("location_logits", _mask_only_attention),
    "spatial softmax over the wrong axis": ("location_logits", _alpha_wrong_axis),
    "channel softmax over the wrong axis": ("location_logits", _beta_wrong_axis),
    "no channel softmax": ("location_logits", _no_channel_softmax),
    "column-major cells": ("forward", _column_major),
}


@pytest.mark.parametrize("mutant", sorted(MUTANTS))
def test_golden_detects_broken_cells(monkeypatch, mutant):
    attr, fn = MUTANTS[mutant]
    monkeypatch.setattr(SaccaderCell, attr, fn)
    assert _golden_mismatch() is not None, f"the golden test does not notice: {mutant}"


# ================================================================================================
# (b) the Sobel policies
# ================================================================================================

_S2 = math.sqrt(2.0)
_H = _S2 / 2
_GRAY_SUM = 0.2989 + 0.5870 + 0.1140  # an image with equal R, G, B is this times grey


def _impulse_image() -> torch.Tensor:
    """6x6, grey = 1 at (2, 3) and 0.5 at (4, 0) (on the left border), 0 elsewhere; R = G = B."""
    g = torch.zeros(6, 6)
    g[2, 3] = 1.0
    g[4, 0] = 0.5
    return g.expand(1, 3, 6, 6).clone()


# Worked out by hand. Sobel kernels d/dx [[-1,0,1],[-2,0,2],[-1,0,1]] and d/dy its transpose;
# magnitude sqrt(dx^2 + dy^2). The unit impulse at (2, 3) gives sqrt2 at its 4 diagonal neighbours
# and 2 at its 4 direct neighbours. The 0.5 impulse at (4, 0): (3,0) dy = 0.5*2 -> 1; (3,1) dx = dy
# = 0.5 -> sqrt(0.5); (4,1) dx = 0.5*2 -> 1; (4,0) 0; row 5 sees row 4 again through the reflect
# padding (padded row 6 = row 4), so its dy cancels: (5,0) 0 (zero padding would give 1) and
# (5,1) dx = 0.5*(1+1) -> 1.
EDGES_BY_HAND = np.array([
    [0, 0, 0, 0, 0, 0],
    [0, 0, _S2, 2, _S2, 0],
    [0, 0, 2, 0, 2, 0],
    [1, _H, _S2, 2, _S2, 0],
    [0, 1, 0, 0, 0, 0],
    [0, 1, 0, 0, 0, 0],
]) * _GRAY_SUM

# 2x2 windows with stride ceil((6 - 2 + 1) / 3) = 2: a 3x3 grid of disjoint blocks.
_BLOCKS = {(r, c): EDGES_BY_HAND[2 * r:2 * r + 2, 2 * c:2 * c + 2].ravel() for r in range(3) for c in range(3)}
MEAN_BY_HAND = np.array([
    [0, 2 + _S2, _S2],
    [1 + _H, 4 + _S2, 2 + _S2],
    [2, 0, 0],
]) / 4 * _GRAY_SUM
# unbiased variance (n / (n - 1), as the official code): (sum x^2 - (sum x)^2 / 4) / 3
VAR_BY_HAND = np.array([
    [0, 6 - (2 + _S2) ** 2 / 4, 2 - 2 / 4],
    [1.5 - (1 + _H) ** 2 / 4, 10 - (4 + _S2) ** 2 / 4, 6 - (2 + _S2) ** 2 / 4],
    [2 - 4 / 4, 0, 0],
]) / 3 * _GRAY_SUM ** 2


def test_sobel_edges_by_hand():
    edges = P.sobel_edges(_impulse_image())[0, 0].double().numpy()
    np.testing.assert_allclose(edges, EDGES_BY_HAND, atol=1e-5)
    assert edges[5, 0] == pytest.approx(0, abs=1e-6)  # reflect padding (tf.image.sobel_edges)


def test_sobel_window_statistics_by_hand():
    img = _impulse_image()
    np.testing.assert_allclose(P.sobel_map(img, 2, 3, "mean")[0].double().numpy(), MEAN_BY_HAND, atol=1e-5)
    np.testing.assert_allclose(P.sobel_map(img, 2, 3, "var")[0].double().numpy(), VAR_BY_HAND, atol=1e-5)
    for (r, c), values in _BLOCKS.items():  # the hand tables agree with their definition
        assert MEAN_BY_HAND[r, c] == pytest.approx(values.mean())
        assert VAR_BY_HAND[r, c] == pytest.approx(values.var(ddof=1))


@pytest.mark.parametrize("policy, order", [
    # cells row-major; {a, b}: a tie in exact arithmetic, either order
    ("sobel_mean", [4, {1, 5}, 6, 3, 2]),  # 1.35, 0.85 x2, 0.5, 0.43, 0.35 (x 0.9999)
    ("sobel_var", [{1, 5}, 4, 2, 6, 3]),   # 1.03 x2, 0.89, 0.5, 0.33, 0.26
])
def test_sobel_policies_choose_the_cells_worked_out_by_hand(policy, order):
    logits2d = torch.zeros(1, 10, 3, 3)  # only its grid size matters to these policies
    cells = P.engineered_cells(policy, _impulse_image(), logits2d, 6, window=2)[0].tolist()
    assert len(cells) == len(set(cells)) == 6
    pos = 0
    for want in order:
        group = want if isinstance(want, set) else {want}
        assert set(cells[pos:pos + len(group)]) == group, (policy, cells)
        pos += len(group)


def _reference_sobel_map(img: np.ndarray, window: int, grid: int, statistic: str) -> np.ndarray:
    """Plain loops: grey = 0.2989 R + 0.5870 G + 0.1140 B; 3x3 Sobel with reflect padding; the
    magnitude; then mean or unbiased variance over window x window squares with top-left corners
    at multiples of stride = ceil((S - window + 1) / grid), as the official engineered_policies."""
    size = img.shape[-1]
    gray = 0.2989 * img[0] + 0.5870 * img[1] + 0.1140 * img[2]

    def px(i, j):  # reflect: -1 -> 1, size -> size - 2
        i = -i if i < 0 else (2 * size - 2 - i if i >= size else i)
        j = -j if j < 0 else (2 * size - 2 - j if j >= size else j)
        return gray[i, j]

    kx = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    mag = np.zeros((size, size))
    for i in range(size):
        for j in range(size):
            dx = sum(kx[a][b] * px(i + a - 1, j + b - 1) for a in range(3) for b in range(3))
            dy = sum(kx[b][a] * px(i + a - 1, j + b - 1) for a in range(3) for b in range(3))
            mag[i, j] = math.hypot(dx, dy)
    stride = math.ceil((size - window + 1) / grid)
    out = np.zeros((grid, grid))
    for r in range(grid):
        for c in range(grid):
            patch = mag[r * stride:r * stride + window, c * stride:c * stride + window]
            assert patch.shape == (window, window)
            out[r, c] = patch.mean() if statistic == "mean" else patch.var(ddof=1)
    return out


@pytest.mark.parametrize("size, window, grid", [(10, 4, 3), (13, 5, 3)])
@pytest.mark.parametrize("statistic", ["mean", "var"])
def test_sobel_against_a_loop_reference(size, window, grid, statistic):
    g = torch.Generator().manual_seed(size + window)
    img = torch.rand(1, 3, size, size, generator=g)
    ref = _reference_sobel_map(img[0].double().numpy(), window, grid, statistic)
    ours = P.sobel_map(img, window, grid, statistic)[0].double().numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    cells = P.sobel_cells(img, grid * grid, window, grid, statistic)[0].tolist()
    assert cells == np.argsort(-ref.ravel(), kind="stable").tolist()


def test_sobel_windows_at_the_paper_geometry():
    """224-px image, 77-px windows, 19x19 grid: stride ceil(148 / 19) = 8, window i starts at 8 i."""
    g = torch.Generator().manual_seed(0)
    img = torch.rand(1, 3, 224, 224, generator=g)
    edges = P.sobel_edges(img)[0, 0].double().numpy()
    ours = P.sobel_map(img, 77, 19, "mean")[0].double().numpy()
    for r, c in [(0, 0), (0, 18), (18, 0), (7, 11), (18, 18)]:
        assert ours[r, c] == pytest.approx(edges[8 * r:8 * r + 77, 8 * c:8 * c + 77].mean(), abs=1e-5)


# ================================================================================================
# (c) the downsample BN placement
# ================================================================================================

EPS = 1e-5


def _fill_block(block: Bottleneck, seed: int = 0) -> dict:
    """Fixed weights and non-trivial BN statistics/affine for every layer; returns them as numpy."""
    rng = np.random.default_rng(seed)
    params = {}
    with torch.no_grad():
        for name, conv in [("a", block.conv_a), ("b", block.conv_b), ("c", block.conv_c), ("sc", block.shortcut)]:
            w = np.round(rng.uniform(-1, 1, tuple(conv.weight.shape)), 2)
            conv.weight.copy_(torch.tensor(w))
            params[name] = w
        for name, bn in [("a", block.bn_a), ("b", block.bn_b), ("c", block.bn_c), ("ds", block.bn_downsample)]:
            n = bn.num_features
            stats = dict(gamma=rng.uniform(0.5, 2.0, n), beta=rng.uniform(-1, 1, n),
                         mean=rng.uniform(-1, 1, n), var=rng.uniform(0.3, 3.0, n))
            bn.weight.copy_(torch.tensor(stats["gamma"]))
            bn.bias.copy_(torch.tensor(stats["beta"]))
            bn.running_mean.copy_(torch.tensor(stats["mean"]))
            bn.running_var.copy_(torch.tensor(stats["var"]))
            params["bn_" + name] = stats
    return params


def _conv(x: np.ndarray, w: np.ndarray, stride: int) -> np.ndarray:
    """Valid cross-correlation, x (C, H, W), w (O, C, k, k)."""
    _, h, wd = x.shape
    o, _, k, _ = w.shape
    oh, ow = (h - k) // stride + 1, (wd - k) // stride + 1
    out = np.zeros((o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + k, j * stride:j * stride + k]
            out[:, i, j] = np.tensordot(w, patch, axes=([1, 2, 3], [0, 1, 2]))
    return out


def _bn(x: np.ndarray, s: dict) -> np.ndarray:
    shape = (-1, 1, 1)
    return (x - s["mean"].reshape(shape)) / np.sqrt(s["var"].reshape(shape) + EPS) * s["gamma"].reshape(shape) \
        + s["beta"].reshape(shape)


def _reference_block(x: np.ndarray, p: dict, kernel: int, stride: int, bn_on_main: bool) -> np.ndarray:
    """The official bottleneck (SPEC 2.2) written out for one image x (C, H, W), inference BN.

    bn_on_main=True (official): out = relu(BN_ds(BN_c(conv_c(...))) + conv_sc(x))
    bn_on_main=False (ResNet):  out = relu(BN_c(conv_c(...)) + BN_ds(conv_sc(x)))"""
    relu = lambda v: np.maximum(v, 0)  # noqa: E731
    net = relu(_bn(_conv(x, p["a"], 1), p["bn_a"]))
    net = relu(_bn(_conv(net, p["b"], stride), p["bn_b"]))
    net = _bn(_conv(net, p["c"], 1), p["bn_c"])
    residual = x[:, 1:-1, 1:-1] if kernel == 3 else x
    residual = _conv(residual, p["sc"], stride)
    if bn_on_main:
        return relu(_bn(net, p["bn_ds"]) + residual)
    return relu(net + _bn(residual, p["bn_ds"]))


# (in_ch, planes, kernel, stride): a group's first block with a 3x3 stride 2 (groups 0-2), with a
# 3x3 stride 1 and a channel change (group 3), and an all-1x1 block that changes channels
BLOCKS = [(4, 2, 3, 2), (6, 3, 3, 1), (5, 2, 1, 1)]


@pytest.mark.parametrize("in_ch, planes, kernel, stride", BLOCKS)
def test_downsample_bn_placement_by_forward_output(in_ch, planes, kernel, stride):
    x = np.round(np.random.default_rng(1).uniform(-2, 2, (2, in_ch, 7, 7)), 2)
    outs, refs = {}, {}
    for on_main in (True, False):
        block = Bottleneck(in_ch, planes, kernel, stride, expansion=4, downsample_bn_on_main=on_main).double()
        assert block.shortcut is not None
        p = _fill_block(block, seed=2)  # the same weights for both placements
        block.eval()
        with torch.no_grad():
            outs[on_main] = block(torch.tensor(x)).numpy()
        refs[on_main] = np.stack([_reference_block(xi, p, kernel, stride, on_main) for xi in x])
        np.testing.assert_allclose(outs[on_main], refs[on_main], atol=1e-5,
                                   err_msg=f"downsample_bn_on_main={on_main}")
    # the two placements are far apart, so swapping them fails the comparison above
    assert np.abs(refs[True] - refs[False]).max() > 0.5
    assert np.abs(outs[True] - refs[False]).max() > 0.5


def test_placement_switch_reaches_every_block_and_counts_cannot_tell():
    cfg = dict(blocks=(2, 1), planes=(4, 8), strides=(2, 1), kernel3=(1, 1), stem_channels=8, num_classes=5)
    default, usual = BagNet(BagNetConfig(**cfg)), BagNet(BagNetConfig(**cfg, downsample_bn_on_main=False))
    blocks = [m for m in default.modules() if isinstance(m, Bottleneck)]
    assert [b.downsample_bn_on_main for b in blocks] == [True] * 3  # the official quirk by default
    assert all(not b.downsample_bn_on_main for b in usual.modules() if isinstance(b, Bottleneck))
    assert sum(p.numel() for p in default.parameters()) == sum(p.numel() for p in usual.parameters())
    assert default.state_dict().keys() == usual.state_dict().keys()
