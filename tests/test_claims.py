"""Paired comparisons of two curves over training runs, and the claims table."""
import pandas as pd
import pytest

from saccader.evaluation import claims


def _table(values):
    """values: {(method, policy): [top1 of seed 0, seed 1, ...]} at 6 glimpses."""
    rows = []
    for (method, policy), accs in values.items():
        for seed, acc in enumerate(accs):
            rows.append({"train_seed": seed, "method": method, "policy": policy, "glimpses": 6, "coverage": 0.3,
                         "top1": acc, "top5": 99.0, "images": 10, "seed": 0})
    return pd.DataFrame(rows)


def test_difference_is_paired_by_training_seed():
    df = _table({("saccader", "learned"): [90.0, 80.0, 70.0], ("saccader", "random"): [85.0, 76.0, 68.0]})
    d = claims.paired_difference(df, ("saccader", "learned"), ("saccader", "random"), 6)
    assert d.per_seed == {0: 5.0, 1: 4.0, 2: 2.0}
    assert d.mean == pytest.approx(11 / 3) and d.sd == pytest.approx(pd.Series([5.0, 4.0, 2.0]).std())
    assert (d.agree, d.runs, d.verdict) == (3, 3, "holds")


@pytest.mark.parametrize("b, verdict", [([89.5, 79.5, 69.5], "not reproduced"),  # within the 1-point margin
                                        ([91.0, 60.0, 50.0], "holds on average, not in every run"),
                                        ([95.0, 70.0, 60.0],
                                         "holds on average, not in every run; the mean is within one sd over runs"),
                                        ([99.0, 90.0, 80.0], "not reproduced")])  # reversed
def test_verdicts(b, verdict):
    df = _table({("saccader", "learned"): [90.0, 80.0, 70.0], ("saccader", "random"): b})
    assert claims.paired_difference(df, ("saccader", "learned"), ("saccader", "random"), 6).verdict == verdict


def test_random_policy_is_averaged_over_evaluation_seeds_first():
    df = _table({("saccader", "learned"): [90.0], ("saccader", "random"): [80.0]})
    extra = df[df.policy == "random"].assign(seed=1, top1=70.0)
    d = claims.paired_difference(pd.concat([df, extra]), ("saccader", "learned"), ("saccader", "random"), 6)
    assert d.per_seed == {0: 15.0} and d.runs == 1


def test_missing_curve_is_a_clear_error_and_a_curves_table_is_one_run():
    df = _table({("saccader", "learned"): [90.0]})
    with pytest.raises(ValueError, match="no rows for .*dram"):
        claims.paired_difference(df, ("saccader", "learned"), ("dram", "learned"), 6)
    one = _table({("saccader", "learned"): [90.0], ("saccader_no_pretraining", "learned"): [85.0]}).drop(
        columns="train_seed")
    d = claims.paired_difference(one, ("saccader", "learned"), ("saccader_no_pretraining", "learned"), 6)
    assert d.runs == 1 and d.mean == 5.0


def test_claims_table_has_a_row_per_claim():
    vals = {c: [80.0, 81.0] for c in [("saccader", "learned")]}
    vals.update({c: [70.0, 72.0] for c in [("saccader", "random"), ("saccader", "ordered_logits"),
                                            ("saccader_no_pretraining", "learned"), ("dram", "learned")]})
    df = pd.concat([_table(vals), _table(vals).assign(glimpses=1)])
    t = claims.claims_table(df)
    assert len(t) == len(claims.PAPER_CLAIMS) and set(t.verdict) == {"holds"}
    assert t["runs agreeing"].tolist() == ["2/2"] * len(t)


def test_intervals_of_accuracies_on_a_finite_test_set():
    from saccader.evaluation.claims import accuracy_interval, difference_interval

    low, high = accuracy_interval(50.0, 100)  # Wilson score interval: 40.38 .. 59.62
    assert abs(low - 40.383) < 0.01 and abs(high - 59.617) < 0.01
    low, high = accuracy_interval(100.0, 500)  # never above 100 %, still a width
    assert high <= 100.0 + 1e-9 and low < 100.0
    low, high = difference_interval(73.0, 42.2, 500)
    assert low < 30.8 < high and abs((high - low) / 2 - 1.96 * (0.73 * 0.27 / 500 + 0.422 * 0.578 / 500) ** 0.5 * 100) < 1e-6
