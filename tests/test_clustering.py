"""Embedding alignment, clustering, agreement measures and t-SNE (v1twin.clustering)."""
import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import adjusted_rand_score, fowlkes_mallows_score, v_measure_score

from v1twin import clustering
from v1twin.clustering import ClusterLabels, ClusteringError, Embeddings
from v1twin.models import MouseInfo, build_model
from v1twin.training import save_model

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
    scores = clustering.agreement(np.array(a), np.array(b))
    assert scores["ari"] == pytest.approx(adjusted_rand_score(a, b))
    assert scores["fmi"] == pytest.approx(fowlkes_mallows_score(a, b))
    assert scores["v_measure"] == pytest.approx(v_measure_score(a, b))


def test_agreement_hand_computed_values():
    # Identical partitions under another naming agree perfectly.
    assert clustering.agreement(np.array([0, 0, 1, 1]), np.array([5, 5, 3, 3])) == pytest.approx(
        {"ari": 1.0, "fmi": 1.0, "v_measure": 1.0})
    # [0,0,1,1] vs [0,0,0,1]: 1 pair together in both, 2 in the first, 3 in the second -> FMI 1/sqrt(6);
    # ARI = (1 - 2·3/6) / ((2+3)/2 - 2·3/6) = 0.
    scores = clustering.agreement(np.array([0, 0, 1, 1]), np.array([0, 0, 0, 1]))
    assert scores["fmi"] == pytest.approx(1 / math.sqrt(6))
    assert scores["ari"] == pytest.approx(0.0)


def labels_file(tmp_path, name: str, kmeans_rows: list[list[int]], k_values: list[int]) -> str:
    rows = np.array(kmeans_rows)
    labels = ClusterLabels(k_values=np.array(k_values), labels={"kmeans": rows, "gmm": rows},
                           mouse=np.array(["m1", "m1", "m2", "m2"]), unit_id=np.array([1, 2, 1, 2]))
    path = tmp_path / f"{name}.npz"
    clustering.save_labels(path, labels)
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
    table = clustering.across_seed_table({"variant_a": files})
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
    other = ClusterLabels(k_values=np.array([2]), labels={"kmeans": np.zeros((1, 4), int), "gmm": np.zeros((1, 4), int)},
                          mouse=np.array(["m1", "m1", "m2", "m2"]), unit_id=np.array([1, 2, 3, 4]))
    clustering.save_labels(tmp_path / "s2.npz", other)
    with pytest.raises(ClusteringError, match="differ in neurons"):
        clustering.across_seed_table({"v": {1: good, 2: str(tmp_path / "s2.npz")}})


def test_summarize_uses_sample_sd():
    pairs = pd.DataFrame({"k": [2, 2, 2, 3], "ari": [0.2, 0.4, 0.9, 0.5]})
    summary = clustering.summarize(pairs, ["k"], ("ari",)).set_index("k")
    assert summary.loc[2, "ari_mean"] == pytest.approx(0.5)
    assert summary.loc[2, "ari_sd"] == pytest.approx(np.std([0.2, 0.4, 0.9], ddof=1))
    assert summary.loc[3, "n_pairs"] == 1 and np.isnan(summary.loc[3, "ari_sd"])


# ----------------------------------------------------------------------------------------------
# Rotation alignment


def test_alignment_recovers_planted_shifts_exactly():
    features, types, shifts = planted_rotations(200, n_types=3)
    aligned, found = clustering.align_rotations(features, F, R)
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
    aligned, _ = clustering.align_rotations(features, F, R)
    aligned_rotated, _ = clustering.align_rotations(rotated, F, R)
    np.testing.assert_allclose(aligned_rotated, aligned, atol=1e-12)


