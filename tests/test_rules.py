"""Rule-level tests: the real Snakefile and rules, run by Snakemake on the tiny config."""
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from v1twin import model_run
from v1twin.config import mouse_simulation, simulation_seeds
from v1twin.data.cache import load_cache
from v1twin.data.dynamic_cache import load_dynamic_cache
from v1twin.data.sensorium_dynamic import load_dynamic_mouse
from v1twin.data.sensorium_static import load_mouse
from v1twin.data.simulate import load_ground_truth
from v1twin.data.simulate_dynamic import simulate_dynamic_mouse
from v1twin.identifiability import with_populations
from v1twin.identifiability.tables import SUMMARY_COLUMNS
from v1twin.plots.population import N_EXAMPLES, TIER_ORDER

from conftest import REPO, draw_figure, run_snakemake, tiny_results
from helpers import legend_labels, panels, scatter_points, tick_labels, tiny_config

pytestmark = pytest.mark.slow



def test_simulate_and_cache_rules_write_a_loadable_sensorium_tree(tiny_workdir):
    run_snakemake(tiny_workdir, "resources/tiny/m1.cache", "resources/tiny/m2.cache")
    folder = tiny_workdir / "resources" / "tiny" / "m1"
    for part in ("data/images", "data/responses", "data/behavior", "data/pupil_center",
                 "meta/neurons", "meta/trials", "meta/statistics"):
        assert (folder / part).is_dir(), part
    from_tree = load_mouse(folder)
    from_cache = load_cache(tiny_workdir / "resources" / "tiny" / "m1.cache")
    assert from_tree.images.shape == (240 + 60 + 10 * 4, 1, 32, 48)
    assert from_tree.responses.shape[1] == 40
    np.testing.assert_array_equal(from_tree.responses, np.asarray(from_cache.responses))
    np.testing.assert_array_equal(from_tree.images, np.asarray(from_cache.images))
    truth = np.load(tiny_workdir / "resources" / "tiny" / "m1.ground_truth.npz")
    assert truth["rates"].shape == from_tree.responses.shape
    assert not list((tiny_workdir / "resources" / "tiny").glob("*.tmp*")), "temporary folders left behind"


def test_simulate_and_cache_rules_write_a_video_mouse_in_the_sensorium_2023_layout(tiny_workdir):
    """The tiny video mouse v1: the 2023 tree, its cache and its ground truth hold the simulator's values for
    the mouse's settings and seeds as the config resolves them."""
    run_snakemake(tiny_workdir, "resources/tiny/v1.cache")
    config = with_populations(tiny_config())  # as the Snakefile resolves it: the populations are mice too
    seed, stimulus_seed = simulation_seeds(config, "v1")
    expected, truth = simulate_dynamic_mouse(mouse_simulation(config["dataset"], "v1"), seed, stimulus_seed)
    tree = load_dynamic_mouse(tiny_workdir / "resources" / "tiny" / "v1")
    cache = load_dynamic_cache(tiny_workdir / "resources" / "tiny" / "v1.cache")
    np.testing.assert_array_equal(cache.trial_ids, expected.trial_ids)
    np.testing.assert_array_equal(tree.tiers, expected.tiers)
    assert cache.padded_length == 26 and len(cache.unit_ids) == 12
    for i, arrays in enumerate(map(cache.trial, range(len(expected.tiers)))):
        for cached, simulated in zip(arrays, (expected.videos[i], expected.responses[i], expected.behavior[i],
                                              expected.pupil_center[i])):
            np.testing.assert_array_equal(cached, simulated)
    saved = np.load(tiny_workdir / "resources" / "tiny" / "v1.ground_truth.npz")
    np.testing.assert_array_equal(saved["rates"], truth["rates"])
    np.testing.assert_array_equal(saved["clip_id"], truth["clip_id"])


def test_training_run_rule_writes_model_metrics_and_history(tiny_workdir):
    model_dir = tiny_workdir / "results" / "tiny" / "models" / "gaussian_g0" / "seed1"
    run_snakemake(tiny_workdir, str(model_dir.relative_to(tiny_workdir) / "metrics.json"))
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert set(metrics["per_mouse"]) == {"m1", "m2"}
    assert metrics["mean"]["n_neurons"] == 80
    assert -1 <= metrics["mean"]["single_trial_correlation"] <= 1
    assert -1 <= metrics["mean"]["ground_truth_correlation"] <= 1
    assert 1 <= metrics["best_epoch"] <= metrics["epochs"] <= 3  # max_epochs of the tiny config
    history = pd.read_csv(model_dir / "training_log.csv")
    assert list(history["epoch"]) == list(range(1, metrics["epochs"] + 1))
    content = model_run.read_model_file(model_dir / "model.pt")
    np.testing.assert_array_equal(content["extras"]["unit_ids"]["m2"], np.arange(1, 41))
    assert content["extras"]["behavior_median"]["m1"].shape == (3,)
    assert not (model_dir / "training_state.pt").exists(), "resumable state must be removed when done"


def test_training_run_rule_trains_a_video_variant_on_random_crops_and_scores_rho_st(tiny_workdir):
    """A video core on the tiny video mouse v1 through the same rule: metrics on scored frames, the history,
    and a model that predicts a response per frame."""
    model_dir = tiny_workdir / "results" / "tiny" / "models" / "video_factorized_g0" / "seed1"
    run_snakemake(tiny_workdir, str(model_dir.relative_to(tiny_workdir) / "metrics.json"))
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert set(metrics["per_mouse"]) == {"v1"} and metrics["mean"]["n_neurons"] == 12
    for key in ("single_trial_correlation", "validation_single_trial_correlation", "ground_truth_correlation",
                "correlation_to_average"):
        assert -1 <= metrics["mean"][key] <= 1, key
    assert metrics["mean"]["n_trials"] == 2  # final_test_main: 1 clip x 2 repeats
    history = pd.read_csv(model_dir / "training_log.csv")
    assert list(history["epoch"]) == list(range(1, metrics["epochs"] + 1)) and metrics["epochs"] <= 2
    model = model_run.load_model(model_dir / "model.pt")
    frames = torch.zeros(1, 5, 7, 16, 24)  # video, 2 behaviour and 2 pupil-centre channels, 7 frames of 16x24
    with torch.no_grad():
        assert model(frames, "v1").shape == (1, 7, 12)


