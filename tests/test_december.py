"""DECEMber (D25): the t-mixture, its EM step, the loss as a training extension, the toy example."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import multivariate_t

from v1twin import december, training
from v1twin.clustering import align_rotations
from v1twin.data import prepare_mouse
from v1twin.december import DecemberLoss, DecemberRun, DecemberSettings
from v1twin.models import build_model

from test_training import toy_mouse

MICE = ["mouse_a", "mouse_b"]
VARIANT = {
    "core": {"type": "cnn", "channels": 4, "layers": 2, "input_kernel": 5, "hidden_kernel": 3},
    "readout": {"type": "gaussian", "regularizer": "adaptive", "gamma": 1.0},
}
ROTATION_VARIANT = {
    "core": {"type": "rotation_equivariant", "channels": 2, "rotations": 4, "layers": 1, "input_kernel": 5},
    "readout": {"type": "gaussian"},
}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data():
    return {name: prepare_mouse(name, toy_mouse(seed, n_neurons=12)[0], image_scale=1.0)
            for seed, name in enumerate(MICE)}


def new_model(data, variant=VARIANT, seed: int = 0):
    training.seed_everything(seed)
    mice = {name: training.mouse_info(mouse) for name, mouse in data.items()}
    model = build_model(variant, mice, next(iter(data.values())).input_shape)
    with torch.no_grad():  # readout features start all equal (1/C): spread them so k-means has something to find
        for readout in model.readouts.values():
            readout.features.add_(0.3 * torch.randn_like(readout.features))
    return model


def config(**overrides) -> training.TrainingConfig:
    return training.TrainingConfig.from_dict({"batch_size": 16, "lr": 0.01, "max_epochs": 3, **overrides})


# ---------------------------------------------------------------------------------------------
# The mixture and its EM step


def test_soft_assignments_sum_to_one_and_match_the_t_density() -> None:
    rng = np.random.default_rng(0)
    x, means = rng.normal(size=(7, 3)), rng.normal(size=(4, 3))
    scales = rng.uniform(0.2, 2.0, size=(4, 3))
    nu = 2.1
    q = december.soft_assignments(*(torch.tensor(a) for a in (x, means, scales)), nu).numpy()
    np.testing.assert_allclose(q.sum(axis=1), 1.0, rtol=1e-12)
    density = np.stack([multivariate_t(loc=means[k], shape=np.diag(scales[k]), df=nu).pdf(x) for k in range(4)], axis=1)
    np.testing.assert_allclose(q, density / density.sum(axis=1, keepdims=True), rtol=1e-9)


def test_target_distribution_by_hand() -> None:
    q = torch.tensor([[0.8, 0.2], [0.4, 0.6]])
    # column sums 1.2, 0.8; q²/f = [[0.5333, 0.05], [0.1333, 0.45]]; rows renormalized
    expected = torch.tensor([[0.64 / 1.2, 0.04 / 0.8], [0.16 / 1.2, 0.36 / 0.8]])
    expected = expected / expected.sum(dim=1, keepdim=True)
    torch.testing.assert_close(december.target_distribution(q), expected)


def test_em_step_matches_a_hand_computation() -> None:
    # D = 1, ν = 1 (so ν + D = 2), three points, two clusters, fixed assignments
    x = torch.tensor([[0.0], [1.0], [3.0]], dtype=torch.float64)
    q = torch.tensor([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8]], dtype=torch.float64)
    means = torch.tensor([[0.0], [3.0]], dtype=torch.float64)
    scales = torch.tensor([[1.0], [4.0]], dtype=torch.float64)
    # δ for cluster 0 (μ 0, σ 1): 0, 1, 9 → u = 2/(1+δ) = 2, 1, 0.2
    # δ for cluster 1 (μ 3, σ 4): 9/4, 1, 0 → u = 2/3.25, 1, 2
    u = np.array([[2.0, 2 / 3.25], [1.0, 1.0], [0.2, 2.0]])
    w = q.numpy() * u  # [[1.8, 0.061538], [0.5, 0.5], [0.04, 1.6]]
    mean_0 = (1.8 * 0 + 0.5 * 1 + 0.04 * 3) / (1.8 + 0.5 + 0.04)  # 0.62 / 2.34
    mean_1 = (w[0, 1] * 0 + 0.5 * 1 + 1.6 * 3) / (w[0, 1] + 0.5 + 1.6)
    scale_0 = (1.8 * 0 + 0.5 * 1 + 0.04 * 9) / (0.9 + 0.5 + 0.2)  # around the old mean 0
    scale_1 = (w[0, 1] * 9 + 0.5 * 4 + 1.6 * 0) / (0.1 + 0.5 + 0.8)  # around the old mean 3
    new_means, new_scales = december.em_step(x, q, means, scales, nu=1.0)
    np.testing.assert_allclose(new_means.numpy().ravel(), [mean_0, mean_1], rtol=1e-12)
    np.testing.assert_allclose(new_scales.numpy().ravel(), [scale_0, scale_1], rtol=1e-12)


def test_em_step_clamps_the_scales() -> None:
    # cluster 0 holds two identical points (spread 0 → 1e-4); cluster 1 points 1e3 apart (spread 5e5 → 1e4)
    x = torch.tensor([[1.0], [1.0], [-500.0], [500.0]], dtype=torch.float64)
    q = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], dtype=torch.float64).clamp_min(1e-8)
    means = torch.tensor([[1.0], [0.0]], dtype=torch.float64)
    scales = torch.tensor([[1.0], [1e6]], dtype=torch.float64)
    _, new_scales = december.em_step(x, q, means, scales, nu=2.1)
    assert new_scales[0, 0].item() == pytest.approx(1e-4)
    assert new_scales[1, 0].item() == pytest.approx(1e4)


def test_saturated_fraction_counts_posteriors_at_the_threshold() -> None:
    q = np.array([[0.995, 0.005], [0.6, 0.4], [0.01, 0.99], [0.5, 0.5]])
    assert december.saturated_fraction(q) == 0.5


def test_kmeans_init_means_and_member_variance() -> None:
    x = np.array([[0.0, 0.0], [0.2, 0.0], [10.0, 10.0], [10.0, 10.4], [10.0, 9.6]])
    means, scales, labels = december.kmeans_init(x, 2, n_init=5, random_state=0)
    small = labels[0]
    assert (labels[:2] == small).all() and (labels[2:] != small).all()
    np.testing.assert_allclose(means[small], [0.1, 0.0])
    np.testing.assert_allclose(scales[small], [0.01 + 1e-6, 1e-6])
    np.testing.assert_allclose(scales[1 - small], [1e-6, 0.32 / 3 + 1e-6])


# ---------------------------------------------------------------------------------------------
# The embedding and the loss on a model


def test_embedding_equals_the_consistency_analysis_alignment(data) -> None:
    model = new_model(data, ROTATION_VARIANT)
    loss = DecemberLoss(DecemberSettings(k=2, beta=1.0, kmeans_n_init=2), MICE)
    loss.start(model)
    features = torch.cat([model.readouts[m].features for m in MICE]).detach().numpy()
    aligned, shifts = align_rotations(features, 2, 4)
    np.testing.assert_array_equal(loss.shifts.numpy(), shifts)
    np.testing.assert_allclose(loss.embedding(model).detach().numpy(), aligned, atol=1e-6)


def test_clustering_loss_gradient_reaches_the_readout_features_only(data) -> None:
    model = new_model(data)
    loss = DecemberLoss(DecemberSettings(k=3, beta=100.0, kmeans_n_init=2), MICE)
    loss.start(model)
    loss.loss(model).backward()
    for mouse in MICE:
        assert model.readouts[mouse].features.grad.abs().sum() > 0
        assert model.readouts[mouse].bias.grad is None
    assert all(parameter.grad is None for parameter in model.core.parameters())
    assert not loss.means.requires_grad and not loss.scales.requires_grad
    means_before = loss.means.clone()
    loss.after_step(model)  # the EM step moves the clusters, without any gradient
    assert not torch.equal(loss.means, means_before) and loss.means.grad_fn is None


def _train(data, workdir: Path, seed: int = 0, **kwargs):
    model = new_model(data, seed=seed)
    loss = DecemberLoss(DecemberSettings(k=3, beta=100.0, kmeans_n_init=2, random_state=seed), MICE)
    result = training.train(model, data, config(**kwargs.pop("overrides", {})), workdir, 0,
                            {**VARIANT, "december": [3, 100.0]}, extension=loss, **kwargs)
    return model, loss, result


def test_resumed_run_mid_december_matches_the_uninterrupted_one(data, tmp_path: Path) -> None:
    reference_model, reference_loss, reference = _train(data, tmp_path / "uninterrupted")

    class Killed(Exception):
        pass

    def kill_after_epoch_2(epoch: int) -> None:
        if epoch == 2:
            raise Killed

    with pytest.raises(Killed):
        _train(data, tmp_path / "killed", on_epoch_end=kill_after_epoch_2)
    model, loss, resumed = _train(data, tmp_path / "killed", seed=7)  # a different init: all from the checkpoint
    assert [row["train_loss"] for row in resumed.history] == [row["train_loss"] for row in reference.history]
    for key, value in reference_model.state_dict().items():
        assert torch.equal(value, model.state_dict()[key]), key
    for key, value in reference_loss.state_dict().items():
        assert torch.equal(value, loss.state_dict()[key]), key


def test_best_weights_come_back_with_their_cluster_state(data, tmp_path: Path, monkeypatch) -> None:
    scores = iter([0.1, 0.5, 0.2, 0.3])
    monkeypatch.setattr(training, "validation_correlation", lambda model, data: next(scores))
    snapshots = {}
    holder = {}

    def snapshot(epoch: int) -> None:
        snapshots[epoch] = {key: value.clone() for key, value in holder["loss"].state_dict().items()}

    model = new_model(data)
    loss = holder["loss"] = DecemberLoss(DecemberSettings(k=3, beta=100.0, kmeans_n_init=2), MICE)
    training.train(model, data, config(max_epochs=4), tmp_path, 0, VARIANT, on_epoch_end=snapshot, extension=loss)
    assert not torch.equal(snapshots[3]["means"], snapshots[2]["means"])  # training moved the clusters on
    for key, value in loss.state_dict().items():
        assert torch.equal(value, snapshots[2][key]), key  # epoch 2 was best: its clusters came back
        assert torch.equal(value, snapshots[4][key]), key  # restored before the last epoch's callback


def test_cluster_state_round_trips_through_the_saved_model(data, tmp_path: Path) -> None:
    model, loss, _ = _train(data, tmp_path / "run", overrides={"max_epochs": 1})
    mice_info = {name: training.mouse_info(mouse) for name, mouse in data.items()}
    path = tmp_path / "model.pt"
    training.save_model(path, model, VARIANT, mice_info, data[MICE[0]].input_shape,
                        {"december": {key: value.numpy() for key, value in loss.state_dict().items()}})
    restored = DecemberLoss(loss.settings, MICE)
    stored = training.load_checkpoint(path)["extras"]["december"]
    restored.load_state_dict({key: torch.as_tensor(value) for key, value in stored.items()})
    loaded = training.load_model(path, torch.device("cpu"))
    np.testing.assert_array_equal(restored.assignments(loaded)[1], loss.assignments(model)[1])


def test_run_outputs_name_every_neuron_and_round_trip(data, tmp_path: Path) -> None:
    model, loss, _ = _train(data, tmp_path / "run", overrides={"max_epochs": 1})
    unit_ids = {name: mouse.unit_ids for name, mouse in data.items()}
    clusters, embeddings = december.run_outputs(model, loss, unit_ids)
    assert clusters.mouse.tolist() == ["mouse_a"] * 12 + ["mouse_b"] * 12
    np.testing.assert_allclose(clusters.q.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(clusters.labels, clusters.q.argmax(axis=1))
    np.testing.assert_array_equal(clusters.initial_labels, loss.initial_labels.numpy())
    assert set(clusters.initial_labels) <= set(range(loss.settings.k))
    december.save_clusters(tmp_path / "clusters.npz", clusters)
    loaded = december.load_clusters(tmp_path / "clusters.npz")
    np.testing.assert_array_equal(loaded.labels, clusters.labels)
    np.testing.assert_array_equal(loaded.initial_labels, clusters.initial_labels)
    np.testing.assert_allclose(np.linalg.norm(embeddings.embedding, axis=1), 1.0, rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# Runs and tables


def test_runs_of_the_main_grid_and_the_sweeps_without_duplicates() -> None:
    section = {"variant": "v", "k_values": [4, 6], "beta": 10.0, "pretrain_epochs": 3, "figure_k": 6,
               "sweeps": {"beta": {"values": [1.0, 10.0], "seeds": [1]}, "lr": {"values": [0.001]}}}
    runs = december.december_runs(section, seeds=[1, 2], training_lr=0.01)
    main = [DecemberRun("v", 3, k, 10.0, 0.01, s) for k in (4, 6) for s in (1, 2)]
    extra = [DecemberRun("v", 3, 6, 1.0, 0.01, 1), DecemberRun("v", 3, 6, 10.0, 0.001, 1),
             DecemberRun("v", 3, 6, 10.0, 0.001, 2)]
    assert runs == main + extra
    assert runs[0].folder("results/sim") == "results/sim/december/v/pe3-k4-beta10-lr0.01/seed1"
    setting = december.main_setting(section, 0.01)
    assert december.main_runs(runs, setting, 6) == main[2:]
    assert december.sweep_runs(runs, setting, "beta", 6, 1) == [extra[0], main[2]]  # sorted by beta
    assert december.find_run({run.folder("r"): run for run in runs},
                             "r/december/v/pe3-k6-beta1-lr0.01/seed1")["beta"] == 1.0
    with pytest.raises(december.DecemberError, match="not a DECEMber run"):
        december.find_run({}, "r/december/v/pe9-k6-beta1-lr0.01/seed1")


def test_across_seed_table_and_baseline(tmp_path: Path) -> None:
    runs = [DecemberRun("v", 3, 2, 1.0, 0.01, seed) for seed in (1, 2)]
    files = []
    # the same final partition under other names, from k-means starts that disagree
    for seed, labels, start in ((1, [0, 0, 1, 1], [0, 0, 1, 1]), (2, [1, 1, 0, 0], [0, 1, 0, 1])):
        clusters = december.DecemberClusters(np.array(labels), np.array(start), np.eye(2)[labels], np.zeros((2, 3)),
                                             np.ones((2, 3)), np.array(["m"] * 4), np.arange(4))
        files.append(tmp_path / f"seed{seed}.npz")
        december.save_clusters(files[-1], clusters)
    table = december.across_seed_table(runs, files).set_index("method")
    assert table.loc["december", ["ari_mean", "fmi_mean", "v_measure_mean"]].tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert table.loc["december_init", "ari_mean"] == pytest.approx(-0.5)  # {01}{23} vs {02}{13}, by hand
    table = table.reset_index()
    baseline = pd.DataFrame({"variant": ["v", "v", "w"], "method": ["gmm", "gmm", "gmm"], "k": [2, 4, 2],
                             "n_pairs": 1, "ari_mean": [0.5, 0.4, 0.3]})
    merged = december.with_baseline(table, baseline, "v", [2])
    assert merged["method"].tolist() == ["december", "december_init", "gmm"]
    with pytest.raises(december.DecemberError, match="K = \\[3\\]"):
        december.with_baseline(table, baseline, "v", [3])


# ---------------------------------------------------------------------------------------------
# The toy example (D25 Fig. 2)


def test_toy_example_dec_fails_where_december_recovers_centres_and_split() -> None:
    settings = replace(december.ToySettings(), stimuli=2000)
    result = december.toy_example(settings)
    true_centres = np.asarray(settings.centres)
    found = result["december_centre_path"][-1]
    order = np.argsort(found[:, 0])
    np.testing.assert_allclose(found[order], true_centres, atol=0.05)
    assert abs(sorted(result["december_sizes"])[-1] - 2000) < 40
    assert result["december_ari"] > 0.9
    dec_centres = result["dec_centre_path"][-1]
    assert np.abs(np.sort(dec_centres[:, 0]) - true_centres[:, 0]).max() > 0.5  # DEC's centres drift away
    assert result["dec_ari"] < result["december_ari"] - 0.15
