"""Rule-level tests of the embedding-consistency stage, run by Snakemake on the tiny config."""
import numpy as np
import pandas as pd
import pytest

from v1twin.clustering.embeddings import load_embeddings
from v1twin.clustering.labels import load_labels
from v1twin.data.simulate import load_ground_truth

from conftest import draw_figure, tiny_results
from helpers import legend_labels, legends_off_the_data, panels, scatter_points

pytestmark = pytest.mark.slow

VARIANTS = ["factorized", "gaussian_g0"]  # the tiny config's named variants
GRID_POINTS = ["adaptive_grid-adaptive-1.0-0.5"]  # the one point of its 2-seed grid sweep
VIDEO_VARIANTS = ["video_3d", "video_factorized_g0", "video_factorized_g1"]  # landscapes.video_rows, on mouse v1
# named variants with 2 seeds on other mice: the regularization control's populations, DECEMber's retina-style
# check, the video models
OTHER_POPULATIONS = ["control_discrete", "control_continuum", "december_retina", *VIDEO_VARIANTS]
CONTROL_POINTS = ["control_discrete_l1-10.0", "control_continuum_l1-10.0"]  # the control's L1 sweeps (2 seeds)
N_NEURONS = 2 * 40
K_VALUES = [2, 3, 4]
TABLES = ["clustering_across_seeds", "kmeans_reruns", "response_correlation", "planted_types", "sweeps",
          "adaptive_beta", "planted_type_separability"]
FIGURES = ["tsne_embeddings", "ari_across_seeds", "kmeans_reruns", "ari_planted_types", "adaptive_regularization",
           "planted_type_separability"]


@pytest.fixture(scope="module")
def results(tiny_workdir):
    return tiny_results(tiny_workdir, *(f"consistency/{name}.csv" for name in TABLES), figures=FIGURES)


def test_embeddings_and_labels_cover_every_neuron_of_both_mice(results):
    for variant in VARIANTS:
        for seed in (1, 2):
            embeddings = load_embeddings(results / "embeddings" / variant / f"seed{seed}.npz")
            assert embeddings.embedding.shape == (N_NEURONS, 4)  # the tiny CNN core has 4 channels
            assert not embeddings.aligned  # a CNN core has no rotation axis
            np.testing.assert_allclose(np.linalg.norm(embeddings.embedding, axis=1), 1.0, rtol=1e-5)
            assert embeddings.mouse.tolist() == ["m1"] * 40 + ["m2"] * 40
            labels = load_labels(results / "clusters" / variant / f"seed{seed}.npz")
            assert labels.k_values.tolist() == K_VALUES
            for method in ("kmeans", "gmm"):
                assert labels.labels[method].shape == (len(K_VALUES), N_NEURONS)
                assert (labels.labels[method].max(axis=1) == np.array(K_VALUES) - 1).all()


def test_consistency_tables_have_one_row_per_comparison_and_valid_values(results):
    tables = {name: pd.read_csv(results / "consistency" / f"{name}.csv") for name in TABLES}
    across = tables["clustering_across_seeds"]
    compared = VARIANTS + OTHER_POPULATIONS + GRID_POINTS + CONTROL_POINTS  # every model with 2 seeds: named first
    assert across["variant"].unique().tolist() == compared
    assert len(across) == len(compared) * 2 * len(K_VALUES)
    assert (across["n_pairs"] == 1).all()  # two seeds: one pair, so no sd
    assert across["ari_mean"].between(-1, 1).all()
    assert across[["fmi_mean", "v_measure_mean"]].stack().between(0, 1).all()

    reruns = tables["kmeans_reruns"]
    assert sorted(reruns["variant"].unique()) == VARIANTS and (reruns["seed"] == 1).all()
    assert (reruns["n_pairs"] == 3).all()  # 3 reruns
    assert reruns["ari_mean"].between(-1, 1).all()

    correlation = tables["response_correlation"]
    assert len(correlation) == len(VARIANTS) * 3  # mice m1, m2 and all
    assert set(correlation["mouse"]) == {"m1", "m2", "all"}
    assert correlation["correlation"].between(-1, 1).all()

    planted = tables["planted_types"]  # the study's variants on m1, m2 and the video models on v1
    assert planted["variant"].unique().tolist() == VARIANTS + VIDEO_VARIANTS
    assert len(planted) == len(VARIANTS + VIDEO_VARIANTS) * 2 * 2 * len(K_VALUES)  # variants x seeds x methods x K
    assert planted["ari"].between(-1, 1).all()

    separability = tables["planted_type_separability"]
    assert separability[["variant", "seed"]].values.tolist() == [[v, s] for v in VARIANTS for s in (1, 2)]
    assert (separability["n_neurons"] == N_NEURONS).all()
    assert separability["decoding_accuracy"].between(0, 1).all()
    assert separability["chance_accuracy"].between(1 / 3, 1).all()  # 3 planted types
    shares = separability[["orientation_share", "phase_share", "type_parameter_share", "nuisance_share"]]
    assert (shares.isna() | (shares <= 1)).all().all()  # NaN where no type has enough neurons for the fit