def test_all_figures_builds_every_figure(tiny_workdir):
    run_snakemake(tiny_workdir, "all_figures")
    figures = tiny_workdir / "results" / "tiny" / "figures"
    # every figure the tiny config switches on (no pruning; one landscape figure; simulated data)
    expected = ["population_overview", "performance", "learning_curves", "readout_weights", "mask_size",
                "factorized_selection", "tsne_embeddings", "ari_across_seeds", "kmeans_reruns", "ari_planted_types",
                "planted_type_separability", "adaptive_regularization", "december_toy", "december_beta",
                "december_sweeps", "december_agreement",
                "december_confusion", "insilico_consistency", "tuning_examples", "tuning_indices", "optimal_gabors",
                "insilico_ground_truth", "transfer_readouts", "transfer_within", "transfer_across",
                "regularization_control", "read_positions", "identifiability", "tsne_landscape_video",
                "performance_video", "ari_planted_types_video"]
    assert set(expected) <= {path.stem for path in figures.glob("*.pdf")}
    for name in expected:
        for suffix in (".pdf", ".png"):
            path = figures / f"{name}{suffix}"
            assert path.stat().st_size > 1000, path
    table = pd.read_csv(tiny_workdir / "results" / "tiny" / "tables" / "performance.csv")
    assert set(table["variant"]) == {"factorized", "gaussian_g0", "factorized_gamma-0.001", "factorized_gamma-0.1",
                                     "adaptive_grid-adaptive-1.0-0.5", "december_retina", "control_discrete",
                                     "control_continuum", "control_discrete_l1-10.0", "control_continuum_l1-10.0",
                                     "identifiability-15", "identifiability-0", "video_3d", "video_factorized_g0",
                                     "video_factorized_g1"}
    identifiability = pd.read_csv(tiny_workdir / "results" / "tiny" / "consistency" / "identifiability.csv")
    assert list(identifiability.columns) == list(SUMMARY_COLUMNS)
    assert identifiability[["separation", "method"]].values.tolist() == [
        [15, "kmeans"], [15, "gmm"], [15, "december"], [0, "kmeans"], [0, "gmm"], [0, "december"]]
    assert (identifiability["true_k"] == 3).all() and (identifiability["n_seeds"] == 2).all()
    # Nothing left to do: a second run is a no-op.
    result = run_snakemake(tiny_workdir, "all_figures", options=("-n",))
    assert "Nothing to be done" in result.stdout + result.stderr


def test_report_holds_every_figure_with_its_caption(tiny_workdir):
    run_snakemake(tiny_workdir, "all_figures")
    report = tiny_workdir / "report.zip"
    run_snakemake(tiny_workdir, "all_figures", options=("--report", str(report)))
    with zipfile.ZipFile(report) as archive:
        names = archive.namelist()
        html = "".join(archive.read(name).decode(errors="ignore") for name in names if name.endswith((".html", ".js")))
    figures = sorted((tiny_workdir / "results" / "tiny" / "figures").glob("*.png"))
    assert figures
    for png in figures:
        assert any(name.endswith(png.name) for name in names), f"{png.name} missing from the report"
        first_line = (REPO / "workflow" / "report" / f"{png.stem}.rst").read_text().splitlines()[0]
        plain = re.match(r"[A-Za-z0-9 .,:;()=+-]*", first_line).group()  # before any RST markup or non-ASCII
        assert len(plain) >= 12 and plain in html, f"caption of {png.name} missing from the report"


def test_population_overview_shows_the_mouses_stimuli_neurons_and_tiers(tiny_workdir, tmp_path):
    tiny_results(tiny_workdir, figures=["population_overview"])
    drawn = draw_figure(tiny_workdir, "population_overview", tmp_path / "population.pdf")
    mouse = load_mouse(drawn.inputs["mouse"])
    truth = load_ground_truth(drawn.inputs["truth"])
    tiers = np.asarray(mouse.tiers).astype(str)
    present = [tier for tier in TIER_ORDER if tier in set(tiers)]
    *stimuli, fields_ax, histogram_ax, box_ax = panels(drawn.figure)
    assert len(stimuli) == N_EXAMPLES
    train = np.flatnonzero(tiers == "train")
    assert [ax.get_title() for ax in stimuli] == [f"training stimulus (trial {index})" for index in train[:N_EXAMPLES]]
    for ax, index in zip(stimuli, train):
        np.testing.assert_array_equal(ax.images[0].get_array(), mouse.images[index, 0])
    n_neurons = mouse.responses.shape[1]
    assert scatter_points(fields_ax) == n_neurons == len(truth["cell_type"])  # an RF centre per neuron
    assert legend_labels(fields_ax) == [str(name) for name in truth["type_names"]]
    assert [len(c.get_offsets()) for c in fields_ax.collections] == np.bincount(truth["cell_type"]).tolist()
    assert legend_labels(histogram_ax) == present  # a response histogram per tier
    assert tick_labels(box_ax) == present  # a box of mean responses per tier
    name = Path(drawn.inputs["mouse"]).name
    assert drawn.figure.get_suptitle() == f"{name}: {n_neurons} neurons, {len(tiers)} trials"
