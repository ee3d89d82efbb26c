"""Evaluation: curve accumulation, coverage of every model's glimpses, the curves and occlusion of
untrained tiny models on a few generated images, results files, their provenance and staleness."""
from __future__ import annotations

from unittest import mock

import json

import pandas as pd
import pytest
import torch

from saccader.data import build_dataset
from saccader.evaluation import curves, methods, occlusion, results, seeds
from saccader.models import create_model
from saccader.train.cache import planned_run



@pytest.fixture(scope="module")
def images():
    return build_dataset("clutter", "test", num_images=10, use_cache=False)


@pytest.fixture(scope="module")
def saccader():
    torch.manual_seed(0)
    return create_model("saccader33_tiny").eval()


@pytest.fixture(scope="module")
def bagnet():
    torch.manual_seed(1)
    return create_model("bagnet33_tiny").eval()


# ------------------------------------------------------------------------------------------------
# CurveAccumulator
# ------------------------------------------------------------------------------------------------

def test_accumulator_cumulative_mean_top1_top5_and_coverage():
    # 2 images, 3 steps, 7 classes.
    z = torch.zeros(2, 3, 7)
    z[0, :, 5:] = -2.0  # image 0: classes 5, 6 always last, so the top 5 is always {0 .. 4}
    z[0, 0, 1] = 3.0  # image 0 (label 2): step 1 says class 1 ...
    z[0, 1, 2] = 4.0  # ... step 2 says 2: mean after 2 = [0, 1.5, 2, ...] -> class 2 right
    z[0, 2, 1] = 6.0  # mean after 3: class 1 (3) beats class 2 (4/3) -> wrong, but in the top 5
    z[1, :, 3] = 1.0  # image 1 (label 0): class 3 everywhere; class 0 lowest of all ...
    z[1, :, 0] = -1.0  # ... so label 0 is ranked last of 7 -> never in the top 5
    labels = torch.tensor([2, 0])
    cov = torch.tensor([[0.1, 0.2, 0.3], [0.3, 0.4, 0.4]])
    acc = curves.CurveAccumulator(3)
    acc.add(z, labels, cov)
    assert acc.images == 2
    assert acc.top1.tolist() == [0.0, 1.0, 0.0]
    assert acc.top5.tolist() == [1.0, 1.0, 1.0]  # image 0 always in the top 5, image 1 never
    df = acc.frame(method="m", policy="p")
    assert list(df.columns[:2]) == ["method", "policy"]
    assert df.glimpses.tolist() == [1, 2, 3]
    assert df.top1.tolist() == [0.0, 50.0, 0.0]
    assert df.top5.tolist() == [50.0, 50.0, 50.0]
    assert df.coverage.tolist() == pytest.approx([0.2, 0.3, 0.35])
    # a second batch adds up
    acc.add(z[:1], labels[:1], None)
    assert acc.images == 3 and acc.coverage.tolist() == pytest.approx([1.4, 1.6, 1.7])


def test_accumulator_per_step_readout_and_truncation():
    z = torch.zeros(1, 4, 6)
    z[0, 0, 5] = 1.0
    z[0, 1, 2] = 1.0  # per-step: right at step 2 only (label 2); cumulative would tie-break to 2 too
    z[0, 2, 5] = 1.0
    acc = curves.CurveAccumulator(3)  # only the first 3 steps are read
    acc.add(z, torch.tensor([2]), torch.ones(1, 4), cumulative=False)
    assert acc.top1.tolist() == [0.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="need 5"):
        curves.CurveAccumulator(5).add(z, torch.tensor([2]), None)
    with pytest.raises(ValueError, match="labels"):
        curves.CurveAccumulator(2).add(z, torch.tensor([2, 1]), None)


# ------------------------------------------------------------------------------------------------
# boxes and coverage
# ------------------------------------------------------------------------------------------------

