"""Training-stage figures on tiny saved models and synthetic tables; their helpers against hand-computed answers."""

from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from v1twin import model_run, training
from v1twin.config import expand_variants
from v1twin.december import plan as december_plan
from v1twin.identifiability import with_populations
from v1twin.models import MouseInfo, build_model
from v1twin.plots import training as plots
from v1twin.transfer import plan_jobs

from conftest import draw_figure, figure_registry
from helpers import assert_figure_files as assert_figure
from helpers import legend_labels, legends_off_the_data, panels, scatter_points, tick_labels, tiny_config

INPUT_SHAPE = (4, 12, 14)
CORE = {"type": "cnn", "channels": 4, "layers": 1, "input_kernel": 5, "hidden_kernel": 3}
VARIANTS = {
    "gaussian": {"core": CORE, "readout": {"type": "gaussian"}},
    "factorized": {"core": CORE, "readout": {"type": "factorized"}},
}

def mice(n_neurons: int = 5) -> dict[str, MouseInfo]:
    rng = np.random.default_rng(0)
    return {
        name: MouseInfo(n_neurons, rng.uniform(0, 100, (n_neurons, 3)), rng.uniform(0.5, 1.5, n_neurons))
        for name in ("mouse_a", "mouse_b")
    }


@pytest.fixture(scope="module")
def model_files(tmp_path_factory) -> dict[str, Path]:
    """model.pt of a Gaussian and a factorized variant, with features perturbed so they vary across neurons."""
    folder = tmp_path_factory.mktemp("models")
    paths = {}
    for name, variant in VARIANTS.items():
        torch.manual_seed(0)
        model = build_model(variant, mice(), INPUT_SHAPE)
        with torch.no_grad():
            for readout in model.readouts.values():
                readout.features.add_(0.1 * torch.randn_like(readout.features))
        paths[name] = folder / name / "seed0" / "model.pt"
        paths[name].parent.mkdir(parents=True)
        model_run.save_model(paths[name], model, variant, mice(), INPUT_SHAPE, {"seed": 0})
    return paths


def performance_rows(variants: dict[str, float], seeds=(0, 1, 2), ground_truth: bool = True) -> pd.DataFrame:
    """A performance table like training.performance_table: per (variant, seed) two mice and a 'mean' row."""
    rng = np.random.default_rng(1)
    rows = []
    for variant, level in variants.items():
        for seed in seeds:
            for mouse in ("mouse_a", "mouse_b", "mean"):
                correlation = level + 0.01 * rng.normal()
                row = {
                    "variant": variant, "seed": seed, "mouse": mouse,
                    "single_trial_correlation": correlation,
                    "fraction_oracle": correlation / 0.5,
                    "best_val_correlation": correlation + 0.02,
                    "epochs": 10, "train_seconds": 1.0,
                }
                if ground_truth:
                    row["ground_truth_correlation"] = correlation + 0.3
                rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Helpers


def test_mask_effective_size_by_hand() -> None:
    masks = np.zeros((3, 4, 5))
    masks[0, 0, 0] = 7.0                      # one pixel -> 1
    masks[1, :2, :3] = -0.5                   # six equal pixels (sign ignored) -> 6
    masks[2, 0, :2] = [3.0, 1.0]              # (3 + 1)² / (9 + 1) = 1.6
    np.testing.assert_allclose(plots.mask_effective_size(masks), [1.0, 6.0, 1.6])
    np.testing.assert_allclose(plots.mask_effective_size(np.ones((1, 4, 5))), [20.0])  # the whole grid
    with pytest.raises(ValueError, match="all zeros"):
        plots.mask_effective_size(np.zeros((1, 2, 2)))


def test_mask_effective_size_is_scale_free() -> None:
    masks = np.random.default_rng(0).uniform(size=(4, 3, 3))
    np.testing.assert_allclose(plots.mask_effective_size(5 * masks), plots.mask_effective_size(masks))


def test_feature_l1_norms_by_hand() -> None:
    np.testing.assert_allclose(plots.feature_l1_norms(np.array([[1.0, -2.0], [0.0, 0.5]])), [3.0, 0.5])


