"""Embedding alignment, clustering, agreement measures and t-SNE (v1twin.clustering)."""
import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import adjusted_rand_score, fowlkes_mallows_score, v_measure_score

from v1twin.clustering import ClusteringError
from v1twin.clustering.agreement import across_seed_table, agreement, kmeans_rerun_agreement, summarize
from v1twin.clustering.embeddings import Embeddings, align_rotations, load_embeddings, model_embeddings, save_embeddings
from v1twin.clustering.labels import CLUSTERERS, METHODS, ClusterLabels, cluster_embedding, load_labels, save_labels
from v1twin.clustering.planted import (
    decoding_accuracy,
    harmonics,
    planted_type_table,
    type_separability,
    within_type_share,
)
from v1twin.clustering.responses import prediction_correlation
from v1twin.clustering.sweeps import (
    adaptive_beta_table,
    base_parameter_values,
    performance_summary,
    sweep_table,
    sweep_table_from_files,
)
from v1twin.clustering.tsne import tsne_subset, tsne_table
from v1twin.config_schema import with_defaults
from v1twin.data.simulate import save_ground_truth, simulate_mouse
from v1twin.data.tensors import MouseTensors, prepare_mouse
from v1twin.model_run import save_model
from v1twin.models import MouseInfo, build_model
from v1twin.plots import clustering as plots

from helpers import (
    Trials,
    assert_figure_files,
    errorbar_curves,
    legend_labels,
    legends_off_the_data,
    mouse_arrays,
    panels,
    scatter_points,
    tick_labels,
    training_settings,
)

F, R = 4, 8  # features x rotations of the planted embeddings


def to_channels(views: np.ndarray) -> np.ndarray:
    """(N, F, R) -> (N, R·F) in the core's rotation-major layout: channel r·F + f holds views[:, f, r]."""
    n, features, rotations = views.shape
    channels = np.empty((n, rotations * features))
    for r in range(rotations):
        for f in range(features):
            channels[:, r * features + f] = views[:, f, r]
    return channels


def planted_rotations(n: int, n_types: int, seed: int = 0, noise: float = 0.01):
    """Neurons of `n_types` prototypes, each rotated by a random cyclic shift along R, plus small noise."""
    rng = np.random.default_rng(seed)
    prototypes = rng.normal(size=(n_types, F, R))
    types = rng.integers(0, n_types, n)
    shifts = rng.integers(0, R, n)
    views = np.stack([np.roll(prototypes[t], s, axis=-1) for t, s in zip(types, shifts)])
    views += noise * rng.normal(size=views.shape)
    return to_channels(views), types, shifts


def embeddings_of(vectors: np.ndarray, mice: list[str], per_mouse: int) -> Embeddings:
    n = len(vectors)
    return Embeddings(
        embedding=vectors.astype(np.float32), features=vectors.astype(np.float32),
        mouse=np.repeat(mice, per_mouse), unit_id=np.tile(np.arange(1, per_mouse + 1), len(mice)),
        rotation_shift=np.zeros(n, dtype=np.int64), aligned=False,
    )


def blobs(n_per_cluster: int = 30, k: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = 10 * np.eye(k, 5)
    truth = np.repeat(np.arange(k), n_per_cluster)
    return centres[truth] + 0.1 * rng.normal(size=(len(truth), 5)), truth


# ----------------------------------------------------------------------------------------------
# Agreement measures


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([0, 0, 1, 1, 2, 2], [1, 1, 0, 0, 2, 2]),
        ([0, 0, 1, 1, 2, 2], [0, 0, 0, 1, 1, 1]),
        ([0, 1, 2, 0, 1, 2, 0, 1], [0, 0, 1, 1, 2, 2, 3, 3]),
    ],
)
def test_agreement_equals_scikit_learn(a, b):
    scores = agreement(np.array(a), np.array(b))
    assert scores["ari"] == pytest.approx(adjusted_rand_score(a, b))
    assert scores["fmi"] == pytest.approx(fowlkes_mallows_score(a, b))
    assert scores["v_measure"] == pytest.approx(v_measure_score(a, b))


def test_agreement_hand_computed_values():
    # Identical partitions under another naming agree perfectly.
    assert agreement(np.array([0, 0, 1, 1]), np.array([5, 5, 3, 3])) == pytest.approx(
        {"ari": 1.0, "fmi": 1.0, "v_measure": 1.0})
    # [0,0,1,1] vs [0,0,0,1]: 1 pair together in both, 2 in the first, 3 in the second -> FMI 1/sqrt(6);
    # ARI = (1 - 2·3/6) / ((2+3)/2 - 2·3/6) = 0.
    scores = agreement(np.array([0, 0, 1, 1]), np.array([0, 0, 0, 1]))
    assert scores["fmi"] == pytest.approx(1 / math.sqrt(6))
    assert scores["ari"] == pytest.approx(0.0)


def labels_file(tmp_path, name: str, kmeans_rows: list[list[int]], k_values: list[int]) -> str:
    rows = np.array(kmeans_rows)
    labels = ClusterLabels(k_values=np.array(k_values), labels={"kmeans": rows, "gmm": rows},
                           mouse=np.array(["m1", "m1", "m2", "m2"]), unit_id=np.array([1, 2, 1, 2]))
    path = tmp_path / f"{name}.npz"
    save_labels(path, labels)
    return str(path)


def test_across_seed_table_aggregates_seed_pairs_by_hand(tmp_path):
    # K = 2: seeds 1 and 2 agree up to naming (ARI 1); seed 3 crosses both:
    # ARI = (0 − 2·2/6) / ((2+2)/2 − 2·2/6) = −0.5. Pairs: 1, −0.5, −0.5 -> mean 0, sd sqrt(1.5/2).
    # K = 3: every seed identical -> mean 1, sd 0.
    files = {
        1: labels_file(tmp_path, "s1", [[0, 0, 1, 1], [0, 1, 2, 2]], [2, 3]),
        2: labels_file(tmp_path, "s2", [[1, 1, 0, 0], [0, 1, 2, 2]], [2, 3]),
        3: labels_file(tmp_path, "s3", [[0, 1, 0, 1], [0, 1, 2, 2]], [2, 3]),
    }
    table = across_seed_table({"variant_a": files})
    assert list(table.columns[:4]) == ["variant", "method", "k", "n_pairs"]
    assert len(table) == 4  # 2 methods x 2 K
    k2 = table[(table["method"] == "kmeans") & (table["k"] == 2)].iloc[0]
    assert k2["n_pairs"] == 3
    assert k2["ari_mean"] == pytest.approx(0.0)
    assert k2["ari_sd"] == pytest.approx(math.sqrt(0.75))
    k3 = table[(table["method"] == "gmm") & (table["k"] == 3)].iloc[0]
    assert (k3["ari_mean"], k3["ari_sd"], k3["fmi_mean"], k3["v_measure_mean"]) == pytest.approx((1, 0, 1, 1))