def test_box_coverage_is_the_cumulative_union():
    boxes = torch.tensor([[[0, 0, 5, 5], [0, 0, 5, 5], [5, 5, 10, 10], [-3, 8, 2, 14]]])
    cov = curves.box_coverage(boxes, 10)
    # 25 px, the same square again, a disjoint 25 px, then a clipped 2 x 2 square
    assert cov[0].tolist() == pytest.approx([0.25, 0.25, 0.5, 0.54])
    masks = curves.box_masks(boxes, 10)
    assert masks.flatten(2).float().mean(-1)[0].tolist() == pytest.approx(cov[0].tolist())


def test_saccader_boxes_agree_with_geometry_coverage(saccader):
    from saccader.geometry import GlimpseGeometry

    idx = torch.tensor([[0, 9, 63, 9]])
    geom = GlimpseGeometry.from_model_cfg(saccader.cfg)
    assert curves.box_coverage(curves.saccader_boxes(saccader, idx), 96)[0].tolist() == pytest.approx(geom.coverage(idx)[0].tolist())


def test_dram_boxes_are_the_high_resolution_glimpses():
    from saccader.models.dram import extract_glimpses

    s, g = 96, 33
    img = torch.arange(s * s, dtype=torch.float32).view(1, 1, s, s)
    loc = torch.tensor([[[-0.6, 0.3], [0.0, 0.0], [0.65, -0.65]]])
    boxes = curves.dram_boxes(loc, s, g)
    for t in range(3):
        y0, x0, y1, x1 = boxes[0, t].tolist()
        assert (y1 - y0, x1 - x0) == (g, g) and 0 <= y0 and y1 <= s and 0 <= x0 and x1 <= s
        assert torch.equal(extract_glimpses(img, loc[:, t], g), img[..., y0:y1, x0:x1])


def test_classnet_boxes_are_its_glimpses_on_its_own_image():
    from saccader.models.classnet import glimpses_at_indices

    net = create_model("saccader_classnet_tiny")
    s = net.hires_size
    img = torch.arange(s * s, dtype=torch.float32).view(1, 1, s, s)
    idx = torch.tensor([[0, 27, 63]])
    crops = glimpses_at_indices(img, idx, grid_size=net.grid_size, location_scale=net.location_scale,
                                size=net.glimpse_size)
    for t, (y0, x0, y1, x1) in enumerate(curves.classnet_boxes(net, idx)[0].tolist()):
        assert torch.equal(crops[0, t], img[0, :, y0:y1, x0:x1])


# ------------------------------------------------------------------------------------------------
# curves of untrained tiny models
# ------------------------------------------------------------------------------------------------

def test_saccader_curves_on_untrained_tiny_model(images, saccader):
    df = curves.saccader_curves(saccader, images, methods.SACCADER_POLICIES, max_glimpses=7, batch_size=4, seeds=(0, 1))
    assert list(df.columns) == curves.RESULT_COLUMNS
    assert set(df.policy) == set(methods.SACCADER_POLICIES)
    assert sorted(df[df.policy == "random"].seed.unique()) == [0, 1]  # the random policy once per seed
    assert (df[df.policy != "random"].seed == 0).all()
    assert len(df) == 7 * (len(methods.SACCADER_POLICIES) + 1)
    assert (df.images == 10).all()
    one = (33 / 96) ** 2
    assert df[df.glimpses == 1].coverage.tolist() == pytest.approx([one] * 7, rel=1e-6)
    for _, g in df.groupby(["policy", "seed"]):
        assert g.coverage.is_monotonic_increasing and (g.top5 >= g.top1).all()
    assert df[df.policy == "center"].coverage.tolist() == pytest.approx([one] * 7, rel=1e-6)
    # the learned point at 6 glimpses is the model's own 6-glimpse prediction
    x, y = images.get_batch(range(10))
    with torch.no_grad():
        ref = (saccader(x, num_glimpses=6).logits.argmax(-1) == y).float().mean().item() * 100
    got = df[(df.policy == "learned") & (df.glimpses == 6)].top1.item()
    assert got == pytest.approx(ref)
    # same seed, same random curve
    again = curves.saccader_curves(saccader, images, ["random"], max_glimpses=7, batch_size=4, seeds=(1,))
    pd.testing.assert_frame_equal(again.reset_index(drop=True),
                                  df[(df.policy == "random") & (df.seed == 1)].reset_index(drop=True))


