"""Identifiability (METHODS §11): the populations' plan, the peak criterion on constructed ARI curves,
and the detection limit."""

import copy

import numpy as np
import pandas as pd
import pytest

from v1twin.config_schema import ConfigError
from v1twin.december.clusters import DecemberClusters, save_clusters
from v1twin.identifiability import Population, from_params, population_params, populations, true_k, with_populations
from v1twin.identifiability.tables import december_labels, detection_limit, method_rows, peak

SECTION = {"variant": "gaussian_g0", "separations": [0, 15, 2.5], "continuum": True, "population": {"neurons": 30},
           "seeds": [1, 2], "peak_margin": 0.05}


def curve(values: dict[int, float]) -> pd.DataFrame:
    return pd.DataFrame({"k": list(values), "ari_mean": list(values.values())})


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({2: 0.2, 4: 0.3, 6: 0.6, 8: 0.4, 10: 0.3}, {"peak_k": 6, "prominence": 0.2, "peaks_at_true_k": True}),
        # the maximum is at the true K but only 0.03 above a neighbour: no noticeable peak
        ({2: 0.2, 4: 0.57, 6: 0.6, 8: 0.4, 10: 0.3}, {"peak_k": 6, "prominence": 0.03, "peaks_at_true_k": False}),
        # a prominent bump at the true K that is not the maximum: the curve peaks elsewhere
        ({2: 0.9, 4: 0.3, 6: 0.6, 8: 0.4, 10: 0.3}, {"peak_k": 2, "prominence": 0.2, "peaks_at_true_k": False}),
        # falling monotonically, as for a continuum: the true K is below its left neighbour
        ({2: 0.5, 4: 0.4, 6: 0.3, 8: 0.2, 10: 0.1}, {"peak_k": 2, "prominence": -0.1, "peaks_at_true_k": False}),
    ],
)
def test_the_peak_criterion_on_constructed_curves(values, expected):
    found = peak(curve(values).sample(frac=1, random_state=0), true_k=6, margin=0.05)  # order does not matter
    assert found == {**expected, "prominence": pytest.approx(expected["prominence"])}


def test_a_peak_needs_the_true_k_inside_the_tested_range():
    with pytest.raises(ValueError, match="true K 2 must be an inner value"):
        peak(curve({2: 0.5, 4: 0.1, 6: 0.1}), true_k=2, margin=0.05)


def test_the_detection_limit_is_the_smallest_separation_of_an_unbroken_run_of_peaks():
    summary = pd.DataFrame({
        "method": ["kmeans"] * 5 + ["gmm"] * 2,
        "separation": [15.0, 8.0, 4.0, 2.0, float("nan"), 15.0, 8.0],
        "peaks_at_true_k": [True, True, False, True, False, False, True],
    })
    assert detection_limit(summary, "kmeans") == 8.0  # the peak at 2 after a miss at 4 does not count
    assert pd.isna(detection_limit(summary, "gmm"))  # the clearest population already misses


def test_populations_are_named_by_separation_largest_first_then_the_continuum():
    found = populations(SECTION)
    assert [p.label for p in found] == ["15", "2.5", "0", "continuum"]
    assert [p.mouse for p in found] == ["identifiability_15", "identifiability_2p5", "identifiability_0",
                                        "identifiability_continuum"]
    assert found[1].variant == "identifiability-2.5"
    assert found[1].simulation == {"neurons": 30, "type_separation": 2.5}
    assert found[-1].separation is None and found[-1].simulation == {"neurons": 30, "discreteness": 0.0}
    assert from_params(population_params(found)) == found


def small_config() -> dict:
    return {
        "dataset": {"source": "simulate", "mice": ["m1"], "simulation": {"n_types": 6, "neurons": 100},
                    "extra_mice": {}},
        "variants": {"gaussian_g0": {"core": {"type": "cnn"}, "readout": {"type": "gaussian"}}},
        "clustering": {"k_values": [2, 4, 6, 8]},
        "identifiability": copy.deepcopy(SECTION),
    }