def test_across_seed_table_refuses_labels_of_different_neurons(tmp_path):
    good = labels_file(tmp_path, "s1", [[0, 0, 1, 1]], [2])
    other = ClusterLabels(k_values=np.array([2]),
                          labels={"kmeans": np.zeros((1, 4), int), "gmm": np.zeros((1, 4), int)},
                          mouse=np.array(["m1", "m1", "m2", "m2"]), unit_id=np.array([1, 2, 3, 4]))
    save_labels(tmp_path / "s2.npz", other)
    with pytest.raises(ClusteringError, match="differ in neurons"):
        across_seed_table({"v": {1: good, 2: str(tmp_path / "s2.npz")}})


def test_summarize_uses_sample_sd():
    pairs = pd.DataFrame({"k": [2, 2, 2, 3], "ari": [0.2, 0.4, 0.9, 0.5]})
    summary = summarize(pairs, ["k"], ("ari",)).set_index("k")
    assert summary.loc[2, "ari_mean"] == pytest.approx(0.5)
    assert summary.loc[2, "ari_sd"] == pytest.approx(np.std([0.2, 0.4, 0.9], ddof=1))
    assert summary.loc[3, "n_pairs"] == 1 and np.isnan(summary.loc[3, "ari_sd"])


# ----------------------------------------------------------------------------------------------
# Rotation alignment


def test_alignment_recovers_planted_shifts_exactly():
    features, types, shifts = planted_rotations(200, n_types=3)
    aligned, found = align_rotations(features, F, R)
    for t in range(3):
        offsets = (found[types == t] - shifts[types == t]) % R
        assert len(np.unique(offsets)) == 1, f"type {t}: shifts recovered only up to {np.unique(offsets)}"
    # Aligned vectors of one type coincide (up to the noise); they are unit length.
    np.testing.assert_allclose(np.linalg.norm(aligned, axis=1), 1.0, rtol=1e-6)
    for t in range(3):
        members = aligned[types == t]
        assert np.abs(members - members.mean(axis=0)).max() < 0.05


def test_alignment_undoes_a_rotation_of_single_neurons():
    features, _, _ = planted_rotations(50, n_types=2, noise=0.0)
    views = features.reshape(50, R, F)  # rotation-major layout: [:, r, f]
    rotated = np.roll(views, 3, axis=1).reshape(50, -1)
    aligned, _ = align_rotations(features, F, R)
    aligned_rotated, _ = align_rotations(rotated, F, R)
    np.testing.assert_allclose(aligned_rotated, aligned, atol=1e-12)


def test_alignment_is_invariant_to_permuting_and_rescaling_neurons():
    features, _, _ = planted_rotations(120, n_types=3, seed=4)
    order = np.random.default_rng(1).permutation(len(features))
    scale = np.random.default_rng(2).uniform(0.5, 3.0, size=(len(features), 1))
    aligned, shifts = align_rotations(features, F, R)
    aligned_permuted, shifts_permuted = align_rotations(features[order] * scale[order], F, R)
    np.testing.assert_allclose(aligned_permuted, aligned[order], atol=1e-12)
    np.testing.assert_array_equal(shifts_permuted, shifts[order])


@pytest.mark.parametrize(
    ("core", "in_channels"),
    [({"type": "rotation_equivariant"}, 4),  # image, 3 behaviour channels; the video cores: video, 2 + 2 signals
     ({"type": "rotation_equivariant_3d", "input_kernel_time": 2, "hidden_kernel_time": 2}, 5),
     ({"type": "rotation_equivariant_factorized", "input_kernel_time": 2, "hidden_kernel_time": 2}, 5)],
)
def test_model_embeddings_align_the_rotation_equivariant_core(tmp_path, core, in_channels):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    mice = {name: MouseInfo(n_neurons=n, cell_motor_coordinates=rng.normal(size=(n, 3)), mean_response=np.ones(n))
            for name, n in (("a", 5), ("b", 3))}
    variant = {"core": {**core, "channels": F, "rotations": R, "layers": 1, "input_kernel": 5},
               "readout": {"type": "gaussian"}}
    model = build_model(variant, mice, (in_channels, 12, 12))
    model.core.channel_mask[model.core.feature_channels(1)] = 0.0  # feature 1 pruned in every rotation
    readout_b = model.readouts["b"].features
    with torch.no_grad():
        for readout in model.readouts.values():
            readout.features.copy_(torch.randn_like(readout.features))
        # neuron 0 of mouse b: neuron 1 of mouse b rotated by 2 steps (channel blocks of F rolled by 2)
        readout_b[0] = 2.5 * readout_b[1].view(R, F).roll(2, dims=0).reshape(-1)
    path = tmp_path / "model.pt"
    save_model(path, model, variant, mice, (in_channels, 12, 12),
               {"unit_ids": {"a": np.arange(10, 15), "b": np.array([7, 8, 9])}})

    embeddings = model_embeddings(path, ["b", "a"])  # rows in the order asked for
    assert embeddings.aligned
    assert embeddings.embedding.shape == (8, F * R)
    assert embeddings.mouse.tolist() == ["b"] * 3 + ["a"] * 5
    assert embeddings.unit_id.tolist() == [7, 8, 9, 10, 11, 12, 13, 14]
    np.testing.assert_allclose(embeddings.features[3:], model.readouts["a"].features.detach().numpy())
    np.testing.assert_allclose(embeddings.embedding[0], embeddings.embedding[1], atol=1e-6)
    assert not embeddings.embedding[:, model.core.feature_channels(1)].any()  # pruned channels carry nothing
    assert (embeddings.rotation_shift[0] - embeddings.rotation_shift[1]) % R == 2

    save_embeddings(tmp_path / "e.npz", embeddings)
    loaded = load_embeddings(tmp_path / "e.npz")
    np.testing.assert_array_equal(loaded.embedding, embeddings.embedding)
    assert loaded.mouse.tolist() == embeddings.mouse.tolist() and loaded.aligned

    with pytest.raises(ClusteringError, match="model.pt.*mice \\['c'\\]"):
        model_embeddings(path, ["a", "c"])