def test_dram_classnet_and_full_image_curves(images, bagnet):
    torch.manual_seed(2)
    dram = create_model("dram_tiny").eval()
    d = curves.dram_curves(dram, images, max_glimpses=3, batch_size=5)
    assert list(d.columns) == curves.RESULT_COLUMNS and d.glimpses.tolist() == [1, 2, 3]
    assert d.coverage.iloc[0] == pytest.approx((33 / 96) ** 2, rel=1e-6)
    x, y = images.get_batch(range(10))
    with torch.no_grad():
        out = dram(x, num_glimpses=3)
    assert d.top1.tolist() == pytest.approx([(out.step_logits[:, t].argmax(-1) == y).float().mean().item() * 100
                                             for t in range(3)])
    c = curves.classnet_curves(create_model("saccader_classnet_tiny").eval(), images, max_glimpses=2, batch_size=5)
    assert c.coverage.iloc[0] == pytest.approx((49 / 144) ** 2, rel=1e-6)
    f = curves.full_image_curves(bagnet, images, batch_size=5)
    assert len(f) == 1 and f.glimpses.item() == 64 and f.coverage.item() == 1.0
    with torch.no_grad():
        ref = (bagnet(x)["logits"].argmax(-1) == y).float().mean().item() * 100
    assert f.top1.item() == pytest.approx(ref)


def test_full_image_cnn_curve_is_one_view_of_the_whole_image(images):
    torch.manual_seed(3)
    cnn = create_model("resnet_tiny_full").eval()
    f = curves.full_image_curves(cnn, images, batch_size=5, method="cnn_full_image", policy="full_image")
    assert list(f.columns) == curves.RESULT_COLUMNS
    assert (f.method.item(), f.policy.item(), f.glimpses.item(), f.coverage.item()) == ("cnn_full_image", "full_image", 1, 1.0)
    x, y = images.get_batch(range(10))
    with torch.no_grad():
        ref = (cnn(x)["logits"].argmax(-1) == y).float().mean().item() * 100
    assert f.top1.item() == pytest.approx(ref)
    # a full-image row is part of every "at T glimpses" view
    assert set(results.at_glimpses(pd.concat([f, _table()]), 6).method) >= {"cnn_full_image"}


def test_seed_spread_aggregates_over_training_seeds():
    rows = []
    for ts, acc in ((0, 80.0), (1, 90.0), (2, 100.0)):
        for g in (1, 6):
            rows.append({"train_seed": ts, "method": "saccader", "policy": "learned", "glimpses": g,
                         "coverage": 0.1 * g, "top1": acc - (6 - g), "top5": 100.0, "images": 10, "seed": 0})
        rows.append({"train_seed": ts, "method": "bagnet_full_image", "policy": "all_cells", "glimpses": 64,
                     "coverage": 1.0, "top1": acc, "top5": 100.0, "images": 10, "seed": 0})
    sp = seeds.seed_spread(pd.DataFrame(rows), glimpses=(6,))
    learned = sp[sp.method == "saccader"].iloc[0]
    assert learned.glimpses == 6 and learned.runs == 3
    assert (learned.top1, learned.top1_sd, learned.top1_min, learned.top1_max) == pytest.approx((90.0, 10.0, 80.0, 100.0))
    assert (sp.method == "bagnet_full_image").sum() == 1  # kept although it is not at 6 glimpses


def test_training_seed_runs_chain_the_seed_and_seed_0_is_the_preset_run():
    runs = {f"policy@{s}": ("policy", {}, s) for s in (0, 1)}
    key = results.results_key("tiny", {**runs, "policy": ("policy", {})}, {})
    assert key["runs"]["policy@0"] == key["runs"]["policy"] != key["runs"]["policy@1"]
    pol1, cfg1 = planned_run("policy", "tiny", chain_overrides={"seed": 1})
    assert cfg1.seed == 1 and "location-" in cfg1.init_from
    assert cfg1.init_from != planned_run("policy", "tiny")[1].init_from  # the whole chain is reseeded
    with pytest.raises(ValueError, match="train_seeds is empty"):
        seeds.get_training_seeds("tiny", train_seeds=())