def test_each_population_becomes_a_simulated_mouse_and_a_variant_fitted_on_the_section_seeds():
    config = small_config()
    resolved = with_populations(config)
    assert config == small_config()  # the input is left as it was
    assert resolved["dataset"]["extra_mice"]["identifiability_2p5"] == {"neurons": 30, "type_separation": 2.5}
    variant = resolved["variants"]["identifiability-2.5"]
    assert variant == {"core": {"type": "cnn"}, "readout": {"type": "gaussian"}, "mice": ["identifiability_2p5"],
                       "seeds": [1, 2]}
    assert true_k(resolved) == 6
    without = {key: value for key, value in small_config().items() if key != "identifiability"}
    assert with_populations(without) == without


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["identifiability"].update(variant="gaussian_g1"), "identifiability.variant: 'gaussian_g1'"),
        (lambda c: c["identifiability"].update(separations=[40.0, 1.0]),
         r"identifiability.separations: \[40.0\] are beyond the design's separation for n_types = 6 \(15.63\)"),
        (lambda c: c["clustering"].update(k_values=[2, 4, 6]), r"planted K \(6, n_types\) must be an inner value"),
        (lambda c: c["dataset"].pop("simulation"), "it needs a dataset.simulation section"),
        (lambda c: c["dataset"]["extra_mice"].update(identifiability_0={}),
         "dataset.extra_mice.identifiability_0: the name is the identifiability analysis's"),
        (lambda c: c["identifiability"].update(december=True), "identifiability.december: .* needs a `december:`"),
        (lambda c: (c["identifiability"].update(december=True), c.update(december={"k_values": [4, 6]})),
         r"planted K \(6, n_types\) must be an inner value of december.k_values \[4, 6\]"),
    ],
)
def test_section_mistakes_are_named_before_any_job(edit, message):
    config = small_config()
    edit(config)
    with pytest.raises(ConfigError, match=message):
        with_populations(config)


def _clusters(labels: np.ndarray) -> DecemberClusters:
    n, k = len(labels), int(labels.max()) + 1
    return DecemberClusters(labels=labels, initial_labels=labels, q=np.eye(k)[labels], means=np.zeros((k, 2)),
                            scales=np.ones((k, 2)), mouse=np.full(n, "m"), unit_id=np.arange(n))


def test_december_runs_at_each_k_become_one_labelling_per_seed_with_rows_of_their_own(tmp_path):
    """Runs that recover 3 planted types exactly at K = 3 and cluster at random at K = 2 and 4: DECEMber's
    row has ARI 1 with the types and across seeds at the true K, and its curve peaks there."""
    truth = np.repeat([0, 1, 2], 20)
    rng = np.random.default_rng(0)
    files = {}
    for seed in (1, 2):
        for k in (2, 3, 4):
            labels = truth if k == 3 else rng.permutation(np.arange(len(truth)) % k)
            files["v", k, seed] = tmp_path / f"k{k}-seed{seed}.npz"
            save_clusters(files["v", k, seed], _clusters(labels))
    labels = december_labels(files)["v"]
    assert sorted(labels) == [1, 2] and labels[1].k_values.tolist() == [2, 3, 4]
    np.testing.assert_array_equal(labels[2].at("december", 3), truth)
    population = Population("15", 15.0, "m", "v", {})
    rows, curves = method_rows(population, labels, truth, true_k=3, margin=0.05)
    assert len(rows) == 1 and rows[0]["method"] == "december" and rows[0]["n_seeds"] == 2
    assert rows[0]["ari_truth_mean"] == pytest.approx(1.0) and rows[0]["ari_seeds_at_true_k"] == pytest.approx(1.0)
    assert rows[0]["peak_k"] == 3 and rows[0]["peaks_at_true_k"]
    assert curves["k"].tolist() == [2, 3, 4] and (curves["n_pairs"] == 1).all()