def test_video_embeddings_are_rotation_aligned_rows_of_the_video_mouse(results):
    for variant in VIDEO_VARIANTS:
        embeddings = load_embeddings(results / "embeddings" / variant / "seed1.npz")
        assert embeddings.aligned and embeddings.embedding.shape == (12, 2 * 4)  # 12 neurons, 2 features x 4 rotations
        assert embeddings.mouse.tolist() == ["v1"] * 12 and set(embeddings.rotation_shift) <= set(range(4))


def test_tsne_maps_show_the_same_neurons_for_every_variant(results):
    maps = [pd.read_csv(results / "embeddings" / variant / "seed1.tsne.csv") for variant in VARIANTS]
    for table in maps:
        assert len(table) == 2 * 30  # neurons_per_mouse of the tiny config
        assert np.isfinite(table[["x", "y"]].to_numpy()).all()
    pd.testing.assert_frame_equal(maps[0][["mouse", "unit_id"]], maps[1][["mouse", "unit_id"]])


def test_every_figure_is_rendered(results):
    for name in FIGURES:
        for suffix in (".pdf", ".png"):
            assert (results / "figures" / f"{name}{suffix}").stat().st_size > 1000


def test_sweep_table_holds_the_grid_points_beside_their_base(results):
    table = pd.read_csv(results / "consistency" / "sweeps.csv")
    assert len(table) == (1 + len(GRID_POINTS)) * 2 * len(K_VALUES)  # base + points, x methods x K
    roles = table.drop_duplicates("variant").set_index("variant")["role"].to_dict()
    assert roles == {"gaussian_g0": "base", **{point: "point" for point in GRID_POINTS}}
    settings = table.drop_duplicates("variant").set_index("variant")[["readout.gamma", "readout.adaptive_sigma"]]
    assert settings.loc[GRID_POINTS[0]].tolist() == [1.0, 0.5]
    assert settings.loc["gaussian_g0"].tolist() == [0.0, 0.1]  # the base's own gamma and the default sigma
    across = pd.read_csv(results / "consistency" / "clustering_across_seeds.csv")
    merged = table.merge(across, on=["variant", "method", "k"], suffixes=("", "_across"))
    np.testing.assert_allclose(merged["ari_mean"], merged["ari_mean_across"])  # the same numbers, one source
    assert table["fraction_oracle_mean"].between(-1, 1).all()


def test_adaptive_beta_table_has_every_neuron_of_every_grid_point(results):
    beta = pd.read_csv(results / "consistency" / "adaptive_beta.csv")
    assert beta.groupby("variant").size().to_dict() == {point: N_NEURONS for point in GRID_POINTS}
    assert (beta["beta"] > 0).all()
    assert set(beta["cell_type"]) <= {0, 1, 2}  # the tiny population's 3 planted types
    assert beta[["test_correlation", "oracle"]].stack().between(-1, 1).all()


@pytest.mark.parametrize("name", ["ari_across_seeds", "kmeans_reruns"])
def test_consistency_figures_keep_their_legends_off_the_data(results, tiny_workdir, tmp_path, name):
    drawn = draw_figure(tiny_workdir, name, tmp_path / f"{name}.pdf")
    assert legends_off_the_data(drawn.figure)
    assert set(drawn.options["variants"]) <= set(legend_labels(drawn.figure))


def test_tsne_figure_maps_every_variants_neurons_by_cluster_and_planted_type(results, tiny_workdir, tmp_path):
    drawn = draw_figure(tiny_workdir, "tsne_embeddings", tmp_path / "tsne.pdf")
    variants, k = drawn.options["variants"], drawn.options["k"]
    truths = [load_ground_truth(path) for path in drawn.inputs["truth"]]
    type_names = [str(name) for name in truths[0]["type_names"]]
    axes = np.reshape(panels(drawn.figure), (2, len(variants)))  # rows: k-means cluster, planted type
    assert axes[0, 0].get_ylabel() == f"k-means cluster (K = {k})"
    assert legend_labels(drawn.figure) == type_names
    for column, (variant, tsne, labels) in enumerate(zip(variants, drawn.inputs["tsne"], drawn.inputs["labels"])):
        table = pd.read_csv(tsne)
        assert axes[0, column].get_title() == f"{variant}\n(n = {len(table)})"
        clusters = load_labels(labels)
        neurons = pd.DataFrame({"mouse": clusters.mouse.astype(str), "unit_id": clusters.unit_id,
                                "cluster": clusters.at("kmeans", k),
                                "cell_type": np.concatenate([truth["cell_type"] for truth in truths])})
        shown = table.merge(neurons, on=["mouse", "unit_id"], how="left")
        for ax, colour_by in zip(axes[:, column], ("cluster", "cell_type")):
            assert scatter_points(ax) == len(table)  # a point per mapped neuron, at its t-SNE position
            (points,) = ax.collections
            np.testing.assert_allclose(points.get_offsets(), table[["x", "y"]])
            colours = pd.Series(map(tuple, points.get_facecolors().round(6)))
            # one colour per cluster (per planted type): points share a colour exactly when they share the label
            assert colours.groupby(shown[colour_by]).nunique().eq(1).all()
            assert colours.nunique() == shown[colour_by].nunique()
