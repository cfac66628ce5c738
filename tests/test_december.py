"""DECEMber (D25): the t-mixture, its EM step, the loss as a training extension, the toy example."""

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import multivariate_t

from v1twin import model_run, training
from v1twin.clustering.embeddings import align_rotations
from v1twin.config_schema import with_defaults
from v1twin.december import DecemberError, mixture, plan, tables, toy
from v1twin.december.clusters import DecemberClusters, load_clusters, run_outputs, save_clusters
from v1twin.december.loss import DecemberLoss, DecemberSettings
from v1twin.december.plan import DecemberRun
from v1twin.models import build_model

from helpers import schema_defaults, toy_tensors, training_settings

MICE = ["mouse_a", "mouse_b"]
DEFAULTS = schema_defaults("december")
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
    return {name: toy_tensors(name, seed, n_neurons=12) for seed, name in enumerate(MICE)}


def new_model(data, variant=VARIANT, seed: int = 0):
    training.seed_everything(seed)
    mice = {name: training.mouse_info(mouse) for name, mouse in data.items()}
    model = build_model(variant, mice, next(iter(data.values())).input_shape)
    with torch.no_grad():  # readout features start all equal (1/C): spread them so k-means has something to find
        for readout in model.readouts.values():
            readout.features.add_(0.3 * torch.randn_like(readout.features))
    return model


def settings(k: int, beta: float, random_state: int = 0) -> DecemberSettings:
    return DecemberSettings(k=k, beta=beta, nu=DEFAULTS["nu"], kmeans_n_init=2, random_state=random_state)


def config(**overrides) -> training.TrainingConfig:
    settings = {"batch_size": 16, "lr": 0.01, "max_epochs": 3, **overrides}
    return training.TrainingConfig.from_dict(training_settings(**settings))


# ---------------------------------------------------------------------------------------------
# The mixture and its EM step


def test_soft_assignments_sum_to_one_and_match_the_t_density() -> None:
    rng = np.random.default_rng(0)
    x, means = rng.normal(size=(7, 3)), rng.normal(size=(4, 3))
    scales = rng.uniform(0.2, 2.0, size=(4, 3))
    nu = 2.1
    q = mixture.soft_assignments(*(torch.tensor(a) for a in (x, means, scales)), nu).numpy()
    np.testing.assert_allclose(q.sum(axis=1), 1.0, rtol=1e-12)
    density = np.stack([multivariate_t(loc=means[k], shape=np.diag(scales[k]), df=nu).pdf(x) for k in range(4)], axis=1)
    np.testing.assert_allclose(q, density / density.sum(axis=1, keepdims=True), rtol=1e-9)


def test_target_distribution_by_hand() -> None:
    q = torch.tensor([[0.8, 0.2], [0.4, 0.6]])
    # column sums 1.2, 0.8; q²/f = [[0.5333, 0.05], [0.1333, 0.45]]; rows renormalized
    expected = torch.tensor([[0.64 / 1.2, 0.04 / 0.8], [0.16 / 1.2, 0.36 / 0.8]])
    expected = expected / expected.sum(dim=1, keepdim=True)
    torch.testing.assert_close(mixture.target_distribution(q), expected)


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
    new_means, new_scales = mixture.em_step(x, q, means, scales, nu=1.0)
    np.testing.assert_allclose(new_means.numpy().ravel(), [mean_0, mean_1], rtol=1e-12)
    np.testing.assert_allclose(new_scales.numpy().ravel(), [scale_0, scale_1], rtol=1e-12)


def test_em_step_clamps_the_scales() -> None:
    # cluster 0 holds two identical points (spread 0 → 1e-4); cluster 1 points 1e3 apart (spread 5e5 → 1e4)
    x = torch.tensor([[1.0], [1.0], [-500.0], [500.0]], dtype=torch.float64)
    q = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], dtype=torch.float64).clamp_min(1e-8)
    means = torch.tensor([[1.0], [0.0]], dtype=torch.float64)
    scales = torch.tensor([[1.0], [1e6]], dtype=torch.float64)
    _, new_scales = mixture.em_step(x, q, means, scales, nu=2.1)
    assert new_scales[0, 0].item() == pytest.approx(1e-4)
    assert new_scales[1, 0].item() == pytest.approx(1e4)


def test_saturated_fraction_counts_posteriors_at_the_threshold() -> None:
    q = np.array([[0.995, 0.005], [0.6, 0.4], [0.01, 0.99], [0.5, 0.5]])
    assert mixture.saturated_fraction(q) == 0.5