def test_load_embeddings_names_the_file_and_the_missing_array(tmp_path):
    path = tmp_path / "broken.npz"
    np.savez(path, embedding=np.zeros((2, 3)))
    with pytest.raises(ClusteringError, match="broken.npz.*lacks"):
        load_embeddings(path)


# ----------------------------------------------------------------------------------------------
# Clustering


@pytest.mark.parametrize("method", ["kmeans", "gmm"])
def test_clusterers_are_deterministic_and_find_separated_blobs(method):
    vectors, truth = blobs()
    cluster = CLUSTERERS[method]
    first = cluster(vectors, 3, n_init=2, random_state=5)
    np.testing.assert_array_equal(first, cluster(vectors, 3, n_init=2, random_state=5))
    assert adjusted_rand_score(truth, first) == pytest.approx(1.0)


def test_cluster_embedding_labels_every_k_and_round_trips(tmp_path):
    vectors, _ = blobs(n_per_cluster=10)
    labels = cluster_embedding(embeddings_of(vectors, ["m1", "m2"], 15), [2, 3, 5], 2, 0)
    assert labels.labels["kmeans"].shape == labels.labels["gmm"].shape == (3, 30)
    assert [len(np.unique(labels.at("kmeans", k))) for k in (2, 3, 5)] == [2, 3, 5]
    save_labels(tmp_path / "l.npz", labels)
    loaded = load_labels(tmp_path / "l.npz")
    np.testing.assert_array_equal(loaded.at("gmm", 5), labels.at("gmm", 5))
    with pytest.raises(KeyError, match="K = 4"):
        loaded.at("kmeans", 4)
    with pytest.raises(ValueError, match="K = \\[40\\]"):
        cluster_embedding(embeddings_of(vectors, ["m1", "m2"], 15), [40], 1, 0)


def test_kmeans_reruns_agree_on_separated_blobs():
    vectors, _ = blobs()
    pairs = kmeans_rerun_agreement(embeddings_of(vectors, ["m1"], 90), [3, 4], reruns=3, n_init=2,
                                              random_state=0)
    assert len(pairs) == 2 * 3  # K values x pairs of 3 runs
    assert pairs[pairs["k"] == 3]["ari"].tolist() == pytest.approx([1.0, 1.0, 1.0])


# ----------------------------------------------------------------------------------------------
# Planted-type separability


def test_decoding_accuracy_is_perfect_on_separated_types_and_near_chance_on_noise():
    vectors, truth = blobs(n_per_cluster=40)
    assert decoding_accuracy(vectors, truth, seed=0) == 1.0
    noise = np.random.default_rng(1).normal(size=vectors.shape)
    assert abs(decoding_accuracy(noise, truth, seed=0) - 1 / 3) < 0.15
    with pytest.raises(ClusteringError, match="1 neurons"):
        decoding_accuracy(vectors[:81], truth[:81], seed=0)  # the third type keeps 1 neuron


def test_within_type_share_recovers_a_planted_orientation_share():
    """Column 0 = cos 8θ (variance 1/2), column 1 = independent noise of variance 1/2: half the within-type
    variance follows orientation; phase regressors explain nothing; noise alone scores about 0."""
    rng = np.random.default_rng(0)
    n = 20_000
    orientation, phase = rng.uniform(0, np.pi, n), rng.uniform(0, 2 * np.pi, n)
    types = rng.integers(0, 2, n)
    embedding = np.column_stack([np.cos(8 * orientation) + 5 * types, rng.normal(0, np.sqrt(0.5), n)])
    orientation_regressors = harmonics(2 * orientation, range(1, 9))
    assert within_type_share(embedding, types, orientation_regressors) == pytest.approx(0.5, abs=0.01)
    phase_regressors = harmonics(phase, range(1, 3))
    assert within_type_share(embedding, types, phase_regressors) == pytest.approx(0.0, abs=0.01)
    assert np.isnan(within_type_share(embedding[:10], types[:10], orientation_regressors))  # too few


