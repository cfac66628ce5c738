"""Collapsed runs: a seed far below its seed-mates' validation correlation is flagged, per variant."""
import pandas as pd

from v1twin.collapsed_runs import collapsed, flag_collapsed


def test_a_seed_far_below_its_seed_mates_is_collapsed():
    assert collapsed({1: 0.60, 2: 0.58, 3: 0.14}, 0.75) == {1: False, 2: False, 3: True}
    assert collapsed({1: 0.60, 2: 0.50}, 0.75) == {1: False, 2: False}  # 0.5 >= 0.75 x 0.6
    assert collapsed({1: 0.60}, 0.75) == {1: False}  # no seed-mate to compare with
    runs = pd.DataFrame({"variant": ["a"] * 6 + ["b"] * 2, "seed": [1, 1, 2, 2, 3, 3, 1, 2], "k": [2, 3] * 4,
                         "best_val_correlation": [0.6, 0.6, 0.62, 0.62, 0.3, 0.3, 0.2, 0.19]})
    flagged = flag_collapsed(runs, 0.75)
    assert flagged["collapsed"].tolist() == [False, False, False, False, True, True, False, False]
