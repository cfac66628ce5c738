"""Training-stage figures on tiny saved models and synthetic tables; their helpers against hand-computed answers."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from v1twin import model_run, training
from v1twin.models import MouseInfo, build_model
from v1twin.plots import training as plots

from helpers import assert_figure_files as assert_figure
from helpers import legend_labels, panels, scatter_points, tick_labels

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


def test_run_from_path() -> None:
    assert plots.run_from_path("results/sim/models/factorized_gamma-0.003/seed12/training_log.csv") == (
        "factorized_gamma-0.003", 12)
    with pytest.raises(ValueError, match="seed<S>"):
        plots.run_from_path("results/sim/models/gaussian/training_log.csv")


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


def test_learning_curves(tmp_path: Path) -> None:
    histories = []
    runs = [("gaussian", 0, 0.30), ("gaussian", 1, 0.29), ("factorized", 0, 0.25)]
    for variant, seed, level in runs:
        path = tmp_path / "models" / variant / f"seed{seed}" / "training_log.csv"
        path.parent.mkdir(parents=True)
        training.write_history(path, [
            {"epoch": epoch, "train_loss": 100.0 / epoch, "val_correlation": level - 0.2 / epoch,
             "lr": 0.005 * 0.3 ** (epoch // (5 + seed)), "seconds": 1.0}
            for epoch in range(1, 16)
        ])
        histories.append(str(path))
    pdf = tmp_path / "learning_curves.pdf"
    fig = plots.learning_curves(histories=histories, pdf=str(pdf))
    assert_figure(pdf)
    correlation_ax, lr_ax = panels(fig)
    for ax in (correlation_ax, lr_ax):  # one line per run, over every epoch of its log
        assert [len(line.get_xdata()) for line in ax.get_lines()] == [15] * len(runs)
    np.testing.assert_allclose(correlation_ax.get_lines()[2].get_ydata(), [0.25 - 0.2 / e for e in range(1, 16)])
    assert legend_labels(correlation_ax) == ["gaussian", "factorized"]  # one entry per variant


def test_learning_curves_rejects_a_log_without_columns(tmp_path: Path) -> None:
    path = tmp_path / "gaussian" / "seed0" / "training_log.csv"
    path.parent.mkdir(parents=True)
    path.write_text("epoch,loss\n1,2.0\n")
    with pytest.raises(ValueError, match=r"training_log\.csv lacks column"):
        plots.learning_curves(histories=[str(path)], pdf=str(tmp_path / "x.pdf"))


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
    # the base variant (gamma 0.01) validates best: the selection must be able to choose it (#27)
    points = {"factorized": 0.01, "factorized_gamma-0.001": 0.001, "factorized_gamma-0.1": 0.1}
    table = tmp_path / "performance.csv"
    performance_rows({"factorized": 0.35, "factorized_gamma-0.001": 0.2, "factorized_gamma-0.1": 0.25}).to_csv(
        table, index=False)
    pdf = tmp_path / "factorized_selection.pdf"
    fig = plots.factorized_selection(table=str(table), pdf=str(pdf), sweep="factorized_gamma", points=points,
                                     base="factorized")
    assert_figure(pdf)
    summary = plots.sweep_summary(pd.read_csv(table), points)
    (ax,) = panels(fig)
    validation, test = (container.lines[0] for container in ax.containers)  # the errorbars' data lines
    np.testing.assert_allclose(np.asarray(validation.get_xdata(), float), [0.001, 0.01, 0.1])
    np.testing.assert_allclose(np.asarray(validation.get_ydata(), float), summary["validation_mean"])
    np.testing.assert_allclose(np.asarray(test.get_ydata(), float), summary["test_mean"])
    assert ax.get_lines()[-1].get_xdata()[0] == plots.selected_value(summary) == 0.01  # the base is selected
    assert any(label.startswith("base variant factorized") for label in legend_labels(ax))
    with pytest.raises(ValueError, match=r"performance\.csv.*factorized_gamma-1"):
        plots.factorized_selection(table=str(table), pdf=str(pdf), sweep="factorized_gamma",
                                   points={"factorized_gamma-1": 1.0}, base="factorized_gamma-1")