def test_type_separability_of_an_embedding_made_of_the_type_scatter():
    rng = np.random.default_rng(0)
    n = 600
    types = np.repeat(np.arange(3), n // 3)
    coordinates = 0.3 * np.eye(3, 5)[types] + rng.normal(0, 0.03, (n, 5))
    truth = {"cell_type": types, "orientation": rng.uniform(0, np.pi, n), "phase": rng.uniform(0, 2 * np.pi, n),
             "type_coordinates": coordinates}
    result = type_separability(coordinates, truth, seed=0)
    assert result["decoding_accuracy"] == 1.0 and result["chance_accuracy"] == pytest.approx(1 / 3)
    assert result["type_parameter_share"] == pytest.approx(1.0)
    assert abs(result["nuisance_share"]) < 0.05


def agreement_rows(variants: list[str], k_values: list[int]) -> pd.DataFrame:
    """An across-seeds table: every agreement measure per variant, method and K."""
    rng = np.random.default_rng(0)
    return pd.DataFrame([{"variant": v, "method": m, "k": k,
                          **{f"{measure}_{stat}": rng.uniform() for measure in plots.MEASURE_NAMES
                             for stat in ("mean", "sd")}}
                         for v in variants for m in METHODS for k in k_values])


def test_agreement_figures_draw_a_curve_per_variant_over_every_k(tmp_path):
    across = agreement_rows(["a", "b", "other"], [2, 4, 6])
    across.to_csv(tmp_path / "across.csv", index=False)
    fig = plots.ari_across_seeds(str(tmp_path / "across.csv"), str(tmp_path / "ari.pdf"), variants=["a", "b"])
    assert_figure_files(tmp_path / "ari.pdf")
    assert len(panels(fig)) == len(plots.MEASURE_NAMES) * len(METHODS)  # rows: measures, columns: methods
    a_kmeans = across[(across["variant"] == "a") & (across["method"] == "kmeans")]
    first = panels(fig)[0].containers[0].lines[0]  # ARI, k-means, variant a
    np.testing.assert_allclose(np.asarray(first.get_ydata(), float), a_kmeans["ari_mean"])
    assert legend_labels(fig) == ["a", "b"]  # one legend, beside the panels
    assert legends_off_the_data(fig)

    reruns = across[across["method"] == "kmeans"][["variant", "k", "ari_mean", "ari_sd"]]
    reruns.to_csv(tmp_path / "reruns.csv", index=False)
    fig = plots.kmeans_reruns(str(tmp_path / "reruns.csv"), str(tmp_path / "across.csv"), str(tmp_path / "r.pdf"),
                              variants=["a", "b"])
    (ax,) = panels(fig)
    assert len(ax.containers) == 2 * 2  # per variant: reruns and across seeds
    assert [len(c.lines[0].get_xdata()) for c in ax.containers] == [across["k"].nunique()] * 4

    planted = pd.DataFrame([{"variant": v, "seed": seed, "method": m, "k": k, "ari": 0.1 * seed}
                            for v in ("a", "b") for seed in (1, 2, 3) for m in METHODS for k in (2, 4)])
    planted.to_csv(tmp_path / "planted.csv", index=False)
    fig = plots.ari_planted_types(str(tmp_path / "planted.csv"), str(tmp_path / "p.pdf"), variants=["a", "b"],
                                  n_types=4)
    assert [ax.get_title() for ax in panels(fig)] == [plots.METHOD_NAMES[m] for m in METHODS]
    mean_over_seeds = panels(fig)[0].containers[0].lines[0].get_ydata()
    np.testing.assert_allclose(np.asarray(mean_over_seeds, float), [0.2, 0.2])  # mean of 0.1, 0.2, 0.3 at each K
    assert sorted(legend_labels(fig)) == ["a", "b", "planted types (4)"]


def test_separability_figure_renders(tmp_path):
    rng = np.random.default_rng(0)
    shares = ("orientation_share", "phase_share", "type_parameter_share", "nuisance_share")
    pd.DataFrame([{"variant": v, "seed": s, "n_neurons": 100, "decoding_accuracy": rng.uniform(0.5, 1),
                   "chance_accuracy": 0.2, **{name: rng.uniform() for name in shares}}
                  for v in ("a", "b") for s in (1, 2)]).to_csv(tmp_path / "sep.csv", index=False)
    pd.DataFrame([{"variant": v, "seed": s, "method": m, "k": k, "ari": rng.uniform()}
                  for v in ("a", "b") for s in (1, 2) for m in METHODS for k in (2, 3)]
                 ).to_csv(tmp_path / "planted.csv", index=False)
    fig = plots.planted_type_separability(str(tmp_path / "sep.csv"), str(tmp_path / "planted.csv"),
                                          str(tmp_path / "s.pdf"), variants=["a", "b"], n_types=3)
    assert_figure_files(tmp_path / "s.pdf")
    left, right = panels(fig)
    assert tick_labels(left) == tick_labels(right) == ["a", "b"]
    assert [len(bars) for bars in right.containers] == [2] * len(shares)  # per variance share, a bar per variant
    assert legend_labels(right) == list(plots.SHARE_NAMES.values())
    with pytest.raises(ValueError, match="true K = 6"):
        plots.planted_type_separability(str(tmp_path / "sep.csv"), str(tmp_path / "planted.csv"),
                                        str(tmp_path / "s.pdf"), variants=["a", "b"], n_types=6)


# ----------------------------------------------------------------------------------------------
# Response correlation


def test_prediction_correlation_per_mouse_and_over_all_neurons():
    t = np.linspace(0, 1, 20)[:, None]
    a = {"m1": np.hstack([t, t**2]), "m2": t.copy()}
    b = {"m1": np.hstack([3 * t + 1, t**2]), "m2": -t}
    scores = prediction_correlation(a, b)
    assert scores["m1"] == pytest.approx(1.0)
    assert scores["m2"] == pytest.approx(-1.0)
    assert scores["all"] == pytest.approx((1 + 1 - 1) / 3)  # every neuron counts once


# ----------------------------------------------------------------------------------------------
# t-SNE


def test_tsne_subset_draws_the_same_neurons_whatever_the_row_order():
    mouse = np.repeat(["m1", "m2"], 50)
    unit_id = np.tile(np.arange(100, 150), 2)
    rows = tsne_subset(mouse, unit_id, 20, seed=3)
    assert len(rows) == 40 and (mouse[rows] == "m1").sum() == 20
    order = np.random.default_rng(0).permutation(100)
    shuffled = tsne_subset(mouse[order], unit_id[order], 20, seed=3)
    chosen = set(zip(mouse[rows], unit_id[rows]))
    assert set(zip(mouse[order][shuffled], unit_id[order][shuffled])) == chosen
    assert set(zip(*(a[tsne_subset(mouse, unit_id, 20, seed=4)] for a in (mouse, unit_id)))) != chosen
    assert len(tsne_subset(mouse, unit_id, 80, seed=3)) == 100  # fewer neurons than asked: all


def test_tsne_is_deterministic_for_a_seed_and_uses_the_same_neurons_per_panel():
    vectors, _ = blobs(n_per_cluster=40)
    panel_a = embeddings_of(vectors, ["m1", "m2"], 60)
    panel_b = embeddings_of(vectors[::-1].copy(), ["m1", "m2"], 60)  # another variant's embedding
    first = tsne_table(panel_a, 45, exaggeration=12, seed=0)
    second = tsne_table(panel_a, 45, exaggeration=12, seed=0)
    pd.testing.assert_frame_equal(first, second)
    other = tsne_table(panel_b, 45, exaggeration=12, seed=0)
    assert list(first.columns) == ["mouse", "unit_id", "x", "y"] and len(first) == 90
    pd.testing.assert_frame_equal(first[["mouse", "unit_id"]], other[["mouse", "unit_id"]])
    assert np.isfinite(first[["x", "y"]].to_numpy()).all()


# ----------------------------------------------------------------------------------------------
# Regularization sweeps and the adaptive regularizer's β


def across_rows(variant: str, ari: float) -> list[dict]:
    return [{"variant": variant, "method": method, "k": 2, "n_pairs": 1, "ari_mean": ari, "ari_sd": np.nan}
            for method in METHODS]


def performance_rows(variant: str, fraction_oracles: list[float], validation: list[float] | None = None) -> list[dict]:
    """Each seed's rows of a performance table; `validation`: its best validation correlation (default 0.5)."""
    rows = []
    for seed, value in enumerate(fraction_oracles, start=1):
        run = {"variant": variant, "seed": seed, "best_val_correlation": validation[seed - 1] if validation else 0.5}
        rows += [{**run, "mouse": "mean", "fraction_oracle": value},
                 {**run, "mouse": "m1", "fraction_oracle": -1.0}]  # per mouse: ignored
    return rows


BASE_CONFIG = {"core": with_defaults({"type": "cnn"}, "core"),  # as the workflow resolves it: schema defaults filled
               "readout": with_defaults({"type": "gaussian", "regularizer": "adaptive", "gamma": 2.0}, "readout"),
               "training": training_settings(lr=0.01)}
SWEEP = {"s": {"base": "base", "base_config": BASE_CONFIG,
               "points": {"s-1.0-0.1": {"readout.gamma": 1.0, "readout.adaptive_sigma": 0.1},
                          "s-5.0-0.1": {"readout.gamma": 5.0, "readout.adaptive_sigma": 0.1}}}}
ACROSS = pd.DataFrame(across_rows("base", 0.5) + across_rows("s-1.0-0.1", 0.7) + across_rows("s-5.0-0.1", 0.9)
                      + across_rows("unrelated", 0.1))
PERFORMANCE = pd.DataFrame(performance_rows("base", [0.8, 0.9]) + performance_rows("s-1.0-0.1", [0.6, 0.7])
                           + performance_rows("s-5.0-0.1", [0.5, 0.5]))
COLLAPSE = 0.75  # clustering.collapse_fraction


def test_performance_summary_averages_the_mean_rows_over_seeds():
    summary = performance_summary(PERFORMANCE, COLLAPSE).set_index("variant")
    assert summary.loc["base", "fraction_oracle_mean"] == pytest.approx(0.85)
    assert summary.loc["base", "fraction_oracle_sd"] == pytest.approx(math.sqrt(0.005))  # sample sd of 0.8, 0.9
    assert summary.loc["s-5.0-0.1", "fraction_oracle_sd"] == 0.0
    assert summary.loc["base", "n_seeds"] == 2
    assert summary["n_collapsed"].tolist() == [0, 0, 0]


def test_performance_summary_counts_a_seed_far_below_its_seed_mate_as_collapsed():
    performance = pd.DataFrame(performance_rows("v", [0.9, 0.2, 0.85], validation=[0.60, 0.12, 0.58]))
    summary = performance_summary(performance, COLLAPSE).set_index("variant")
    assert summary.loc["v", "n_collapsed"] == 1  # 0.12 < 0.75 x median(0.60, 0.58); 0.58 and 0.60 are not
    assert summary.loc["v", "fraction_oracle_mean"] == pytest.approx(0.65)  # kept in the mean, flagged


def test_sweep_table_puts_ari_beside_performance_for_the_base_and_every_point():
    table = sweep_table(ACROSS, PERFORMANCE, SWEEP, COLLAPSE)
    assert list(table.columns[:3]) == ["sweep", "variant", "role"]
    assert len(table) == 3 * len(METHODS)  # "unrelated" is no part of the sweep
    kmeans = table[table["method"] == "kmeans"].set_index("variant")
    assert kmeans["role"].to_dict() == {"base": "base", "s-1.0-0.1": "point", "s-5.0-0.1": "point"}
    assert kmeans["ari_mean"].to_dict() == {"base": 0.5, "s-1.0-0.1": 0.7, "s-5.0-0.1": 0.9}
    assert kmeans.loc["s-1.0-0.1", "fraction_oracle_mean"] == pytest.approx(0.65)
    assert kmeans.loc["s-5.0-0.1", "readout.gamma"] == 5.0
    assert kmeans.loc["s-5.0-0.1", "readout.adaptive_sigma"] == 0.1
    assert kmeans.loc["base", "readout.gamma"] == 2.0  # the base on the sweep's axis,
    assert kmeans.loc["base", "readout.adaptive_sigma"] == 0.1  # with the model's default where it names none


def test_sweep_table_counts_the_collapsed_seeds_of_every_point():
    performance = PERFORMANCE.copy()
    failed = (performance["variant"] == "s-5.0-0.1") & (performance["seed"] == 2)
    performance.loc[failed, "best_val_correlation"] = 0.1  # its seed-mate: 0.5
    table = sweep_table(ACROSS, performance, SWEEP, COLLAPSE).drop_duplicates("variant").set_index("variant")
    assert table["n_collapsed"].to_dict() == {"base": 0, "s-1.0-0.1": 0, "s-5.0-0.1": 1}
    assert table.loc["s-5.0-0.1", "ari_mean"] == 0.9  # kept in the table, flagged


def test_base_parameter_values_read_the_resolved_variant_with_its_schema_defaults():
    values = base_parameter_values(BASE_CONFIG, ["core.gamma_input", "core.gamma_hidden", "readout.gamma",
                                                            "training.lr", "training.batch_size"])
    assert values == {"core.gamma_input": 6.3831, "core.gamma_hidden": 0.0, "readout.gamma": 2.0,
                      "training.lr": 0.01, "training.batch_size": 64}


def test_sweep_table_names_a_point_without_two_seeds():
    across = ACROSS[ACROSS["variant"] != "s-5.0-0.1"]
    with pytest.raises(ClusteringError, match="s-5.0-0.1"):
        sweep_table(across, PERFORMANCE, SWEEP, COLLAPSE)


def test_sweep_table_from_files_reads_the_runs_metrics_and_names_a_bad_across_seeds_file(tmp_path):
    ACROSS.to_csv(tmp_path / "across.csv", index=False)
    runs, files = [], []
    for row in PERFORMANCE[PERFORMANCE["mouse"] == "mean"].itertuples():
        metrics = {"per_mouse": {}, "mean": {"fraction_oracle": row.fraction_oracle}, "epochs": 1, "best_epoch": 1,
                   "best_val_correlation": 0.5, "train_seconds": 1.0}
        files.append(tmp_path / f"{row.variant}-{row.seed}.json")
        files[-1].write_text(json.dumps(metrics))
        runs.append((row.variant, row.seed))
    table = sweep_table_from_files(tmp_path / "across.csv", files, runs, SWEEP, COLLAPSE)
    pd.testing.assert_frame_equal(table, sweep_table(ACROSS, PERFORMANCE, SWEEP, COLLAPSE))
    ACROSS.drop(columns="ari_sd").to_csv(tmp_path / "across.csv", index=False)
    with pytest.raises(ClusteringError, match="across.csv.*ari_sd"):
        sweep_table_from_files(tmp_path / "across.csv", files, runs, SWEEP, COLLAPSE)


def mouse_tensors(name: str, n_neurons: int, seed: int) -> MouseTensors:
    """A tiny mouse: 6 train trials and 4 test images shown twice; neuron 0 repeats exactly (oracle 1)."""
    rng = np.random.default_rng(seed)
    trials = Trials(train=6, test_images=4, repeats=2)
    responses = rng.uniform(0.0, 2.0, size=(trials.count, n_neurons))
    responses[trials.train:, 0] = np.repeat([0.0, 1.0, 3.0, 2.0], 2)  # each test image twice in a row
    images = rng.normal(size=(trials.count, 1, 12, 12))
    return prepare_mouse(name, mouse_arrays(trials, images, responses, rng, first_unit_id=10), image_scale=1.0)


def saved_model(path, data: dict[str, MouseTensors], readout: dict, log_beta: dict | None = None) -> None:
    """A tiny model of `data` saved to `path`, with the adaptive readouts' log β set where given."""
    torch.manual_seed(0)
    infos = {name: MouseInfo(mouse.n_neurons, mouse.cell_motor_coordinates, np.ones(mouse.n_neurons))
             for name, mouse in data.items()}
    variant = {"core": {"type": "cnn", "channels": 3, "layers": 1, "input_kernel": 5}, "readout": readout}
    model = build_model(variant, infos, (4, 12, 12))
    with torch.no_grad():
        for name, values in (log_beta or {}).items():
            model.readouts[name].log_beta.copy_(torch.tensor(values))
    save_model(path, model, variant, infos, (4, 12, 12), {"unit_ids": {n: m.unit_ids for n, m in data.items()}})


def test_adaptive_beta_table_reads_beta_and_measures_every_neuron(tmp_path):
    data = {"a": mouse_tensors("a", 3, 0), "b": mouse_tensors("b", 2, 1)}
    saved_model(tmp_path / "adaptive.pt", data, {"type": "gaussian", "regularizer": "adaptive", "gamma": 1.0},
                log_beta={"a": [0.0, 1.0, -1.0], "b": [2.0, 0.5]})

    table = adaptive_beta_table({"adaptive": tmp_path / "adaptive.pt"}, data)
    assert table["mouse"].tolist() == ["a"] * 3 + ["b"] * 2
    assert table["unit_id"].tolist() == [10, 11, 12, 10, 11]
    np.testing.assert_allclose(table["beta"], np.exp([0.0, 1.0, -1.0, 2.0, 0.5]), rtol=1e-6)
    assert table.loc[0, "oracle"] == pytest.approx(1.0)  # neuron 0 of mouse a repeats exactly
    assert table.loc[3, "oracle"] == pytest.approx(1.0)
    assert table["test_correlation"].between(-1, 1).all()
    assert "cell_type" not in table.columns  # real data: no planted types


def test_adaptive_beta_table_refuses_a_model_without_the_adaptive_regularizer(tmp_path):
    data = {"a": mouse_tensors("a", 3, 0)}
    saved_model(tmp_path / "l1.pt", data, {"type": "gaussian", "regularizer": "l1", "gamma": 1.0})
    with pytest.raises(ClusteringError, match="l1.pt.*not adaptively regularized"):
        adaptive_beta_table({"l1": tmp_path / "l1.pt"}, data)


# ----------------------------------------------------------------------------------------------
# Landscape figures, rendered from synthetic tables


GRID = {"readout.gamma": [1.0, 5.0, 20.0], "readout.adaptive_sigma": [0.1, 0.3, 1.0]}  # the demo's 3 x 3 grid
CORE_VALUES = {"core.gamma_input": [100.0, 1000.0, 10000.0], "core.gamma_hidden": [700.0, 7000.0, 70000.0]}


def grid_sweep_files(tmp_path, collapsed: tuple[str, ...] = ()) -> tuple[str, str]:
    """A sweep table of the demo's shapes (a 3 x 3 adaptive grid, two core sweeps of 3 values, 2 seeds each:
    one seed pair) and a β table of the grid. The `collapsed` points' second seed failed (validation 0.1
    against 0.6), and their ARI across seeds is the table's highest (0.99)."""
    points = {f"s-{g}-{s}": {"readout.gamma": g, "readout.adaptive_sigma": s}
              for g, s in itertools.product(*GRID.values())}
    sweeps = {"s": {"base": "base", "base_config": BASE_CONFIG, "points": points},
              **{name: {"base": "base", "base_config": BASE_CONFIG,
                        "points": {f"{name}-{v}": {name: v} for v in values}} for name, values in CORE_VALUES.items()}}
    variants = ["base", *(variant for sweep in sweeps.values() for variant in sweep["points"])]
    rng = np.random.default_rng(0)
    across = pd.DataFrame([row for v in variants for row in across_rows(v, 0.99 if v in collapsed else rng.uniform())])
    performance = pd.DataFrame([row for v in variants for row in performance_rows(
        v, rng.uniform(0.5, 1, 2).tolist(), validation=[0.6, 0.1] if v in collapsed else None)])
    sweep_table(across, performance, sweeps, COLLAPSE).to_csv(tmp_path / "sweeps.csv", index=False)
    beta = pd.DataFrame({"variant": np.repeat(list(points), 50), "mouse": "m1",
                         "unit_id": np.tile(np.arange(50), len(points)), "beta": rng.lognormal(size=50 * len(points)),
                         "test_correlation": rng.uniform(size=50 * len(points)),
                         "oracle": rng.uniform(size=50 * len(points))})
    beta.to_csv(tmp_path / "beta.csv", index=False)
    return str(tmp_path / "sweeps.csv"), str(tmp_path / "beta.csv")


def errorbar_sd(ax, label: str) -> np.ndarray:
    """Half the length of each error bar of the errorbar curve `label` (nothing where the sd is undefined)."""
    (container,) = [c for c in ax.containers if c.get_label() == label]
    segments = container.lines[2][0].get_segments() if container.lines[2] else []
    return np.array([(segment[1][1] - segment[0][1]) / 2 for segment in segments if len(segment) == 2])


def assert_sweep_curve(ax, label: str, rows: pd.DataFrame, x: str, measure: str) -> None:
    """The curve `label` draws the rows' means at their swept values (dodged by at most 10 %) and ±1 sd."""
    positions, means = errorbar_curves(ax)[label]
    rows = rows.sort_values(x)
    np.testing.assert_allclose(positions, rows[x], rtol=0.1)
    np.testing.assert_allclose(means, rows[f"{measure}_mean"])
    sd = rows[f"{measure}_sd"].dropna()
    np.testing.assert_allclose(errorbar_sd(ax, label), sd)


def test_adaptive_figure_draws_every_point_of_a_3x3_grid_with_its_spread_over_seeds(tmp_path):
    sweeps, beta = grid_sweep_files(tmp_path)
    fig = plots.adaptive_regularization(sweeps, beta, [], str(tmp_path / "adaptive.pdf"), sweep="s", k=2)
    assert_figure_files(tmp_path / "adaptive.pdf")
    table = pd.read_csv(sweeps)
    table = table[(table["sweep"] == "s") & (table["k"] == 2)]
    kmeans_ax, gmm_ax, oracle_ax, per_setting_ax, correlation_ax, beta_oracle_ax = panels(fig)
    for ax, method, measure in ((kmeans_ax, "kmeans", "ari"), (gmm_ax, "gmm", "ari"),
                                (oracle_ax, "kmeans", "fraction_oracle")):
        rows = table[table["method"] == method]
        # a line per σ over every γ; the base (γ 2, σ 0.1 by default) on the σ 0.1 line
        assert set(errorbar_curves(ax)) == {f"σ = {sigma:g}" for sigma in GRID["readout.adaptive_sigma"]}
        for sigma in GRID["readout.adaptive_sigma"]:
            assert_sweep_curve(ax, f"σ = {sigma:g}", rows[rows["readout.adaptive_sigma"] == sigma],
                               "readout.gamma", measure)
        assert "base: base" in legend_labels(oracle_ax)
    assert errorbar_sd(oracle_ax, "σ = 0.3").size == 3  # 2 seeds: an sd at every point
    assert errorbar_sd(kmeans_ax, "σ = 0.3").size == 0  # one seed pair: no sd, and the label says so
    assert kmeans_ax.get_ylabel().endswith("one seed pair, no sd")
    assert oracle_ax.get_ylabel().endswith("mean ± sd over 2 seeds")
    assert len(tick_labels(per_setting_ax)) == 9  # a β distribution per grid point
    assert scatter_points(correlation_ax) == scatter_points(beta_oracle_ax) == 50  # a point per neuron
    assert legends_off_the_data(fig)


def test_core_figure_draws_every_value_of_each_sweep_with_its_spread_over_seeds(tmp_path):
    sweeps, _ = grid_sweep_files(tmp_path)
    fig = plots.core_regularization(sweeps, str(tmp_path / "core.pdf"), sweep_names=list(CORE_VALUES), k=2)
    assert_figure_files(tmp_path / "core.pdf")
    table = pd.read_csv(sweeps)
    axes = np.reshape(panels(fig), (2, len(CORE_VALUES)))  # one column per sweep
    for column, sweep in enumerate(CORE_VALUES):
        ari_ax, oracle_ax = axes[:, column]
        assert ari_ax.get_title() == sweep
        rows = table[(table["sweep"] == sweep) & (table["k"] == 2)]
        for method in METHODS:  # each value and the base (its own value, e.g. 0 hidden sparsity)
            assert_sweep_curve(ari_ax, plots.METHOD_NAMES[method], rows[rows["method"] == method], sweep, "ari")
        (oracle_label,) = errorbar_curves(oracle_ax)
        assert_sweep_curve(oracle_ax, oracle_label, rows[rows["method"] == "kmeans"], sweep, "fraction_oracle")
        assert errorbar_sd(oracle_ax, oracle_label).size == 4
    assert tick_labels(axes[0, 1]) == ["0", "700", "7000", "70000"]  # symlog: the base's 0 beside the swept values
    assert set(plots.METHOD_NAMES.values()) <= set(legend_labels(fig))
    assert legends_off_the_data(fig)
    with pytest.raises(ValueError, match="no rows for sweep 'nope'"):
        plots.core_regularization(sweeps, str(tmp_path / "core.pdf"), sweep_names=["nope"], k=2)


def collapsed_markers(ax) -> list:
    """The × markers of sweep points with a collapsed seed on `ax`, labelled or not."""
    return [line for line in ax.lines if line.get_marker() == "X"]


def test_sweep_figures_draw_a_point_with_a_collapsed_seed_as_an_x_off_its_line(tmp_path):
    sweeps, beta = grid_sweep_files(tmp_path, collapsed=("s-20.0-0.3", "core.gamma_hidden-70000.0"))
    table = pd.read_csv(sweeps)
    fig = plots.adaptive_regularization(sweeps, beta, [], str(tmp_path / "adaptive.pdf"), sweep="s", k=2)
    kmeans_ax, _, oracle_ax, *_ = panels(fig)
    for ax, measure in ((kmeans_ax, "ari_mean"), (oracle_ax, "fraction_oracle_mean")):
        positions, _ = errorbar_curves(ax)["σ = 0.3"]
        np.testing.assert_allclose(positions, [1.0, 5.0], rtol=0.1)  # γ 20 is off the line
        (marker,) = collapsed_markers(ax)
        failed = table[(table["variant"] == "s-20.0-0.3") & (table["method"] == "kmeans") & (table["k"] == 2)]
        np.testing.assert_allclose(marker.get_xdata(), [20.0], rtol=0.1)
        np.testing.assert_allclose(marker.get_ydata(), failed[measure])
        assert marker.get_label() == plots.COLLAPSED_POINT
    # its ARI is the table's highest, but the per-neuron panels show the most consistent fitted setting
    assert "s-20.0-0.3" not in fig._suptitle.get_text()

    fig = plots.core_regularization(sweeps, str(tmp_path / "core.pdf"), sweep_names=list(CORE_VALUES), k=2)
    hidden_ari_ax = np.reshape(panels(fig), (2, len(CORE_VALUES)))[0, 1]
    assert [len(positions) for positions, _ in errorbar_curves(hidden_ari_ax).values()] == [3, 3]  # base 0, 700, 7000
    assert len(collapsed_markers(hidden_ari_ax)) == 2  # k-means and GMM, one legend entry
    assert legend_labels(hidden_ari_ax).count(plots.COLLAPSED_POINT) == 1
    assert not collapsed_markers(np.reshape(panels(fig), (2, len(CORE_VALUES)))[0, 0])


def test_discreteness_figure_renders_and_names_a_missing_control(tmp_path):
    rows = [{"variant": v, "method": m, "k": k, "ari_mean": 0.5, "ari_sd": 0.1}
            for v in ("discrete", "continuum") for m in METHODS for k in (2, 4, 6)]
    pd.DataFrame(rows).to_csv(tmp_path / "across.csv", index=False)
    fig = plots.discreteness_test(str(tmp_path / "across.csv"), str(tmp_path / "d.pdf"), "discrete", "continuum", 4)
    assert_figure_files(tmp_path / "d.pdf")
    assert [ax.get_title() for ax in panels(fig)] == [plots.METHOD_NAMES[method] for method in METHODS]
    assert sorted(legend_labels(fig)) == ["continuum (continuum)", "discrete types (discrete)", "planted types (4)"]
    with pytest.raises(ValueError, match="other"):
        plots.discreteness_test(str(tmp_path / "across.csv"), str(tmp_path / "d.pdf"), "discrete", "other", 4)


def test_planted_type_table_compares_each_model_with_its_own_mice(tmp_path):
    """Two populations in one table (e.g. static and video mice): each model against its own mouse's truth."""
    truth_files, types = [], {}
    for seed, mouse in enumerate(("s", "v")):
        _, truth = simulate_mouse({"neurons": 12 + 4 * seed, "n_types": 3, "image_height": 32, "image_width": 32,
                                   "n_train": 4, "n_validation": 2, "n_test_images": 2, "test_repeats": 2}, seed, 0)
        truth_files.append(tmp_path / f"{mouse}.ground_truth.npz")
        save_ground_truth(truth_files[-1], truth)
        types[mouse] = truth["cell_type"]
    labels = {}
    for mouse, cell_type in types.items():
        n = len(cell_type)
        found = ClusterLabels(np.array([3]), {"kmeans": (cell_type[None] + 1) % 3, "gmm": np.zeros((1, n), int)},
                              np.full(n, mouse), np.arange(n))
        save_labels(tmp_path / f"{mouse}.npz", found)
        labels[f"model_{mouse}"] = {1: tmp_path / f"{mouse}.npz"}
    table = planted_type_table(labels, truth_files, ["s", "v"])
    assert table[table["method"] == "kmeans"].set_index("variant")["ari"].to_dict() == {"model_s": 1.0, "model_v": 1.0}
    assert (table[table["method"] == "gmm"]["ari"] == 0.0).all()  # one cluster: ARI 0
    with pytest.raises(ClusteringError, match=r"v.npz: no ground truth for mice \['v'\] \(given: \['s'\]\)"):
        planted_type_table({"model_v": {1: tmp_path / "v.npz"}}, truth_files[:1], ["s"])


def test_tsne_landscape_titles_show_the_chosen_measure(tmp_path):
    embeddings = embeddings_of(blobs(10, 3)[0], ["v1"], per_mouse=30)
    save_labels(tmp_path / "labels.npz", cluster_embedding(embeddings, [2, 3], n_init=1, random_state=0))
    tsne_table(embeddings, 30, 12, 0).to_csv(tmp_path / "tsne.csv", index=False)
    pd.DataFrame([{"variant": "vid", "seed": seed, "mouse": "mean", "single_trial_correlation": value}
                  for seed, value in ((1, 0.3), (2, 0.5))]).to_csv(tmp_path / "performance.csv", index=False)
    fig = plots.tsne_landscape([str(tmp_path / "tsne.csv")], [str(tmp_path / "labels.npz")], [],
                               str(tmp_path / "performance.csv"), str(tmp_path / "video.pdf"), rows={"3D": ["vid"]},
                               titles={"vid": "γ = 80"}, k=3, mice=["v1"], measure="single_trial_correlation",
                               figure="L25 Fig. 4")
    assert panels(fig)[0].get_title() == "vid\nγ = 80 · ρ_st 0.40"  # the mean over seeds
    title = fig._suptitle.get_text()
    assert "(L25 Fig. 4)" in title and "ρ_st: single-trial test correlation" in title
    with pytest.raises(ValueError, match="unknown landscape measure 'oracle'"):
        plots.tsne_landscape([], [], [], "", "", rows={}, titles={}, k=3, mice=[], measure="oracle")


def test_tsne_landscape_renders_rows_of_unequal_length(tmp_path):
    embeddings = embeddings_of(blobs(10, 3)[0], ["m1", "m2"], per_mouse=15)
    labels = cluster_embedding(embeddings, [2, 3], n_init=1, random_state=0)
    save_labels(tmp_path / "labels.npz", labels)
    tsne_table(embeddings, 15, 12, 0).to_csv(tmp_path / "tsne.csv", index=False)
    rows = {"factorized": ["f1", "f2"], "gaussian": ["g1"]}
    pd.DataFrame(performance_rows("f1", [0.8]) + performance_rows("f2", [0.7]) + performance_rows("g1", [0.9])
                 ).to_csv(tmp_path / "performance.csv", index=False)
    fig = plots.tsne_landscape([str(tmp_path / "tsne.csv")] * 3, [str(tmp_path / "labels.npz")] * 3, [],
                               str(tmp_path / "performance.csv"), str(tmp_path / "landscape.pdf"), rows=rows,
                               titles={"f1": "γ = 0.1"}, k=3, mice=["m1", "m2"])
    assert_figure_files(tmp_path / "landscape.pdf")
    maps = panels(fig)  # the short row's empty cell is switched off
    assert [ax.get_title().split("\n")[0] for ax in maps] == ["f1", "f2", "g1"]
    assert all(scatter_points(ax) == len(pd.read_csv(tmp_path / "tsne.csv")) for ax in maps)
