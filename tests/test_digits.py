"""The "digits" kind of the generated data set: cluttered digits, the sanity task of the RAM and DRAM papers."""
from __future__ import annotations

import numpy as np
import pytest

from saccader.data.digits import FONT, digit_masks
from saccader.data.synthetic import ClutterConfig, dataset_class_names, generate

CFG = ClutterConfig(kind="digits")


@pytest.fixture(scope="module")
def train300():
    return generate(CFG, "train", 300)


def test_digits_kind_has_fragments_only_and_ten_classes_at_most():
    assert CFG.num_distractors == 0 and CFG.num_fragments == 6 and CFG.object_extent == (22, 22)
    assert dataset_class_names(CFG) == [str(k) for k in range(10)]
    with pytest.raises(ValueError, match="10 classes at most"):
        ClutterConfig(kind="digits", num_classes=11)


def test_every_digit_is_its_own_shape():
    masks = digit_masks(22)
    assert masks.shape == (10, 22, 22) and set(np.unique(masks)) == {0.0, 1.0}
    flat = masks.reshape(10, -1)
    assert all((flat[i] != flat[j]).any() for i in range(10) for j in range(i))
    # the 5 x 7 font scaled: the top row of a 7 is all ink, the second row of a 0 is open in the middle
    assert masks[7, 0].sum() == pytest.approx(16) and masks[0, 4, 11] == 0 and masks[0, 4, 3] == 1
    assert len(FONT) == 10 and all(len(rows) == 7 and {len(r) for r in rows} == {5} for rows in FONT.values())


def test_the_digit_is_drawn_in_its_box_and_carries_the_class(train300):
    d = train300
    assert d["images"].shape == (300, 3, 96, 96) and d["distractor_boxes"].shape == (300, 0, 4)
    boxes = d["object_boxes"]
    assert ((boxes[:, 2:] - boxes[:, :2]) == 22).all() and (boxes >= 0).all() and (boxes <= 96).all()
    # the digit is white ink: its box holds the image's brightest pixels where the mask says ink
    masks = digit_masks(22)
    ink, off = [], []
    for img, y, (x0, y0, _, _) in zip(d["images"], d["labels"], boxes):
        crop = img.mean(0)[y0:y0 + 22, x0:x0 + 22]
        ink.append(crop[masks[y] > 0].mean())
        off.append(crop[masks[y] == 0].mean())
    assert np.mean(ink) > np.mean(off) + 60, (np.mean(ink), np.mean(off))


def test_centred_digits_without_clutter_are_the_same_place_every_time():
    d = generate(CFG.replace(centred=True, num_fragments=0), "val", 50)
    assert (d["object_boxes"] == [37, 37, 59, 59]).all()


def test_deterministic_and_cached_apart_from_the_other_kinds(train300):
    again = generate(CFG, "train", 300)
    assert np.array_equal(again["images"], train300["images"])
    assert CFG.key() != ClutterConfig().key() != ClutterConfig(kind="object").key()