def test_kmeans_init_means_and_member_variance() -> None:
    x = np.array([[0.0, 0.0], [0.2, 0.0], [10.0, 10.0], [10.0, 10.4], [10.0, 9.6]])
    means, scales, labels = mixture.kmeans_init(x, 2, n_init=5, random_state=0)
    small = labels[0]
    assert (labels[:2] == small).all() and (labels[2:] != small).all()
    np.testing.assert_allclose(means[small], [0.1, 0.0])
    np.testing.assert_allclose(scales[small], [0.01 + 1e-6, 1e-6])
    np.testing.assert_allclose(scales[1 - small], [1e-6, 0.32 / 3 + 1e-6])


# ---------------------------------------------------------------------------------------------
# The embedding and the loss on a model


def test_embedding_equals_the_consistency_analysis_alignment(data) -> None:
    model = new_model(data, ROTATION_VARIANT)
    loss = DecemberLoss(settings(2, 1.0), MICE)
    loss.start(model)
    features = torch.cat([model.readouts[m].features for m in MICE]).detach().numpy()
    aligned, shifts = align_rotations(features, 2, 4)
    np.testing.assert_array_equal(loss.shifts.numpy(), shifts)
    np.testing.assert_allclose(loss.embedding(model).detach().numpy(), aligned, atol=1e-6)


def test_clustering_loss_gradient_reaches_the_readout_features_only(data) -> None:
    model = new_model(data)
    loss = DecemberLoss(settings(3, 100.0), MICE)
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
    loss = DecemberLoss(settings(3, 100.0, seed), MICE)
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
    loss = holder["loss"] = DecemberLoss(settings(3, 100.0), MICE)
    training.train(model, data, config(max_epochs=4), tmp_path, 0, VARIANT, on_epoch_end=snapshot, extension=loss)
    assert not torch.equal(snapshots[3]["means"], snapshots[2]["means"])  # training moved the clusters on
    for key, value in loss.state_dict().items():
        assert torch.equal(value, snapshots[2][key]), key  # epoch 2 was best: its clusters came back
        assert torch.equal(value, snapshots[4][key]), key  # restored before the last epoch's callback


def test_cluster_state_round_trips_through_the_saved_model(data, tmp_path: Path) -> None:
    model, loss, _ = _train(data, tmp_path / "run", overrides={"max_epochs": 1})
    mice_info = {name: training.mouse_info(mouse) for name, mouse in data.items()}
    path = tmp_path / "model.pt"
    model_run.save_model(path, model, VARIANT, mice_info, data[MICE[0]].input_shape,
                        {"december": {key: value.numpy() for key, value in loss.state_dict().items()}})
    restored = DecemberLoss(loss.settings, MICE)
    stored = model_run.read_model_file(path)["extras"]["december"]
    restored.load_state_dict({key: torch.as_tensor(value) for key, value in stored.items()})
    loaded = model_run.load_model(path, torch.device("cpu"))
    np.testing.assert_array_equal(restored.assignments(loaded)[1], loss.assignments(model)[1])