def test_alignment_is_invariant_to_permuting_and_rescaling_neurons():
    features, _, _ = planted_rotations(120, n_types=3, seed=4)
    order = np.random.default_rng(1).permutation(len(features))
    scale = np.random.default_rng(2).uniform(0.5, 3.0, size=(len(features), 1))
    aligned, shifts = clustering.align_rotations(features, F, R)
    aligned_permuted, shifts_permuted = clustering.align_rotations(features[order] * scale[order], F, R)
    np.testing.assert_allclose(aligned_permuted, aligned[order], atol=1e-12)
    np.testing.assert_array_equal(shifts_permuted, shifts[order])


def test_model_embeddings_align_the_rotation_equivariant_core(tmp_path):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    mice = {name: MouseInfo(n_neurons=n, cell_motor_coordinates=rng.normal(size=(n, 3)), mean_response=np.ones(n))
            for name, n in (("a", 5), ("b", 3))}
    variant = {"core": {"type": "rotation_equivariant", "channels": F, "rotations": R, "layers": 1, "input_kernel": 5},
               "readout": {"type": "gaussian"}}
    model = build_model(variant, mice, (4, 12, 12))
    model.core.channel_mask[model.core.feature_channels(1)] = 0.0  # feature 1 pruned in every rotation
    readout_b = model.readouts["b"].features
    with torch.no_grad():
        for readout in model.readouts.values():
            readout.features.copy_(torch.randn_like(readout.features))
        # neuron 0 of mouse b: neuron 1 of mouse b rotated by 2 steps (channel blocks of F rolled by 2)
        readout_b[0] = 2.5 * readout_b[1].view(R, F).roll(2, dims=0).reshape(-1)
    path = tmp_path / "model.pt"
    save_model(path, model, variant, mice, (4, 12, 12),
               {"unit_ids": {"a": np.arange(10, 15), "b": np.array([7, 8, 9])}})

    embeddings = clustering.model_embeddings(path, ["b", "a"])  # rows in the order asked for
    assert embeddings.aligned
    assert embeddings.embedding.shape == (8, F * R)
    assert embeddings.mouse.tolist() == ["b"] * 3 + ["a"] * 5
    assert embeddings.unit_id.tolist() == [7, 8, 9, 10, 11, 12, 13, 14]
    np.testing.assert_allclose(embeddings.features[3:], model.readouts["a"].features.detach().numpy())
    np.testing.assert_allclose(embeddings.embedding[0], embeddings.embedding[1], atol=1e-6)
    assert not embeddings.embedding[:, model.core.feature_channels(1)].any()  # pruned channels carry nothing
    assert (embeddings.rotation_shift[0] - embeddings.rotation_shift[1]) % R == 2

    clustering.save_embeddings(tmp_path / "e.npz", embeddings)
    loaded = clustering.load_embeddings(tmp_path / "e.npz")
    np.testing.assert_array_equal(loaded.embedding, embeddings.embedding)
    assert loaded.mouse.tolist() == embeddings.mouse.tolist() and loaded.aligned

    with pytest.raises(ClusteringError, match="model.pt.*mice \\['c'\\]"):
        clustering.model_embeddings(path, ["a", "c"])


def test_load_embeddings_names_the_file_and_the_missing_array(tmp_path):
    path = tmp_path / "broken.npz"
    np.savez(path, embedding=np.zeros((2, 3)))
    with pytest.raises(ClusteringError, match="broken.npz.*lacks"):
        clustering.load_embeddings(path)


# ----------------------------------------------------------------------------------------------
# Clustering


@pytest.mark.parametrize("method", ["kmeans", "gmm"])
def test_clusterers_are_deterministic_and_find_separated_blobs(method):
    vectors, truth = blobs()
    cluster = clustering.CLUSTERERS[method]
    first = cluster(vectors, 3, n_init=2, random_state=5)
    np.testing.assert_array_equal(first, cluster(vectors, 3, n_init=2, random_state=5))
    assert adjusted_rand_score(truth, first) == pytest.approx(1.0)


