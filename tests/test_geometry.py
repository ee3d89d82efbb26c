"""Glimpse placement, receptive-field boxes and the fraction of the image attended (SPEC 2.5, 4, 7)."""
import pytest
import torch

from saccader.geometry import GlimpseGeometry, receptive_field_size
from saccader.models import get_model_cfg
from saccader.models.bagnet import BagNetConfig

PAPER = GlimpseGeometry(224, 77, 19, 8)


def test_official_offsets_at_224():
    off = PAPER.offsets().tolist()
    assert off[0] == 0 and off[-1] == 147 and len(off) == 19
    # int((224 (0.65625 l + 3) - 77) / 2) - 224 in float32, as the official code computes it
    # (cell 12 lands exactly on 98.0 there; float64 arithmetic would give 97)
    assert off == [0, 8, 16, 24, 32, 40, 49, 57, 65, 73, 81, 89, 98, 106, 114, 122, 130, 138, 147]
    # every glimpse inside the image; steps of 8 or 9 px (about 8.17 on average)
    assert all(0 <= o and o + 77 <= 224 for o in off)
    assert {b - a for a, b in zip(off, off[1:])} <= {8, 9}


def test_receptive_field_offsets_differ_by_at_most_3px():
    rf = PAPER.receptive_field_offsets().tolist()
    assert rf == [8 * i for i in range(19)]
    assert max(abs(a - b) for a, b in zip(rf, PAPER.offsets().tolist())) == 3
    rf_geo = GlimpseGeometry(224, 77, 19, 8, placement="receptive_field")
    assert rf_geo.offsets().tolist() == rf


def test_boxes_of_cells():
    assert PAPER.box_for_location(0) == (0, 0, 77, 77)
    assert PAPER.box_for_location(19 * 19 - 1) == (147, 147, 224, 224)
    assert PAPER.box_for_location(1) == (0, 8, 77, 85)  # row 0, column 1: (y, x) order
    boxes = PAPER.receptive_field_boxes(torch.tensor([[20]]))
    assert boxes.tolist() == [[[8, 8, 85, 85]]]


def test_coverage_of_one_glimpse_is_5929_over_50176():
    cov = PAPER.coverage(torch.tensor([[180]]))
    assert cov.item() == pytest.approx(5929 / 50176)


def test_coverage_counts_overlaps_once():
    # cells 0 and 1 overlap: union 77 x (8 + 77) px
    cov = PAPER.coverage(torch.tensor([[0, 1, 1, 0]]))
    assert cov[0].tolist() == pytest.approx([5929 / 50176, 77 * 85 / 50176, 77 * 85 / 50176, 77 * 85 / 50176])
    # opposite corners: disjoint, twice the area
    assert PAPER.coverage(torch.tensor([[0, 360]]))[0, 1].item() == pytest.approx(2 * 5929 / 50176)
    # four corners + all cells: the union is the whole image
    every = torch.arange(361)[None]
    assert PAPER.coverage(every)[0, -1].item() == pytest.approx(1.0)
    mask = PAPER.coverage_mask(torch.tensor([[0, 1]]))
    assert int(mask.sum()) == 77 * 85


def test_coverage_is_cumulative_and_batched():
    idx = torch.randint(0, 361, (5, 7))
    cov = PAPER.coverage(idx)
    assert cov.shape == (5, 7)
    assert (cov[:, 1:] >= cov[:, :-1]).all()
    for b in range(5):
        assert cov[b, -1].item() == pytest.approx(PAPER.coverage_mask(idx[b:b + 1]).float().mean().item())


def test_extract_glimpses_matches_slicing():
    img = torch.randn(2, 3, 224, 224)
    idx = torch.tensor([[0, 200], [360, 19]])
    g = PAPER.extract_glimpses(img, idx)
    assert g.shape == (2, 2, 3, 77, 77)
    for b in range(2):
        for t in range(2):
            y0, x0, y1, x1 = PAPER.box_for_location(int(idx[b, t]))
            assert torch.equal(g[b, t], img[b, :, y0:y1, x0:x1])


def test_bad_indices_and_placement_are_refused():
    with pytest.raises(ValueError, match=r"\[0, 361\)"):
        PAPER.coverage(torch.tensor([[361]]))
    with pytest.raises(TypeError, match="integers"):
        PAPER.coverage(torch.tensor([[1.0]]))
    with pytest.raises(ValueError, match="placement"):
        GlimpseGeometry(placement="centre")


@pytest.mark.parametrize("kernel3, rf", [((1, 1, 0, 0), 9), ((1, 1, 1, 0), 17), ((1, 1, 1, 1), 33), ((2, 2, 2, 2), 77)])
def test_receptive_fields_of_the_bagnet_family(kernel3, rf):
    cfg = BagNetConfig(kernel3=kernel3)
    assert cfg.receptive_field == rf and cfg.total_stride == 8


@pytest.mark.parametrize("size, grid", [(224, 19), (331, 32), (300, 28), (96, 3)])
def test_grid_sizes_of_bagnet77(size, grid):
    # SPEC 2.2: 224 -> 19 x 19, 331 -> 32 x 32, 300 -> 28 x 28 (ceil((n - k + 1) / s) rule)
    assert BagNetConfig().grid_size(size) == grid
    assert receptive_field_size(BagNetConfig().conv_ops(), size) == (77, grid)


def test_from_model_cfg():
    geo = GlimpseGeometry.from_model_cfg(get_model_cfg("saccader77"))
    assert geo == PAPER
    tiny = GlimpseGeometry.from_model_cfg(get_model_cfg("saccader33_tiny"))
    assert (tiny.image_size, tiny.glimpse_size, tiny.grid_size) == (96, 33, 8)
    # the tiny default keeps the paper's glimpse-to-image area ratio (11.8 %)
    assert tiny.coverage(torch.tensor([[0]])).item() == pytest.approx(33 ** 2 / 96 ** 2)
    assert abs(33 ** 2 / 96 ** 2 - 77 ** 2 / 224 ** 2) < 0.001
