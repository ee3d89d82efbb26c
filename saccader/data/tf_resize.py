"""TensorFlow 1's image resize convention, on float tensors (N, C, H, W).

The official code resizes with TF1 ops: ``tf.image.resize_bicubic`` in the ImageNet pipeline
(``data_provider._random_crop`` / ``_center_crop``) and ``tf.image.resize_images`` (bilinear) in
the DRAM glimpse sensor (``glimpse_model.extract_glimpses``), both with their defaults
``align_corners=False, half_pixel_centers=False`` (the "legacy" scaler of TF's
``resize_bilinear_op.cc`` / ``resize_bicubic_op.cc``):

* source coordinate of output pixel ``d`` = ``d * (in / out)``, computed in float32 (PyTorch's
  ``F.interpolate(align_corners=False)`` uses half-pixel centres ``(d + 0.5) * in / out - 0.5``
  instead: the grids differ by ``0.5 * (in / out - 1)`` source pixels);
* no antialiasing: a downscale only samples the source (PIL and ``antialias=True`` low-pass it);
* bilinear: ``lower = floor(s)``, ``upper = min(ceil(s), in - 1)``, lerp along x then along y;
* bicubic: the cubic-convolution kernel with **a = -0.75** (TF uses Keys' a = -0.5 only with
  ``half_pixel_centers=True``), the fractional position rounded to 1/1024 (TF's coefficient
  table), the 4 taps ``floor(s) - 1 .. floor(s) + 2`` clamped to the image (edge pixels repeat),
  weights not renormalized; rows are interpolated first, then columns.

Output float32 with the input's device; values are not clamped (bicubic overshoots, as in TF).
"""
from __future__ import annotations

import torch

__all__ = ["tf1_resize", "tf1_source_coords", "CUBIC_A", "TABLE_SIZE"]

CUBIC_A = -0.75  # resize_bicubic_op.cc: InitCoeffsTable(-0.75f) for the legacy (non half-pixel) path
TABLE_SIZE = 1024  # kTableSize: fractional offsets are rounded to 1/1024 pixel


def tf1_source_coords(in_size: int, out_size: int, device=None) -> torch.Tensor:
    """float32 source coordinates ``d * (in / out)`` of the ``out_size`` output pixels (TF1's
    ``LegacyScaler`` with ``CalculateResizeScale(in, out, align_corners=False)``)."""
    scale = torch.tensor(float(in_size), dtype=torch.float32) / float(out_size)  # float32 division
    return torch.arange(out_size, dtype=torch.float32, device=device) * scale.to(device)


def _cubic_table() -> torch.Tensor:
    """TF's (TABLE_SIZE + 1, 2) coefficient table: [i, 0] = k(i / 1024), [i, 1] = k(1 + i / 1024)."""
    a = CUBIC_A
    x = torch.arange(TABLE_SIZE + 1, dtype=torch.float64) / TABLE_SIZE
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    x1 = x + 1.0
    far = ((a * x1 - 5 * a) * x1 + 8 * a) * x1 - 4 * a
    return torch.stack([near, far], dim=1).to(torch.float32)


_TABLE = _cubic_table()


def _bilinear_axis(in_size: int, out_size: int, device):
    s = tf1_source_coords(in_size, out_size, device)
    low_f = torch.floor(s)
    lower = low_f.long().clamp_(0, in_size - 1)
    upper = torch.ceil(s).long().clamp_(max=in_size - 1)
    return lower, upper, s - low_f


def _cubic_axis(in_size: int, out_size: int, device):
    """(indices (out, 4) long, weights (out, 4) float32) of the legacy bicubic taps along one axis."""
    s = tf1_source_coords(in_size, out_size, device)
    base_f = torch.floor(s)
    offset = torch.round((s - base_f) * TABLE_SIZE).long()  # lrintf: round half to even, like torch.round
    table = _TABLE.to(device)
    weights = torch.stack([table[offset, 1], table[offset, 0],
                           table[TABLE_SIZE - offset, 0], table[TABLE_SIZE - offset, 1]], dim=1)
    base = base_f.long()
    idx = torch.stack([base - 1, base, base + 1, base + 2], dim=1).clamp_(0, in_size - 1)
    return idx, weights


def _cubic_along(x: torch.Tensor, dim: int, idx: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """sum_k x[..., idx[:, k], ...] * w[:, k] along ``dim`` (2 = rows, 3 = columns), left to right."""
    shape = [1, 1, 1, 1]
    shape[dim] = -1
    out = None
    for k in range(4):
        term = x.index_select(dim, idx[:, k]) * w[:, k].view(shape)
        out = term if out is None else out + term
    return out


def tf1_resize(x: torch.Tensor, size, mode: str = "bilinear") -> torch.Tensor:
    """Resize float images ``x`` (N, C, H, W) to ``size`` = (h, w) (or an int for a square) as TF1's
    ``tf.image.resize_bilinear`` / ``resize_bicubic`` with ``align_corners=False`` and
    ``half_pixel_centers=False`` (see the module docstring). Differentiable w.r.t. ``x``.

    ``mode``: "bilinear" or "bicubic". A size equal to the input's returns ``x`` unchanged (as
    ``tf.image.resize_images`` does; the legacy formula is the identity there anyway).
    """
    if x.dim() != 4:
        raise ValueError(f"tf1_resize expects images (N, C, H, W), got shape {tuple(x.shape)}")
    if isinstance(size, int):
        size = (size, size)
    out_h, out_w = (int(s) for s in size)
    if out_h < 1 or out_w < 1:
        raise ValueError(f"tf1_resize: output size must be positive, got {size}")
    if mode not in ("bilinear", "bicubic"):
        raise ValueError(f"tf1_resize: mode must be 'bilinear' or 'bicubic', got {mode!r}")
    in_h, in_w = x.shape[-2:]
    if (in_h, in_w) == (out_h, out_w):
        return x
    if not x.is_floating_point():
        raise ValueError(f"tf1_resize works on float images, got {x.dtype}")
    x = x.float()
    dev = x.device
    if mode == "bilinear":
        yl, yu, ylerp = _bilinear_axis(in_h, out_h, dev)
        xl, xu, xlerp = _bilinear_axis(in_w, out_w, dev)
        top, bottom = x.index_select(2, yl), x.index_select(2, yu)
        tl, tr = top.index_select(3, xl), top.index_select(3, xu)
        bl, br = bottom.index_select(3, xl), bottom.index_select(3, xu)
        xlerp = xlerp.view(1, 1, 1, -1)
        t = tl + (tr - tl) * xlerp
        b = bl + (br - bl) * xlerp
        return t + (b - t) * ylerp.view(1, 1, -1, 1)
    yi, yw = _cubic_axis(in_h, out_h, dev)
    xi, xw = _cubic_axis(in_w, out_w, dev)
    return _cubic_along(_cubic_along(x, 2, yi, yw), 3, xi, xw)
