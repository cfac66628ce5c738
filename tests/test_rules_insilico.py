"""Rule-level tests of the in-silico stage, run by Snakemake on the tiny config."""
import numpy as np
import pandas as pd
import pytest

from v1twin import insilico

from conftest import run_snakemake

pytestmark = pytest.mark.slow

VARIANTS = ["factorized", "gaussian_g0"]  # the tiny config's analysed variants
SEEDS = [1, 2]
N_NEURONS = 2 * 40
FIGURES = ["insilico_consistency", "tuning_examples", "tuning_indices", "optimal_gabors", "insilico_ground_truth"]


@pytest.fixture(scope="module")
def results(tiny_workdir):
    targets = ["results/tiny/tables/insilico_consistency.csv", "results/tiny/insilico/ground_truth_check.csv"]
    targets += [f"results/tiny/figures/{name}.pdf" for name in FIGURES]
    run_snakemake(tiny_workdir, *targets)
    return tiny_workdir / "results" / "tiny"


def test_every_model_has_an_optimal_gabor_and_tuning_curves_per_neuron(results):
    for variant in VARIANTS:
        for seed in SEEDS:
            folder = results / "insilico" / variant / f"seed{seed}"
            optimal = pd.read_csv(folder / "optimal_gabors.csv")
            assert len(optimal) == N_NEURONS and optimal["mouse"].tolist() == ["m1"] * 40 + ["m2"] * 40
            assert (optimal["response"] > 0).all()
            assert set(optimal["readout"]) == {variant.split("_")[0]}
            assert not list(folder.glob("*.state.pt"))  # resumable states are removed when a job succeeds
            tuning = insilico.load_tuning(folder / "tuning.npz")
            assert tuning["orientation"].shape == (N_NEURONS, 8) and tuning["phase"].shape == (N_NEURONS, 4)
            assert tuning["surround"].shape == (N_NEURONS, 5) and tuning["cross_orientation"].shape == (N_NEURONS, 3, 3)
            assert np.isfinite(tuning["phase_invariance"]).all()


def test_consistency_table_has_one_row_per_variant(results):
    table = pd.read_csv(results / "tables" / "insilico_consistency.csv")
    assert table["variant"].tolist() == VARIANTS and (table["n_pairs"] == 1).all()
    assert table["response_correlation"].between(-1, 1).all()
    for column in ("nmae_cross_orientation", "nmae_phase", "nmae_orientation", "nmae_surround"):
        assert (table[column] >= 0).all()


def test_ground_truth_check_has_one_row_per_model(results):
    check = pd.read_csv(results / "insilico" / "ground_truth_check.csv")
    assert len(check) == len(VARIANTS) * len(SEEDS)
    assert check["orientation_circular_correlation"].between(-1, 1).all()
    assert check["orientation_median_error_deg"].between(0, 90).all()


def test_every_figure_is_rendered(results):
    for name in FIGURES:
        for suffix in (".pdf", ".png"):
            assert (results / "figures" / f"{name}{suffix}").stat().st_size > 1000
