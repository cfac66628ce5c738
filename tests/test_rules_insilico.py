"""Rule-level tests of the in-silico stage, run by Snakemake on the tiny config."""
import numpy as np
import pandas as pd
import pytest

from v1twin.data.simulate import load_ground_truth
from v1twin.insilico.ground_truth import TRUTH
from v1twin.insilico.stimuli import gabor
from v1twin.insilico.tuning import load_tuning, load_tunings
from v1twin.plots.insilico import INDEX_LABELS, TABLE_COLUMNS, TRUTH_LABEL

from conftest import draw_figure, tiny_results
from helpers import legend_labels, legends_off_the_data, line_slots, panels, scatter_points, tick_labels

pytestmark = pytest.mark.slow

VARIANTS = ["factorized", "gaussian_g0"]  # the tiny config's analysed variants
SEEDS = [1, 2]
MICE = ["m1", "m2"]
N_NEURONS = 2 * 40
FIGURES = ["insilico_consistency", "tuning_examples", "tuning_indices", "optimal_gabors", "insilico_ground_truth"]


@pytest.fixture(scope="module")
def results(tiny_workdir):
    return tiny_results(tiny_workdir, "tables/insilico_consistency.csv", "insilico/ground_truth_check.csv",
                        figures=FIGURES)


def test_every_model_has_an_optimal_gabor_and_tuning_curves_per_neuron(results):
    for variant in VARIANTS:
        for seed in SEEDS:
            folder = results / "insilico" / variant / f"seed{seed}"
            optimal = pd.read_csv(folder / "optimal_gabors.csv")
            assert len(optimal) == N_NEURONS and optimal["mouse"].tolist() == ["m1"] * 40 + ["m2"] * 40
            assert (optimal["response"] > 0).all()
            assert set(optimal["readout"]) == {variant.split("_")[0]}
            assert not list(folder.glob("*.state.pt"))  # resumable states are removed when a job succeeds
            tuning = load_tuning(folder / "tuning.npz")
            assert tuning["orientation"].shape == (N_NEURONS, 8) and tuning["phase"].shape == (N_NEURONS, 4)
            assert tuning["surround"].shape == (N_NEURONS, 5) and tuning["cross_orientation"].shape == (N_NEURONS, 3, 3)
            assert np.isfinite(tuning["phase_invariance"]).all()


def test_the_true_neurons_of_each_mouse_get_the_same_search_and_tuning(results, tiny_workdir):
    for mouse in MICE:
        truth = load_ground_truth(tiny_workdir / "resources" / "tiny" / f"{mouse}.ground_truth.npz")
        folder = results / "insilico" / "ground_truth" / mouse
        optimal = pd.read_csv(folder / "optimal_gabors.csv")
        assert optimal["unit_id"].tolist() == list(range(1, 41)) and (optimal["mouse"] == mouse).all()
        assert (optimal["readout"] == "ground_truth").all() and (optimal["response"] > 0).all()
        # the stimulus centres are the true receptive fields in input pixels: (stored + ½)·0.5 − ½
        np.testing.assert_allclose(optimal[["y", "x"]], np.column_stack([truth["rf_y"], truth["rf_x"]]) / 2 - 0.25)
        tuning = load_tuning(folder / "tuning.npz")
        assert tuning["orientation"].shape == (40, 8) and tuning["cross_orientation"].shape == (40, 3, 3)


def test_consistency_table_has_one_row_per_variant(results):
    table = pd.read_csv(results / "tables" / "insilico_consistency.csv")
    assert table["variant"].tolist() == VARIANTS and (table["n_pairs"] == 1).all()
    assert table["response_correlation"].between(-1, 1).all()
    for column in ("nmae_cross_orientation", "nmae_phase", "nmae_orientation", "nmae_surround"):
        assert (table[column] >= 0).all()