def test_run_outputs_name_every_neuron_and_round_trip(data, tmp_path: Path) -> None:
    model, loss, _ = _train(data, tmp_path / "run", overrides={"max_epochs": 1})
    unit_ids = {name: mouse.unit_ids for name, mouse in data.items()}
    clusters, embeddings = run_outputs(model, loss, unit_ids)
    assert clusters.mouse.tolist() == ["mouse_a"] * 12 + ["mouse_b"] * 12
    np.testing.assert_allclose(clusters.q.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(clusters.labels, clusters.q.argmax(axis=1))
    np.testing.assert_array_equal(clusters.initial_labels, loss.initial_labels.numpy())
    assert set(clusters.initial_labels) <= set(range(loss.settings.k))
    save_clusters(tmp_path / "clusters.npz", clusters)
    loaded = load_clusters(tmp_path / "clusters.npz")
    np.testing.assert_array_equal(loaded.labels, clusters.labels)
    np.testing.assert_array_equal(loaded.initial_labels, clusters.initial_labels)
    np.testing.assert_allclose(np.linalg.norm(embeddings.embedding, axis=1), 1.0, rtol=1e-5)


# ---------------------------------------------------------------------------------------------
# Runs and tables


MODEL = {"core": {"type": "cnn"}, "readout": {"type": "gaussian"}}
PLAN_VARIANTS = {"v": {**MODEL, "training": {"lr": 0.01, "max_epochs": 50, "batch_size": 16}, "seeds": [1, 2]}}


def run(k: int, beta: float, lr: float, seed: int) -> DecemberRun:
    """A run of variant v (PE 3, 5 epochs with the loss, the schema's ν and k-means restarts)."""
    return DecemberRun("v", 3, k, beta, lr, seed, DEFAULTS["nu"], DEFAULTS["kmeans_n_init"], MODEL,
                       {"lr": lr, "max_epochs": 5, "batch_size": 16})


def test_plan_of_the_main_grid_and_the_sweeps_without_duplicates() -> None:
    section = {"variant": "v", "k_values": [4, 6], "beta": 10.0, "pretrain_epochs": 3, "epochs": 5, "figure_k": 6,
               "sweeps": {"beta": {"values": [1.0, 10.0], "seeds": [1]}, "lr": {"values": [0.001]}}}
    config = {"december": with_defaults(section, "december")}  # lr null: the variant's; seeds: the variant's
    runs = plan.plan(config, PLAN_VARIANTS)
    main = [run(k, 10.0, 0.01, s) for k in (4, 6) for s in (1, 2)]
    extra = [run(6, 1.0, 0.01, 1), run(6, 10.0, 0.001, 1), run(6, 10.0, 0.001, 2)]
    assert runs == {r.name: r for r in main + extra}
    assert main[0].folder("results/sim") == "results/sim/december/v/pe3-k4-beta10-lr0.01/seed1"
    assert main[0].settings() == DecemberSettings(4, 10.0, DEFAULTS["nu"], DEFAULTS["kmeans_n_init"], random_state=1)
    assert DecemberRun(**asdict(main[0])) == main[0]  # plain data, as a rule's params, and back
    setting = plan.main_setting(config, PLAN_VARIANTS)
    assert setting == {"pe": 3, "beta": 10.0, "lr": 0.01}
    assert plan.main_runs(runs, setting, 6) == main[2:]
    assert plan.sweep_runs(runs, setting, "beta", 6, 1) == [extra[0], main[2]]  # sorted by beta
    pretraining = plan.pretraining(config, PLAN_VARIANTS)
    assert list(pretraining) == [main[0].pretrain, main[1].pretrain] == ["v/pretrain-pe3/seed1", "v/pretrain-pe3/seed2"]
    assert pretraining[main[0].pretrain].training == {"lr": 0.01, "max_epochs": 3, "batch_size": 16}


def test_across_seed_table_and_baseline(tmp_path: Path) -> None:
    runs = [run(2, 1.0, 0.01, seed) for seed in (1, 2)]
    files = []
    # the same final partition under other names, from k-means starts that disagree
    for seed, labels, start in ((1, [0, 0, 1, 1], [0, 0, 1, 1]), (2, [1, 1, 0, 0], [0, 1, 0, 1])):
        clusters = DecemberClusters(np.array(labels), np.array(start), np.eye(2)[labels], np.zeros((2, 3)),
                                   np.ones((2, 3)), np.array(["m"] * 4), np.arange(4))
        files.append(tmp_path / f"seed{seed}.npz")
        save_clusters(files[-1], clusters)
    table = tables.across_seed_table(runs, files).set_index("method")
    assert table.loc["december", ["ari_mean", "fmi_mean", "v_measure_mean"]].tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert table.loc["december_init", "ari_mean"] == pytest.approx(-0.5)  # {01}{23} vs {02}{13}, by hand
    table = table.reset_index()
    baseline = pd.DataFrame({"variant": ["v", "v", "w"], "method": ["gmm", "gmm", "gmm"], "k": [2, 4, 2],
                             "n_pairs": 1, "ari_mean": [0.5, 0.4, 0.3]})
    merged = tables.with_baseline(table, baseline, "v", [2])
    assert merged["method"].tolist() == ["december", "december_init", "gmm"]
    with pytest.raises(DecemberError, match="K = \\[3\\]"):
        tables.with_baseline(table, baseline, "v", [3])


# ---------------------------------------------------------------------------------------------
# The toy example (D25 Fig. 2)


def test_toy_example_dec_fails_where_december_recovers_centres_and_split() -> None:
    toy_settings = toy.ToySettings(stimuli=2000, nu=2.1)
    result = toy.toy_example(toy_settings)
    true_centres = np.asarray(toy_settings.centres)
    found = result["december_centre_path"][-1]
    order = np.argsort(found[:, 0])
    np.testing.assert_allclose(found[order], true_centres, atol=0.05)
    assert abs(sorted(result["december_sizes"])[-1] - 2000) < 40
    assert result["december_ari"] > 0.9
    dec_centres = result["dec_centre_path"][-1]
    assert np.abs(np.sort(dec_centres[:, 0]) - true_centres[:, 0]).max() > 0.5  # DEC's centres drift away
    assert result["dec_ari"] < result["december_ari"] - 0.15
