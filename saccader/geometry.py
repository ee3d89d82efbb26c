"""Where a glimpse lies in the image, and how much of the image a set of glimpses covers.

The Saccader chooses cells on the G x G output grid of its BagNet. Cell ``index = row * G + col``
(row-major, (y, x) order everywhere). Two boxes belong to a cell:

* the **glimpse box** the official code draws and counts (SPEC 2.5 remarks, 4): the normalized
  location ``l = linspace(-1, 1, G)[i] * location_scale`` with ``location_scale = 1 - g / S``,
  top-left pixel ``int((S * (l + 3) - g) / 2) - S``; at 224 px / 77 px / G = 19 this is
  0, 8, 16, ..., 147 (about 8.17 i), so every glimpse lies inside the image;
* the **receptive-field box** the BagNet cell actually sees: top-left ``stride * i``, side RF
  (0, 8, ..., 144 at 224 px; the last 3 rows and columns are in no receptive field).

``placement="code"`` (default, the paper's numbers) uses the first for glimpses and coverage;
``placement="receptive_field"`` the second.

Fraction of the image attended = area of the union of the glimpse boxes / image area (the
official ``utils.patches_masks``): overlapping glimpses count once.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

PLACEMENTS = ("code", "receptive_field")


@dataclass(frozen=True)
class GlimpseGeometry:
    """Geometry of one model: ``image_size`` S, ``glimpse_size`` g, ``grid_size`` G, ``stride``."""

    image_size: int = 224
    glimpse_size: int = 77
    grid_size: int = 19
    stride: int = 8
    placement: str = "code"

    def __post_init__(self):
        if self.placement not in PLACEMENTS:
            raise ValueError(f"unknown placement {self.placement!r}; choose one of {', '.join(PLACEMENTS)}")
        if not 0 < self.glimpse_size <= self.image_size:
            raise ValueError(f"glimpse_size must be in (0, image_size={self.image_size}], got {self.glimpse_size}")
        if self.grid_size < 1:
            raise ValueError(f"grid_size must be >= 1, got {self.grid_size}")

    @classmethod
    def from_model_cfg(cls, cfg, placement: str = "code") -> "GlimpseGeometry":
        """From a registry ``ModelCfg`` (``create_model(name).cfg`` or ``get_model_cfg(name)``)."""
        return cls(image_size=cfg.image_size, glimpse_size=cfg.glimpse_size, grid_size=cfg.grid_size,
                   stride=cfg.stride, placement=placement)

    # ---- one axis ------------------------------------------------------------------------------
    @property
    def num_cells(self) -> int:
        return self.grid_size * self.grid_size

    @property
    def location_scale(self) -> float:
        return 1.0 - self.glimpse_size / self.image_size

    def normalized_locations(self, device=None) -> torch.Tensor:
        """(G,) the normalized centre of each cell's glimpse along one axis, in [-scale, scale]."""
        return torch.linspace(-1.0, 1.0, self.grid_size, device=device) * float(self.location_scale)

    def offsets(self, size: int | None = None, image_size: int | None = None, device=None) -> torch.Tensor:
        """(G,) long: top-left pixel of each cell's glimpse along one axis.

        ``size`` / ``image_size`` default to the model's; other values place a glimpse of another
        size at the same normalized locations (e.g. the ClassNet's 113-px glimpses of the 331-px image).
        """
        size = int(size or self.glimpse_size)
        s = int(image_size or self.image_size)
        if self.placement == "receptive_field":
            if image_size not in (None, self.image_size):
                raise ValueError("placement='receptive_field' has no meaning at another image size")
            return torch.arange(self.grid_size, device=device) * self.stride
        loc = self.normalized_locations(device)
        return torch.floor((s * (loc + 3.0) - size) / 2.0).long() - s

    def receptive_field_offsets(self, device=None) -> torch.Tensor:
        """(G,) long: top-left pixel of each cell's true receptive field (``stride * i``)."""
        return torch.arange(self.grid_size, device=device) * self.stride

    # ---- cells ---------------------------------------------------------------------------------
    def _check(self, indices: torch.Tensor) -> torch.Tensor:
        indices = torch.as_tensor(indices)
        if indices.dtype.is_floating_point:
            raise TypeError(f"cell indices must be integers, got {indices.dtype}")
        if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= self.num_cells):
            raise ValueError(f"cell indices must be in [0, {self.num_cells}) for a {self.grid_size} x "
                             f"{self.grid_size} grid; got min {int(indices.min())}, max {int(indices.max())}")
        return indices.long()

    def rows_cols(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        indices = self._check(indices)
        return torch.div(indices, self.grid_size, rounding_mode="floor"), indices % self.grid_size

    def glimpse_boxes(self, indices: torch.Tensor, size: int | None = None,
                      image_size: int | None = None) -> torch.Tensor:
        """(..., 4) long boxes (y0, x0, y1, x1), end exclusive, of the glimpses at ``indices`` (...)."""
        size = int(size or self.glimpse_size)
        rows, cols = self.rows_cols(indices)
        off = self.offsets(size, image_size, device=rows.device)
        y0, x0 = off[rows], off[cols]
        return torch.stack([y0, x0, y0 + size, x0 + size], dim=-1)

    def receptive_field_boxes(self, indices: torch.Tensor, receptive_field: int | None = None) -> torch.Tensor:
        """(..., 4) long boxes of the true receptive fields (side ``receptive_field``, default g)."""
        rf = int(receptive_field or self.glimpse_size)
        rows, cols = self.rows_cols(indices)
        y0, x0 = rows * self.stride, cols * self.stride
        return torch.stack([y0, x0, y0 + rf, x0 + rf], dim=-1)

    def box_for_location(self, index: int) -> tuple[int, int, int, int]:
        """(y0, x0, y1, x1) of one cell's glimpse."""
        return tuple(int(v) for v in self.glimpse_boxes(torch.tensor(int(index))))

    # ---- coverage ------------------------------------------------------------------------------
    def axis_masks(self, device=None) -> torch.Tensor:
        """(G, S) bool: which pixels of one axis each cell's glimpse covers."""
        off = self.offsets(device=device)
        px = torch.arange(self.image_size, device=device)
        return (px[None, :] >= off[:, None]) & (px[None, :] < off[:, None] + self.glimpse_size)

    def coverage(self, indices: torch.Tensor) -> torch.Tensor:
        """indices (B, T) -> (B, T) float: fraction of the image covered by the union of the first
        t + 1 glimpses (cumulative over t). Overlapping glimpses count once."""
        rows, cols = self.rows_cols(indices)
        if rows.dim() != 2:
            raise ValueError(f"coverage expects indices of shape (B, T), got {tuple(rows.shape)}")
        masks = self.axis_masks(device=rows.device)
        b, t = rows.shape
        union = torch.zeros(b, self.image_size, self.image_size, dtype=torch.bool, device=rows.device)
        out = torch.empty(b, t, device=rows.device)
        for step in range(t):
            union |= masks[rows[:, step]][:, :, None] & masks[cols[:, step]][:, None, :]
            out[:, step] = union.flatten(1).float().mean(1)
        return out

    def coverage_mask(self, indices: torch.Tensor) -> torch.Tensor:
        """indices (B, T) -> (B, S, S) bool union mask of the glimpses."""
        rows, cols = self.rows_cols(indices)
        masks = self.axis_masks(device=rows.device)
        m = masks[rows][..., :, None] & masks[cols][..., None, :]
        return m.any(dim=1)

    # ---- pixels --------------------------------------------------------------------------------
    def extract_glimpses(self, images: torch.Tensor, indices: torch.Tensor, size: int | None = None,
                         image_size: int | None = None) -> torch.Tensor:
        """images (B, C, H, W), indices (B, T) -> glimpses (B, T, C, size, size).

        ``image_size`` defaults to the images' side: a larger image gets its glimpses at the same
        normalized locations (as Saccader-ClassNet does). Pixels outside the image replicate the edge
        (never needed with ``placement="code"``)."""
        if images.dim() != 4 or images.shape[-1] != images.shape[-2]:
            raise ValueError(f"expected square images (B, C, S, S), got {tuple(images.shape)}")
        s = int(image_size or images.shape[-1])
        if s != images.shape[-1]:
            raise ValueError(f"image_size={s} but the images are {images.shape[-1]} px")
        size = int(size or round(self.glimpse_size * s / self.image_size))
        rows, cols = self.rows_cols(indices)
        if rows.dim() != 2 or rows.shape[0] != images.shape[0]:
            raise ValueError(f"indices must be (B, T) with B = {images.shape[0]}, got {tuple(rows.shape)}")
        off = self.offsets(size, None if s == self.image_size else s, device=images.device)
        ar = torch.arange(size, device=images.device)
        r = (off[rows][..., None] + ar).clamp_(0, s - 1)  # (B, T, size)
        c = (off[cols][..., None] + ar).clamp_(0, s - 1)
        bi = torch.arange(images.shape[0], device=images.device)[:, None, None, None]
        out = images[bi, :, r[..., :, None], c[..., None, :]]  # (B, T, size, size, C)
        return out.permute(0, 1, 4, 2, 3)


def receptive_field_size(conv_ops: list[tuple[int, int]], input_size: int | None = None) -> tuple[int, int | None]:
    """Receptive field and output size of a chain of valid convolutions ``[(kernel, stride), ...]``
    (the official ``receptive_field_size``: ``rf += jump * (k - 1)``, ``n = ceil((n - k + 1) / s)``)."""
    rf, jump, n = 1, 1, input_size
    for k, s in conv_ops:
        rf += jump * (k - 1)
        jump *= s
        if n is not None:
            n = -(-(n - k + 1) // s)
    return rf, n


__all__ = ["GlimpseGeometry", "PLACEMENTS", "receptive_field_size"]