def test_ground_truth_check_has_one_row_per_model_and_one_for_the_true_neurons(results):
    check = pd.read_csv(results / "insilico" / "ground_truth_check.csv")
    assert check["variant"].tolist() == [v for v in VARIANTS for _ in SEEDS] + [TRUTH]
    assert check["orientation_circular_correlation"].between(-1, 1).all()
    assert check["orientation_median_error_deg"].between(0, 90).all()
    truth = check.set_index("variant").loc[TRUTH]
    assert truth["complex_more_invariant"]  # the planted simple/complex split, measured on the true neurons
    assert truth["orientation_circular_correlation"] > 0.9  # the protocol finds the planted orientations
    for variant in VARIANTS:  # the share of optima on each end of the tiny grid's two sizes and two SFs
        for seed in SEEDS:
            optimal = pd.read_csv(results / "insilico" / variant / f"seed{seed}" / "optimal_gabors.csv")
            row = check[(check["variant"] == variant) & (check["seed"] == seed)].iloc[0]
            assert row["size_at_largest"] == pytest.approx((optimal["size_index"] == 1).mean())
            assert row["relative_sf_at_smallest"] == pytest.approx((optimal["relative_sf_index"] == 0).mean())


def test_every_figure_is_rendered(results):
    for name in FIGURES:
        for suffix in (".pdf", ".png"):
            assert (results / "figures" / f"{name}{suffix}").stat().st_size > 1000


# ---------------------------------------------------------------------------------------------
# What each figure draws, from the files its rule reads

def neuron_row(tuning: dict, label: str) -> int:
    """The row of the neuron a figure names "<mouse> unit <id>" (first line of `label`)."""
    mouse, _, unit = label.splitlines()[0].split()
    (row,) = np.flatnonzero((tuning["mouse"].astype(str) == mouse) & (tuning["unit_id"] == int(unit)))
    return row


def test_consistency_table_figure_shows_the_tables_values(results, tiny_workdir, tmp_path):
    drawn = draw_figure(tiny_workdir, "insilico_consistency", tmp_path / "consistency.pdf")
    table = pd.read_csv(drawn.inputs["table"]).set_index("variant")
    variants = drawn.options["variants"]
    (ax,) = drawn.figure.axes
    cells = {position: cell.get_text().get_text() for position, cell in ax.tables[0].get_celld().items()}
    assert [cells[0, column] for column in range(len(TABLE_COLUMNS))] == list(TABLE_COLUMNS.values())
    assert [cells[row, -1] for row in range(1, len(variants) + 1)] == variants
    for row, variant in enumerate(variants, start=1):
        for column, name in enumerate(TABLE_COLUMNS):
            mean, sd = table.loc[variant, name], table.loc[variant, f"{name}_std"]
            assert cells[row, column] == (f"{mean:.2f}" if np.isnan(sd) else f"{mean:.2f} ± {sd:.2f}")