def test_occlusion_without_occluders_is_the_full_image_accuracy(images, saccader, bagnet):
    occ = occlusion.occlusion_curves(bagnet, saccader, images, ["learned", "random"], max_occluded=3, batch_size=5, seeds=(0, 1))
    full = curves.full_image_curves(bagnet, images, batch_size=5)
    assert list(occ.columns) == occlusion.OCCLUSION_COLUMNS
    k0 = occ[occ.occluded == 0]
    assert len(k0) == 3  # learned once, random twice
    assert k0.top1.tolist() == pytest.approx([full.top1.item()] * 3)
    assert k0.top5.tolist() == pytest.approx([full.top5.item()] * 3)
    assert (k0.coverage == 0).all()
    learned = occ[occ.policy == "learned"].sort_values("occluded")
    sac = curves.saccader_curves(saccader, images, ["learned"], max_glimpses=3, batch_size=5)
    assert learned.coverage.tolist()[1:] == pytest.approx(sac.coverage.tolist(), rel=1e-6)


def test_occluding_fills_the_glimpse_squares_with_the_mean():
    class Spy(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.seen = []

        def forward(self, x):
            self.seen.append(x.clone())
            return {"logits": torch.zeros(len(x), 10)}

    sacc = create_model("saccader33_tiny").eval()
    ds = build_dataset("clutter", "test", num_images=2, use_cache=False)
    spy = Spy()
    occlusion.occlusion_curves(spy, sacc, ds, ["center"], max_occluded=1, batch_size=2)
    intact, occluded = spy.seen
    y0, x0, y1, x1 = curves.saccader_boxes(sacc, torch.tensor([[36]]))[0, 0].tolist()  # centre cell of 8 x 8
    assert (occluded[..., y0:y1, x0:x1] == 0).all()
    outside = torch.ones(96, 96, dtype=torch.bool)
    outside[y0:y1, x0:x1] = False
    assert torch.equal(occluded[..., outside], intact[..., outside])


# ------------------------------------------------------------------------------------------------
# results files, provenance, staleness
# ------------------------------------------------------------------------------------------------

def _table():
    return pd.DataFrame({"method": ["saccader"], "policy": ["learned"], "glimpses": [6], "coverage": [0.5],
                         "top1": [81.25], "top5": [99.5], "images": [16], "seed": [0]})[curves.RESULT_COLUMNS]


def test_results_round_trip_with_provenance(tmp_path):
    df = _table()
    key = {"code_version": "a", "evaluation_code": "b", "runs": {"saccader": "h"}, "settings": {"seeds": [0]}}
    path = results.write_results(df, "tiny", "curves", config={"seeds": [0]}, root=tmp_path, key=key)
    assert path == tmp_path / "tiny" / "curves.csv"
    back, meta = results.read_results("tiny", "curves", root=tmp_path)
    pd.testing.assert_frame_equal(back, df)
    assert meta["key"] == key and meta["preset"] == "tiny" and meta["rows"] == 1
    for field in ("git_commit", "torch", "time", "device"):
        assert field in meta
    with pytest.raises(FileNotFoundError, match="python -m saccader evaluate --preset tiny"):
        results.read_results("tiny", "occlusion", root=tmp_path)


def test_stale_results_are_recomputed_and_say_why(tmp_path, capsys):
    key = {"code_version": "a", "evaluation_code": "b", "runs": {"saccader": "h1"}, "settings": {"seeds": [0]}}
    calls = []

    def compute():
        calls.append(1)
        return _table()

    where = dict(root=tmp_path, local_root=tmp_path / "local", write="committed", allow_dirty=True)
    results.cached_table("tiny", "curves", key, compute, **where)
    assert len(calls) == 1 and "no results file yet" in capsys.readouterr().out
    results.cached_table("tiny", "curves", key, compute, **where)
    assert len(calls) == 1 and "using" in capsys.readouterr().out
    for change, words in [({"code_version": "z"}, "code_version changed"),
                          ({"runs": {"saccader": "h2"}}, "the saccader run differs"),
                          ({"settings": {"seeds": [0, 1]}}, "setting seeds differs")]:
        results.cached_table("tiny", "curves", {**key, **change}, compute, **where)
        assert words in capsys.readouterr().out
        results.cached_table("tiny", "curves", key, compute, **where)  # back to the original key
        capsys.readouterr()
    assert len(calls) == 7
    assert not (tmp_path / "local").exists()  # write="committed" wrote the committed place only
    results.cached_table("tiny", "curves", key, compute, force=True, **where)
    assert len(calls) == 8 and "forced" in capsys.readouterr().out
    # a file without a key (e.g. written by hand) is never trusted
    meta = tmp_path / "tiny" / "curves.json"
    meta.write_text(json.dumps({k: v for k, v in json.loads(meta.read_text()).items() if k != "key"}))
    assert results.stale_reasons(json.loads(meta.read_text()), key) == ["its provenance has no cache key"]


def test_get_results_reuses_a_matching_file_without_training(tmp_path, monkeypatch, capsys):
    settings = {"seeds": [0], "max_images": 16, "max_glimpses": 6, "methods": ["saccader", "dram"]}
    key = results.results_key("tiny", results._runs_of(["saccader", "dram"]), settings)
    assert set(key["runs"]) == {"saccader", "dram"} and key["evaluation_code"] == results.evaluation_code_version()
    results.write_results(_table(), "tiny", "curves", root=tmp_path, key=key)

    def no_training(*a, **k):
        raise AssertionError("get_results recomputed a matching file")

    monkeypatch.setattr(results, "evaluate_all", no_training)
    where = dict(root=tmp_path, local_root=tmp_path / "local")
    df = results.get_results("tiny", seeds=(0,), max_images=16, max_glimpses=6, methods=["saccader", "dram"], **where)
    pd.testing.assert_frame_equal(df, _table())
    assert df.attrs["source"] == "committed"
    with pytest.raises(AssertionError, match="recomputed"):  # other settings: recomputes
        results.get_results("tiny", seeds=(0,), max_images=8, max_glimpses=6, methods=["saccader", "dram"], **where)
    assert "setting max_images differs" in capsys.readouterr().out


def _weights_key(weights):
    return {"code_version": "a", "evaluation_code": "b", "runs": {"saccader": "policy-1", "dram": "dram-1"},
            "weights": weights, "settings": {"seeds": [0]}}


def test_results_are_keyed_by_the_weights_of_the_runs_trained_here(tmp_path, capsys):
    """Committed results computed from weights {saccader: w1, dram: w2}. The book's reading
    (write="local") uses them whatever the local weights, and says when these differ; this
    machine's own results (write="own", ``evaluate --local``) are computed from the local runs when
    their weights differ, written to the local place (the committed file stays), and from then on
    preferred by the book's reading; ``evaluate`` (write="committed") recomputes the committed file."""
    committed = _weights_key({"saccader": "w1" * 32, "dram": "w2" * 32})
    results.write_results(_table(), "tiny", "curves", root=tmp_path, key=committed)
    calls = []

    def compute():
        calls.append(1)
        df = _table()
        df["top1"] = 50.0
        return df

    where = dict(root=tmp_path, local_root=tmp_path / "local")
    for local in ({"saccader": "w1" * 32, "dram": "w2" * 32}, {"saccader": None, "dram": None},
                  {"saccader": "w1" * 32, "dram": None}):
        for write in ("local", "own", "committed"):
            df = results.cached_table("tiny", "curves", _weights_key(local), compute, write=write, **where)
            assert not calls and df.attrs["source"] == "committed" and df.top1.item() == 81.25
            assert df.attrs["weights"] == [] and "same weights" in results.source_note(df)
    local = {"saccader": "w9" * 32, "dram": None}
    df = results.cached_table("tiny", "curves", _weights_key(local), compute, **where)
    out = capsys.readouterr().out
    assert not calls and df.attrs["source"] == "committed" and df.top1.item() == 81.25
    assert "the local saccader run has other weights" in out and "w1w1w1w1w1w1 -> w9w9w9w9w9w9" in out
    assert "other weights" in df.attrs["weights"][0] and "trained elsewhere" in results.source_note(df)
    df = results.cached_table("tiny", "curves", _weights_key(local), compute, write="own", **where)
    assert calls == [1] and df.attrs["source"] == "local" and df.top1.item() == 50.0
    assert (tmp_path / "local" / "tiny" / "curves.csv").exists()
    assert results.read_results("tiny", "curves", tmp_path)[0].top1.item() == 81.25  # the committed file is kept
    again = results.cached_table("tiny", "curves", _weights_key(local), compute, **where)
    assert calls == [1] and again.attrs["source"] == "local" and "other weights" in again.attrs["reasons"][0]
    assert results.stale_reasons(results.read_results("tiny", "curves", tmp_path)[1], _weights_key(local), weights=False) == []
    with pytest.raises(Exception, match="uncommitted changes"):  # a dirty tree never rewrites committed results
        with mock.patch("saccader.provenance.git_dirty", return_value=True):
            results.cached_table("tiny", "curves", _weights_key(local), compute, write="committed", **where)
    results.cached_table("tiny", "curves", _weights_key(local), compute, write="committed", allow_dirty=True, **where)
    assert calls == [1, 1] and results.read_results("tiny", "curves", tmp_path)[0].top1.item() == 50.0


def test_local_results_are_compared_with_the_committed_ones_within_the_training_spread(tmp_path):
    rows = [dict(method="saccader", policy="learned", glimpses=t, coverage=0.1 * t, top1=80.0 + t, top5=99.0,
                 images=10, seed=0) for t in (1, 6, 12)]
    committed = pd.DataFrame(rows)[curves.RESULT_COLUMNS]
    results.write_results(committed, "tiny", "curves", root=tmp_path)
    seed_table = pd.concat([committed.assign(train_seed=s, top1=committed.top1 + d) for s, d in ((0, 0), (1, 2), (2, -2))])
    results.write_results(seed_table, "tiny", "training_seeds", root=tmp_path)  # sd over training runs: 2 points
    local = committed.copy()
    local["top1"] = [81.0 + 1.0, 86.0 - 3.0, 92.0 + 10.0]  # differences +1, -3, +10
    local.attrs.update(source="local", path="runs/results/tiny/curves.csv", reasons=["other weights"])
    cmp = seeds.committed_comparison(local, "tiny", root=tmp_path)
    assert cmp["at"].tolist() == [1, 6, 12]
    assert cmp.difference.tolist() == pytest.approx([1.0, -3.0, 10.0])
    assert cmp.training_sd.tolist() == pytest.approx([2.0, 2.0, 2.0])
    assert cmp.verdict.tolist() == ["within 2 sd", "within 2 sd", "outside 2 sd"]
    assert "this machine's own runs" in results.source_note(local) and "other weights" in results.source_note(local)
    committed.attrs.update(source="committed", path="data/results/tiny/curves.csv")
    assert seeds.committed_comparison(committed, "tiny", root=tmp_path) is None
    assert "committed results" in results.source_note(committed)


def test_planned_runs_chain_like_get_trained():
    pol, cfg = planned_run("policy", "tiny")
    scratch, cfg_s = planned_run("policy", "tiny", {"init_location": "scratch"})
    assert pol != scratch
    assert "location-" in cfg.init_from and "representation-" in cfg_s.init_from
    assert pol.parent.name == "tiny" and pol.name.startswith("policy-")


def test_unknown_method_preset_and_policy_are_clear_errors(images, saccader):
    with pytest.raises(ValueError, match="unknown method 'nope'.*saccader"):
        methods.evaluate_all("tiny", methods=["nope"])
    with pytest.raises(ValueError, match="unknown method"):
        results.get_results("tiny", methods=["saccader", "nope"])
    with pytest.raises(ValueError, match="unknown preset 'huge'.*tiny"):
        results.get_results("huge")
    with pytest.raises(ValueError, match="unknown preset"):
        methods.evaluate_all("huge")
    with pytest.raises(ValueError, match="unknown policy"):
        curves.saccader_curves(saccader, images, ["telepathy"], max_glimpses=2)
    with pytest.raises(ValueError, match="has the policies"):
        methods.evaluate_method("dram", None, None, policies=["random"])
    with pytest.raises(ValueError, match="write='public'.*'committed', 'local' or 'own'"):
        results.cached_table("tiny", "curves", {}, lambda: pd.DataFrame(), write="public")
    assert "imagenette" in methods.PRESETS  # every training preset can be evaluated


def test_folder_presets_need_their_data_folder(tmp_path):
    from saccader import book
    from saccader.evaluation import cli
    from saccader.train.config import ConfigError

    args = dict(what=["curves"], seeds=[0], max_images=None, device="cpu", max_glimpses=12, max_occluded=12,
                batch_size=None, train_seeds=[0])
    with pytest.raises(ConfigError, match="preset 'imagenette' reads the imagenette folder: pass --data-dir"):
        cli.check_arguments("imagenette", data_dir=None, **args)
    with pytest.raises(ConfigError, match=f"--data-dir {tmp_path}: .*val"):
        cli.check_arguments("imagenette", data_dir=str(tmp_path), **args)
    with pytest.raises(ConfigError, match="preset 'imagenette' reads the imagenette folder: pass --data-dir"):
        book.check_arguments("imagenette")
    cli.check_arguments("tiny", data_dir=None, **args)


def test_cli_parses_evaluate():
    from saccader.cli import build_parser

    args = build_parser().parse_args(["evaluate", "--preset", "tiny", "--seeds", "0", "3", "--max-images", "8"])
    assert args.seeds == [0, 3] and args.max_images == 8 and callable(args.func)


# ------------------------------------------------------------------------------------------------
# figures drawn from the tables
# ------------------------------------------------------------------------------------------------

def test_paper_points_are_only_the_stated_ones():
    from saccader.report import figures

    pts = figures.paper_points()
    got = {(r.model, r.metric, r.glimpses): r.value for _, r in pts.iterrows()}
    assert got == {("saccader", "top1", 6): 70.31, ("dram", "top1", 8): 67.5,
                   ("saccader_nasnet", "top1", 6): 75.03, ("saccader_nasnet", "top5", 6): 91.19}
    assert pts[pts.model == "saccader_nasnet"].coverage.tolist() == pytest.approx([0.2947, 0.2947])
    assert pts[pts.model != "saccader_nasnet"].coverage.isna().all()


def test_figures_and_tables_from_a_curves_table(images, saccader, bagnet):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from saccader.report import figures

    df = pd.concat([curves.saccader_curves(saccader, images, ["learned", "random"], max_glimpses=6, seeds=(0, 1)),
                    curves.full_image_curves(bagnet, images)], ignore_index=True)
    for fig in (figures.curves_figure(df, paper=True), figures.accuracy_heatmap(df)):
        assert fig.axes
        plt.close(fig)
    table = figures.results_table({"tiny": df})
    ours = table[table.source == "ours (tiny)"]
    assert set(ours.method) == {"Saccader (learned)", "random policy", "BagNet, full image"}
    assert ours[ours.method == "random policy"].seeds.item() == 2
    paper = table[table.source == "paper (ImageNet)"].set_index("method")
    assert paper.loc["Saccader (learned)", "top1"] == 70.31 and paper.loc["DRAM", "glimpses"] == 8
    s = results.summary(df, glimpses=(1, 6))
    assert list(s.columns) == ["method", "policy", "top1 @1", "top1 @6", "coverage @6"] and len(s) == 3


def test_occlusion_figure_has_a_row_per_classifier(images, saccader, bagnet):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from saccader.report import figures

    cnn = create_model("resnet_tiny_full").eval()
    occ = pd.concat([occlusion.occlusion_curves(bagnet, saccader, images, ["learned"], max_occluded=2, batch_size=5),
                     occlusion.occlusion_curves(cnn, saccader, images, ["learned"], max_occluded=2, batch_size=5,
                                        classifier_name="cnn_full_image")], ignore_index=True)
    fig = figures.occlusion_figure(occ, metrics=("top1", "top5"))
    assert len(fig.axes) == 2 * 2 * 2
    assert "CNN, full image" in fig.axes[4].get_ylabel()
    plt.close(fig)


def test_occlusion_classifiers_must_see_the_whole_image():
    with pytest.raises(ValueError, match="not a full-image method"):
        occlusion.occlusion_all("tiny", classifiers=["dram"])


def test_imagenet_keys_need_the_data_folder():
    from saccader.train.config import ConfigError

    key = results.results_key("imagenet", results._runs_of(["saccader", "saccader_classnet"]), {}, data_dir="/no/imagenet")
    assert set(key["runs"]) == {"saccader", "saccader_classnet"}
    with pytest.raises(ConfigError, match="data-dir"):
        results.get_results("imagenet")


def test_committed_results_are_written_only_from_a_clean_tree(tmp_path, monkeypatch):
    from saccader import provenance
    from saccader.errors import UserError

    key = _weights_key({"saccader": None, "dram": None})
    calls = []

    def compute():
        calls.append(1)
        return _table()

    monkeypatch.setattr(provenance, "git_dirty", lambda: True)
    where = dict(root=tmp_path, local_root=tmp_path / "local")
    with pytest.raises(UserError, match="uncommitted changes.*--allow-dirty"):
        results.cached_table("tiny", "curves", key, compute, write="committed", **where)
    assert not calls and not (tmp_path / "tiny").exists()
    results.cached_table("tiny", "curves", key, compute, **where)  # the book's local results need no commit
    results.cached_table("tiny", "curves", key, compute, write="committed", allow_dirty=True, force=True, **where)
    assert len(calls) == 2 and results.read_results("tiny", "curves", tmp_path)[1]["git_dirty"] is True


def test_each_table_is_keyed_by_the_evaluation_modules_it_imports(tmp_path, monkeypatch):
    """Editing one table's module stales that table only; editing a module it imports stales it too."""
    import shutil

    assert results.evaluation_modules("saccader.evaluation.dram_study") == ["curves", "dram_study", "methods", "results"]
    assert results.evaluation_modules("saccader.evaluation.results") == ["curves", "methods", "results"]
    copy = tmp_path / "evaluation"
    shutil.copytree(results.EVALUATION_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(results, "EVALUATION_DIR", copy)
    tables = ["saccader.evaluation.results", "saccader.evaluation.occlusion", "saccader.evaluation.seeds",
              "saccader.evaluation.dram_study"]
    before = {t: results.evaluation_code_version(t) for t in tables}
    assert len(set(before.values())) == len(tables)
    with open(copy / "dram_study.py", "a") as f:
        f.write("\n# an edit\n")
    after = {t: results.evaluation_code_version(t) for t in tables}
    assert [t for t in tables if after[t] != before[t]] == ["saccader.evaluation.dram_study"]
    (copy / "behaviour.py").write_text((copy / "behaviour.py").read_text() + "\n# an edit\n")
    assert {t: results.evaluation_code_version(t) for t in tables} == after  # no table imports it
    (copy / "methods.py").write_text((copy / "methods.py").read_text() + "\n# an edit\n")
    assert all(results.evaluation_code_version(t) != after[t] for t in tables)
    # a relative import counts as well
    (copy / "seeds.py").write_text("from .claims import x\n")
    assert results.evaluation_modules("saccader.evaluation.seeds") == ["claims", "curves", "methods", "seeds"]
    with pytest.raises(ValueError, match="not a module"):
        results.evaluation_code_version("saccader.evaluation.nothing")