def test_cluster_embedding_labels_every_k_and_round_trips(tmp_path):
    vectors, _ = blobs(n_per_cluster=10)
    labels = clustering.cluster_embedding(embeddings_of(vectors, ["m1", "m2"], 15), [2, 3, 5], 2, 0)
    assert labels.labels["kmeans"].shape == labels.labels["gmm"].shape == (3, 30)
    assert [len(np.unique(labels.at("kmeans", k))) for k in (2, 3, 5)] == [2, 3, 5]
    clustering.save_labels(tmp_path / "l.npz", labels)
    loaded = clustering.load_labels(tmp_path / "l.npz")
    np.testing.assert_array_equal(loaded.at("gmm", 5), labels.at("gmm", 5))
    with pytest.raises(KeyError, match="K = 4"):
        loaded.at("kmeans", 4)
    with pytest.raises(ValueError, match="K = \\[40\\]"):
        clustering.cluster_embedding(embeddings_of(vectors, ["m1", "m2"], 15), [40], 1, 0)


def test_kmeans_reruns_agree_on_separated_blobs():
    vectors, _ = blobs()
    pairs = clustering.kmeans_rerun_agreement(embeddings_of(vectors, ["m1"], 90), [3, 4], reruns=3, n_init=2,
                                              random_state=0)
    assert len(pairs) == 2 * 3  # K values x pairs of 3 runs
    assert pairs[pairs["k"] == 3]["ari"].tolist() == pytest.approx([1.0, 1.0, 1.0])


# ----------------------------------------------------------------------------------------------
# Response correlation


def test_prediction_correlation_per_mouse_and_over_all_neurons():
    t = np.linspace(0, 1, 20)[:, None]
    a = {"m1": np.hstack([t, t**2]), "m2": t.copy()}
    b = {"m1": np.hstack([3 * t + 1, t**2]), "m2": -t}
    scores = clustering.prediction_correlation(a, b)
    assert scores["m1"] == pytest.approx(1.0)
    assert scores["m2"] == pytest.approx(-1.0)
    assert scores["all"] == pytest.approx((1 + 1 - 1) / 3)  # every neuron counts once


# ----------------------------------------------------------------------------------------------
# t-SNE


def test_tsne_subset_draws_the_same_neurons_whatever_the_row_order():
    mouse = np.repeat(["m1", "m2"], 50)
    unit_id = np.tile(np.arange(100, 150), 2)
    rows = clustering.tsne_subset(mouse, unit_id, 20, seed=3)
    assert len(rows) == 40 and (mouse[rows] == "m1").sum() == 20
    order = np.random.default_rng(0).permutation(100)
    shuffled = clustering.tsne_subset(mouse[order], unit_id[order], 20, seed=3)
    chosen = set(zip(mouse[rows], unit_id[rows]))
    assert set(zip(mouse[order][shuffled], unit_id[order][shuffled])) == chosen
    assert set(zip(*(a[clustering.tsne_subset(mouse, unit_id, 20, seed=4)] for a in (mouse, unit_id)))) != chosen
    assert len(clustering.tsne_subset(mouse, unit_id, 80, seed=3)) == 100  # fewer neurons than asked: all


def test_tsne_is_deterministic_for_a_seed_and_uses_the_same_neurons_per_panel():
    vectors, _ = blobs(n_per_cluster=40)
    panel_a = embeddings_of(vectors, ["m1", "m2"], 60)
    panel_b = embeddings_of(vectors[::-1].copy(), ["m1", "m2"], 60)  # another variant's embedding
    first = clustering.tsne_table(panel_a, 45, exaggeration=12, seed=0)
    second = clustering.tsne_table(panel_a, 45, exaggeration=12, seed=0)
    pd.testing.assert_frame_equal(first, second)
    other = clustering.tsne_table(panel_b, 45, exaggeration=12, seed=0)
    assert list(first.columns) == ["mouse", "unit_id", "x", "y"] and len(first) == 90
    pd.testing.assert_frame_equal(first[["mouse", "unit_id"]], other[["mouse", "unit_id"]])
    assert np.isfinite(first[["x", "y"]].to_numpy()).all()