def test_tuning_examples_draw_each_runs_curves_and_the_true_neurons_of_the_named_neurons(results, tiny_workdir,
                                                                                       tmp_path):
    drawn = draw_figure(tiny_workdir, "tuning_examples", tmp_path / "examples.pdf")
    runs, tuning = drawn.options["runs"], [load_tuning(path) for path in drawn.inputs["tuning"]]
    truth = load_tunings(drawn.inputs["truth"])
    axes = panels(drawn.figure)
    n_examples = min(drawn.options["neurons"], len(tuning[0]["unit_id"]))
    assert len(axes) == 4 * n_examples  # one row per example neuron, one column per experiment
    assert legend_labels(drawn.figure) == [*dict.fromkeys(variant for variant, _ in runs), TRUTH_LABEL]
    assert legends_off_the_data(drawn.figure)
    rows = [neuron_row(tuning[0], ax.get_ylabel()) for ax in axes[::4]]
    assert len(set(rows)) == n_examples
    for row, (orientation_ax, phase_ax, surround_ax, plaid_ax) in zip(rows, np.reshape(axes, (-1, 4))):
        assert plaid_ax.get_xscale() == "symlog"  # the plaid contrasts are log-spaced
        assert [ax.get_xlabel() for ax in (orientation_ax, phase_ax, surround_ax, plaid_ax)] == [
            "orientation (deg)", "phase (deg)", "disk diameter (input px)", "orthogonal contrast"]
        for ax in (orientation_ax, phase_ax, surround_ax, plaid_ax):
            assert len(ax.lines) == len(runs) + 1  # one line per variant and seed, and the true neuron's
        # the true neuron is the same neuron (mouse and unit id) in the truth's files
        true_row = neuron_row(truth, f"{tuning[0]['mouse'][row]} unit {tuning[0]['unit_id'][row]}")
        for ax, name in ((orientation_ax, "orientation"), (phase_ax, "phase"), (surround_ax, "surround")):
            assert ax.lines[-1].get_linestyle() == "--"
            np.testing.assert_allclose(ax.lines[-1].get_ydata(), truth[name][true_row] / truth[name][true_row].max())
        true_plaid = truth["cross_orientation"][true_row][:, -1]
        np.testing.assert_allclose(plaid_ax.lines[-1].get_ydata(), true_plaid / true_plaid[0])
        for index, values in enumerate(tuning):
            for ax, name in ((orientation_ax, "orientation"), (phase_ax, "phase"), (surround_ax, "surround")):
                np.testing.assert_allclose(ax.lines[index].get_ydata(), values[name][row] / values[name][row].max())
            plaid = values["cross_orientation"][row][:, -1]
            np.testing.assert_allclose(plaid_ax.lines[index].get_ydata(), plaid / plaid[0])
            np.testing.assert_allclose(surround_ax.lines[index].get_xdata(), values["disk_diameters"])


def test_tuning_indices_show_each_variants_and_the_true_distribution_of_every_index(results, tiny_workdir, tmp_path):
    drawn = draw_figure(tiny_workdir, "tuning_indices", tmp_path / "indices.pdf")
    variants = drawn.options["variants"]
    contents = [load_tuning(path) for path in drawn.inputs["tuning"]] + [load_tunings(drawn.inputs["truth"])]
    axes = panels(drawn.figure)
    assert [ax.get_ylabel() for ax in axes] == list(INDEX_LABELS.values())
    for ax, name in zip(axes, INDEX_LABELS):
        assert tick_labels(ax) == [*variants, TRUTH]  # the true neurons' distribution last
        for position, content in enumerate(contents):
            values = content[name]
            values = values[np.isfinite(values)]
            lines = line_slots(ax, position)  # the quartiles, or one line where every neuron has the same value
            drawn_y = np.concatenate([line.get_ydata() for line in lines] + [
                path.vertices[:, 1] for violin in ax.collections for path in violin.get_paths()
                if abs(path.vertices[:, 0].mean() - position) < 0.5])
            np.testing.assert_allclose([drawn_y.min(), drawn_y.max()], [values.min(), values.max()], atol=1e-12)
            assert np.isclose([line.get_ydata()[0] for line in lines], np.median(values)).any()