def test_sweep_summary_and_selection_rule() -> None:
    # (variant, seed, mouse, best validation, test): validation is best at 0.01, test at 0.1,
    # so the rule must follow validation; the per-mouse row must not count as a seed
    rows = [
        ("g-0.001", 0, "mean", 0.20, 0.20), ("g-0.001", 1, "mean", 0.22, 0.20),
        ("g-0.01", 0, "mean", 0.30, 0.25), ("g-0.01", 1, "mean", 0.32, 0.27), ("g-0.01", 0, "mouse_a", 0.9, 0.9),
        ("g-0.1", 0, "mean", 0.28, 0.40), ("g-0.1", 1, "mean", 0.28, 0.40),
    ]
    table = pd.DataFrame(
        rows, columns=["variant", "seed", "mouse", "best_val_correlation", "single_trial_correlation"]
    )
    summary = plots.sweep_summary(table, {"g-0.1": 0.1, "g-0.001": 0.001, "g-0.01": 0.01})
    assert summary["value"].tolist() == [0.001, 0.01, 0.1]  # by increasing value
    np.testing.assert_allclose(summary["validation_mean"], [0.21, 0.31, 0.28])
    np.testing.assert_allclose(summary["test_sd"], [0.0, np.sqrt(2) * 0.01, 0.0], atol=1e-12)
    assert list(summary["n_seeds"]) == [2, 2, 2]
    assert plots.selected_value(summary) == 0.01
    with pytest.raises(ValueError, match="g-1"):
        plots.sweep_summary(table, {"g-1": 1.0})


# ---------------------------------------------------------------------------------------------
# Figures


def test_performance(tmp_path: Path) -> None:
    table = tmp_path / "performance.csv"
    rows = performance_rows({"gaussian": 0.3, "factorized": 0.25, "not_plotted": 0.1})
    rows.to_csv(table, index=False)
    pdf = tmp_path / "figures" / "performance.pdf"
    variants = ["factorized", "gaussian"]
    fig = plots.performance(table=str(table), pdf=str(pdf), variants=variants)
    assert_figure(pdf)
    # one panel per measure; on each, the variants in order and a dot per seed (the mean-over-mice rows)
    assert [ax.get_ylabel() for ax in panels(fig)] == list(plots.PERFORMANCE_MEASURES.values())
    plotted = rows[(rows["mouse"] == "mean") & rows["variant"].isin(variants)]
    for ax in panels(fig):
        assert tick_labels(ax) == variants
        assert scatter_points(ax) == len(plotted)


def test_performance_without_ground_truth_and_missing_variant(tmp_path: Path) -> None:
    table = tmp_path / "performance.csv"
    performance_rows({"gaussian": 0.3}, ground_truth=False).to_csv(table, index=False)
    pdf = tmp_path / "performance.pdf"
    fig = plots.performance(table=str(table), pdf=str(pdf), variants=["gaussian"])
    assert_figure(pdf)
    assert "correlation with true rates" not in [ax.get_ylabel() for ax in panels(fig)]  # no ground truth, no panel
    with pytest.raises(ValueError, match=r"performance\.csv.*absent"):
        plots.performance(table=str(table), pdf=str(pdf), variants=["gaussian", "absent"])