def test_optimal_gabors_show_each_runs_and_the_true_neurons_gabor_of_the_named_neurons(results, tiny_workdir,
                                                                                      tmp_path):
    drawn = draw_figure(tiny_workdir, "optimal_gabors", tmp_path / "gabors.pdf")
    runs = [tuple(run) for run in drawn.options["runs"]]
    tables = dict(zip(runs, (pd.read_csv(path) for path in drawn.inputs["optimal"])))
    variants = list(dict.fromkeys(variant for variant, _ in runs))
    seeds = sorted({seed for _, seed in runs})
    n_examples = min(drawn.options["neurons"], len(tables[runs[0]]))
    shown = [ax for ax in drawn.figure.axes if ax.images]
    assert len(shown) == (len(variants) * len(seeds) + 1) * n_examples  # the true neuron: one Gabor per example
    axes = np.reshape(shown[:-n_examples], (len(variants), n_examples * len(seeds)))
    assert [line[0].get_ylabel() for line in axes] == variants and shown[-n_examples].get_ylabel() == TRUTH
    truth = pd.concat([pd.read_csv(path) for path in drawn.inputs["truth"]], ignore_index=True)
    for example, ax in enumerate(shown[-n_examples:]):
        mouse, _, unit = axes[0, example * len(seeds)].get_title().splitlines()[0].split()
        (neuron,) = truth[(truth["mouse"] == mouse) & (truth["unit_id"] == int(unit))].itertuples()
        expected = gabor(neuron.size, neuron.relative_sf, neuron.orientation, neuron.phase, neuron.contrast,
                         neuron.input_height, neuron.input_width, (neuron.y, neuron.x))[0].numpy()
        np.testing.assert_allclose(ax.images[0].get_array(), expected)  # drawn at the true receptive field
    for column, ax in enumerate(axes[0]):
        assert ax.get_title().splitlines()[1] == f"seed {seeds[column % len(seeds)]}"
    for line, variant in enumerate(variants):
        for column, ax in enumerate(axes[line]):
            table = tables[(variant, seeds[column % len(seeds)])]
            mouse, _, unit = axes[0, column].get_title().splitlines()[0].split()
            (neuron,) = table[(table["mouse"] == mouse) & (table["unit_id"] == int(unit))].itertuples()
            (image,) = ax.images
            expected = gabor(neuron.size, neuron.relative_sf, neuron.orientation, neuron.phase, neuron.contrast,
                             neuron.input_height, neuron.input_width, (neuron.y, neuron.x))[0].numpy()
            np.testing.assert_allclose(image.get_array(), expected)


def test_ground_truth_figure_compares_indices_with_the_planted_types(results, tiny_workdir, tmp_path):
    drawn = draw_figure(tiny_workdir, "insilico_ground_truth", tmp_path / "ground_truth.pdf")
    variants = drawn.options["variants"]
    truths = [load_ground_truth(path) for path in drawn.inputs["truth"]]
    type_name = np.concatenate([np.asarray(t["type_names"]).astype(str)[t["cell_type"]] for t in truths])
    tuning = [load_tuning(path) for path in drawn.inputs["tuning"]] + [load_tunings(drawn.inputs["truth_tuning"])]
    assert legend_labels(drawn.figure) == [*variants, TRUTH] and legends_off_the_data(drawn.figure)
    phase_ax, surround_ax, check_ax, orientation_ax = panels(drawn.figure)
    for ax, index in ((phase_ax, "phase_invariance"), (surround_ax, "surround_suppression")):
        assert ax.get_ylabel() == f"{INDEX_LABELS[index]} (mean, 95% CI)"
        assert tick_labels(ax) == sorted(set(type_name))
        means = [line.get_ydata() for line in ax.lines if line.get_marker() == "o" and len(line.get_xdata())]
        expected = [pd.Series(values[index]).groupby(type_name).mean().to_numpy() for values in tuning]
        np.testing.assert_allclose(means, expected)  # a point per planted type and variant (and truth): the mean
    check = pd.read_csv(drawn.inputs["check"])
    assert tick_labels(check_ax) == [*variants, TRUTH]
    assert scatter_points(check_ax) == len(check)  # a point per variant and seed, and one for the true neurons
    drawn_values = np.concatenate([c.get_offsets()[:, 1] for c in check_ax.collections])
    np.testing.assert_allclose(np.sort(drawn_values), np.sort(check["orientation_circular_correlation"]))
    assert orientation_ax.get_title() == f"{variants[0]}, first seed, and the true neurons (black)"
    planted = np.concatenate([t["orientation"] for t in truths])
    for collection, values in zip(orientation_ax.collections, (tuning[0], tuning[-1])):
        np.testing.assert_allclose(collection.get_offsets(),
                                   np.degrees(np.column_stack([planted, values["preferred_orientation"]])))