def write_history(path: Path, level: float, epochs: int = 15, decay_after: int = 5) -> list[float]:
    """A training_log.csv whose validation correlation rises towards `level`; returns those correlations."""
    path.parent.mkdir(parents=True, exist_ok=True)
    correlations = [level - 0.2 / epoch for epoch in range(1, epochs + 1)]
    training.write_history(path, [
        {"epoch": epoch, "train_loss": 100.0 / epoch, "val_correlation": correlation,
         "lr": 0.005 * 0.3 ** (epoch // decay_after), "seconds": 1.0}
        for epoch, correlation in enumerate(correlations, start=1)
    ])
    return correlations


def rows_of_panels(fig) -> dict[str, tuple]:
    """family -> its (validation correlation, learning rate) panels, from the row titles."""
    axes = panels(fig)
    return {correlation_ax.get_title().split(":")[0]: (correlation_ax, lr_ax)
            for correlation_ax, lr_ax in zip(axes[::2], axes[1::2])}


def test_learning_curves_draw_a_row_per_family_and_a_line_per_run(tmp_path: Path) -> None:
    runs = [(["trained variants", "gaussian"], 0.30, 15), (["trained variants", "gaussian"], 0.29, 15),
            (["trained variants", "factorized"], 0.25, 15), (["DECEMber", "v, lr 0.01"], 0.4, 4),
            (["pruning fine-tunes", "v, step 1"], 0.35, 2)]
    histories, correlations = [], []
    for index, (run, level, epochs) in enumerate(runs):  # the paths follow no pattern: runs name the rows
        path = tmp_path / f"run{index}" / "training_log.csv"
        correlations.append(write_history(path, level, epochs, decay_after=5 + index))
        histories.append(str(path))
    pdf = tmp_path / "learning_curves.pdf"
    fig = plots.learning_curves(histories=histories, pdf=str(pdf), runs=[run for run, _, _ in runs])
    assert_figure(pdf)
    rows = rows_of_panels(fig)
    assert list(rows) == ["trained variants", "DECEMber", "pruning fine-tunes"]  # in the order of the runs
    trained_ax, trained_lr_ax = rows["trained variants"]
    assert trained_ax.get_title() == "trained variants: 3 runs"
    assert rows["DECEMber"][0].get_title() == "DECEMber: 1 run"
    for ax in (trained_ax, trained_lr_ax):  # one line per run, over every epoch of its log
        assert [len(line.get_xdata()) for line in ax.get_lines()] == [15] * 3
    np.testing.assert_allclose(trained_ax.get_lines()[2].get_ydata(), correlations[2])
    colours = [line.get_color() for line in trained_ax.get_lines()]
    assert colours[0] == colours[1] != colours[2]  # a colour per group: the two gaussian seeds share one
    assert legend_labels(trained_lr_ax) == ["gaussian", "factorized"]  # one entry per group, beside the row
    (fine_tune,) = rows["pruning fine-tunes"][0].get_lines()
    np.testing.assert_allclose(fine_tune.get_ydata(), correlations[4])
    assert legends_off_the_data(fig)


def test_learning_curves_reject_unpaired_runs_and_a_log_without_columns(tmp_path: Path) -> None:
    path = tmp_path / "training_log.csv"
    path.write_text("epoch,loss\n1,2.0\n")
    with pytest.raises(ValueError, match=r"training_log\.csv lacks column"):
        plots.learning_curves(histories=[str(path)], pdf=str(tmp_path / "x.pdf"), runs=[["family", "group"]])
    with pytest.raises(ValueError, match="1 training histories for 2 runs"):
        plots.learning_curves(histories=[str(path)], pdf=str(tmp_path / "x.pdf"), runs=[["a", "b"]] * 2)


def test_learning_curves_of_the_tiny_config_show_every_family_of_trained_models(tmp_path: Path) -> None:
    overlay = tmp_path / "prune.yaml"  # pruning on, as tests/test_rules_pruning.py switches it on
    overlay.write_text("pruning:\n  variants: [gaussian_g0]\n  min_channels: 2\n  fine_tune_epochs: 1\n")
    entry = figure_registry(tmp_path, (overlay,))["learning_curves"]
    runs = [tuple(run) for run in entry["options"]["runs"]]
    config = with_populations(tiny_config())
    variants = expand_variants(config)
    # by hand from tests/config/tiny.yaml: 2 named variants, 3 video variants, the control's 2 populations x
    # (γ 0, γ 10), the 2 identifiability populations, sweep points (factorized_gamma: 2 values x 1 seed;
    # adaptive_grid: 1 point x 2 seeds), december_retina; every 2 seeds; 2 pruning steps x 2 seeds; DECEMber
    # (its stage's and on the identifiability populations) and transfer: every run of their plans
    expected = {"trained variants": 4, "regularization control": 8, "variants on other populations": 2,
                "video models": 6,
                "identifiability populations": 4,
                "sweep points": 4, "DECEMber pretraining (replays)": len(december_plan.pretraining(config, variants)),
                "DECEMber": len({**december_plan.plan(config, variants),
                                 **december_plan.population_runs(config, variants)}),
                "pruning fine-tunes": 4,
                "transfer": len(plan_jobs(config))}  # rows in the order of the runs
    assert Counter(family for family, _ in runs) == expected
    assert Counter(group for family, group in runs if family == "pruning fine-tunes") == {
        "gaussian_g0, step 1": 2, "gaussian_g0, step 2": 2}
    assert len(set(entry["inputs"]["histories"])) == len(runs) == sum(expected.values())  # every run once
    for index, path in enumerate(entry["inputs"]["histories"]):
        write_history(tmp_path / path, 0.3 + 0.001 * index, epochs=3)
    drawn = draw_figure(tmp_path, "learning_curves", tmp_path / "learning_curves.pdf", (overlay,))
    rows = rows_of_panels(drawn.figure)
    assert list(rows) == list(expected)  # a row per family
    for family, (correlation_ax, lr_ax) in rows.items():
        assert len(correlation_ax.get_lines()) == len(lr_ax.get_lines()) == expected[family]  # a line per run
        assert legend_labels(lr_ax) == list(dict.fromkeys(group for name, group in runs if name == family))


def test_readout_weights(model_files: dict[str, Path], tmp_path: Path) -> None:
    pdf = tmp_path / "readout_weights.pdf"
    fig = plots.readout_weights(models=[str(path) for path in model_files.values()], pdf=str(pdf),
                                variants=list(model_files))
    assert_figure(pdf)
    weights_ax, norms_ax = panels(fig)
    assert len(weights_ax.patches) == len(norms_ax.patches) == len(model_files)  # a histogram per variant
    assert legend_labels(weights_ax) == list(model_files)


def test_readout_features_concatenate_every_mouse(model_files: dict[str, Path]) -> None:
    features = plots._features(model_files["gaussian"])
    assert features.shape == (10, CORE["channels"])  # 2 mice x 5 neurons


def test_mask_size(model_files: dict[str, Path], tmp_path: Path) -> None:
    pdf = tmp_path / "mask_size.pdf"
    fig = plots.mask_size(models=[str(model_files["factorized"])], pdf=str(pdf), variants=["factorized"])
    assert_figure(pdf)
    masks, _ = plots._masks_and_features(model_files["factorized"])
    sizes = plots.mask_effective_size(masks)
    (ax,) = panels(fig)
    assert ax.get_title() == "factorized"
    assert scatter_points(ax) == len(masks)  # a point per neuron of every mouse
    np.testing.assert_allclose(ax.collections[0].get_offsets()[:, 1], sizes)
    assert np.all((sizes >= 1) & (sizes <= masks[0].size))  # between one pixel and the whole grid
    with pytest.raises(ValueError, match="not factorized"):
        plots.mask_size(models=[str(model_files["gaussian"])], pdf=str(pdf), variants=["gaussian"])


def test_factorized_selection_includes_the_base_variant(tmp_path: Path) -> None:
    # the demo's shape: 3 swept values on 2 seeds, the base (γ 0.01) on 3 seeds; the base validates best, so
    # the selection must be able to choose it (#27)
    points = {"factorized": 0.01, "factorized_gamma-0.1": 0.1, "factorized_gamma-1.0": 1.0,
              "factorized_gamma-10.0": 10.0}
    table = tmp_path / "performance.csv"
    pd.concat([performance_rows({"factorized": 0.35}),
               performance_rows({"factorized_gamma-0.1": 0.3, "factorized_gamma-1.0": 0.25,
                                 "factorized_gamma-10.0": 0.2}, seeds=(0, 1))]).to_csv(table, index=False)
    pdf = tmp_path / "factorized_selection.pdf"
    fig = plots.factorized_selection(table=str(table), pdf=str(pdf), sweep="factorized_gamma", points=points,
                                     base="factorized")
    assert_figure(pdf)
    summary = plots.sweep_summary(pd.read_csv(table), points)
    (ax,) = panels(fig)
    validation, test = ax.containers  # the errorbars: every value with its mean and sd over seeds
    for container, measure in ((validation, "validation"), (test, "test")):
        np.testing.assert_allclose(np.asarray(container.lines[0].get_xdata(), float), [0.01, 0.1, 1.0, 10.0])
        np.testing.assert_allclose(np.asarray(container.lines[0].get_ydata(), float), summary[f"{measure}_mean"])
        half = [(segment[1][1] - segment[0][1]) / 2 for segment in container.lines[2][0].get_segments()]
        np.testing.assert_allclose(half, summary[f"{measure}_sd"])
    assert ax.get_ylabel().endswith("mean ± sd over 2–3 seeds")
    assert tick_labels(ax) == ["0.01", "0.1", "1", "10"]
    assert ax.get_lines()[-1].get_xdata()[0] == plots.selected_value(summary) == 0.01  # the base is selected
    assert "base variant factorized (3 seeds)" in legend_labels(ax)
    assert legends_off_the_data(fig)
    with pytest.raises(ValueError, match=r"performance\.csv.*factorized_gamma-1\b"):
        plots.factorized_selection(table=str(table), pdf=str(pdf), sweep="factorized_gamma",
                                   points={"factorized_gamma-1": 1.0}, base="factorized_gamma-1")
