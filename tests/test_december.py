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
from v1twin.clustering.labels import gmm_labels, kmeans_labels
from v1twin.config_schema import with_defaults
from v1twin.december import DecemberError, mixture, plan, pretrain, tables, toy
from v1twin.december.baseline import BaselineLabels, baseline_labels
from v1twin.december.clusters import DecemberClusters, load_clusters, run_outputs, save_clusters
from v1twin.december.loss import DecemberLoss, DecemberSettings, embed
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


def test_cnn_embedding_is_the_raw_readout_weights(data) -> None:
    """D25 App. B.6: on a CNN core the loss sees the readout weights themselves: no alignment, no normalization."""
    model = new_model(data)
    with torch.no_grad():
        model.readouts[MICE[0]].features.mul_(3.0)  # rows far from unit norm
    loss = DecemberLoss(settings(2, 1.0), MICE)
    loss.start(model)
    assert loss.shifts is None
    raw = torch.cat([model.readouts[m].features for m in MICE]).detach()
    assert torch.equal(loss.embedding(model).detach(), raw)
    assert not np.allclose(raw.norm(dim=1).numpy(), 1.0)
    features = torch.tensor([[3.0, 4.0], [0.0, -2.0]])
    assert torch.equal(embed(features, None, None), features)  # by hand: unchanged


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
    raw = torch.cat([model.readouts[m].features for m in MICE]).detach().numpy()
    np.testing.assert_allclose(embeddings.embedding, raw)  # the CNN path: the raw readout weights


# ---------------------------------------------------------------------------------------------
# Runs and tables


MODEL = {"core": {"type": "cnn"}, "readout": {"type": "gaussian"}}
TRAINING = {"lr": 0.01, "max_epochs": 50, "batch_size": 16}
PLAN_VARIANTS = {"v": {**MODEL, "training": TRAINING, "seeds": [1, 2], "mice": ["a"]},
                 "r": {**MODEL, "training": {**TRAINING, "lr": 0.02}, "seeds": [1, 2, 3], "mice": ["ret"]}}


def run(k: int, ratio: float, lr: float, seed: int, pe: int = 3, variant: str = "v") -> DecemberRun:
    """A run of variant v (the schema's ν and k-means restarts; the variant's training with this lr and the
    epochs its pretraining left)."""
    base = PLAN_VARIANTS[variant]
    training = {**base["training"], "lr": lr, "max_epochs": base["training"]["max_epochs"] - pe}
    return DecemberRun(variant, pe, k, ratio, lr, seed, DEFAULTS["nu"], DEFAULTS["kmeans_n_init"], base["mice"],
                       MODEL, training)


def test_plan_of_the_grids_and_the_retina_check_without_duplicates() -> None:
    section = {"variant": "v", "k_values": [4, 6], "beta_ratios": [0.1, 1.0], "beta_ratio": 1.0,
               "pretrain_epochs": 3, "figure_k": 6, "retina": {"variant": "r", "k": 5},
               "sweeps": {"pretrain_epochs": {"values": [2, 3], "seeds": [1]}, "lr": {"values": [0.001], "seeds": [2]}}}
    config = {"december": with_defaults(section, "december")}  # lr null: the variant's; seeds: the variant's
    runs = plan.plan(config, PLAN_VARIANTS)
    main = [run(k, ratio, 0.01, s) for k in (4, 6) for ratio in (0.1, 1.0) for s in (1, 2)]
    pe_sweep = [run(6, 1.0, 0.01, 1, pe=2)]  # PE 3 at seed 1 is a main-grid run
    lr_grid = [run(6, 1.0, 0.001, 2, pe=2), run(6, 1.0, 0.001, 2, pe=3)]  # lr x the PE values
    retina = [run(5, 1.0, 0.02, s, variant="r") for s in (1, 2, 3)]  # the retina variant's lr and seeds
    assert runs == {r.name: r for r in main + pe_sweep + lr_grid + retina}
    assert main[0].folder("results/sim") == "results/sim/december/v/pe3-k4-ratio0.1-lr0.01/seed1"
    # the baseline's settings; of its 50 epochs, pretraining took 3: no run trains longer than its baseline
    assert main[0].training == {"lr": 0.01, "max_epochs": 47, "batch_size": 16}
    assert pe_sweep[0].training["max_epochs"] == 48
    assert main[0].settings(beta=2.5) == DecemberSettings(4, 2.5, DEFAULTS["nu"], DEFAULTS["kmeans_n_init"], 1)
    assert DecemberRun(**asdict(main[0])) == main[0]  # plain data, as a rule's params, and back
    setting = plan.main_setting(config, PLAN_VARIANTS)
    assert setting == {"pe": 3, "beta_ratio": 1.0, "lr": 0.01}
    assert plan.setting_runs(runs, "v", setting, 6, free="beta_ratio") == [main[4], main[5], main[6], main[7]]
    assert plan.setting_runs(runs, "v", setting, 6, free="pe") == [pe_sweep[0], main[6], main[7]]
    pretraining = plan.pretraining(config, PLAN_VARIANTS)
    assert sorted(pretraining) == ["r/pretrain-pe3/seed1", "r/pretrain-pe3/seed2", "r/pretrain-pe3/seed3",
                                   "v/pretrain-pe2/seed1", "v/pretrain-pe2/seed2", "v/pretrain-pe3/seed1",
                                   "v/pretrain-pe3/seed2"]
    # the pretraining is the baseline run itself: the variant's training settings, unchanged
    assert pretraining["v/pretrain-pe2/seed2"].training == TRAINING
    assert pretraining["r/pretrain-pe3/seed1"].mice == ["ret"]


def _save(path: Path, labels: list[int], start: list[int]) -> Path:
    clusters = DecemberClusters(np.array(labels), np.array(start), np.eye(2)[labels], np.zeros((2, 3)),
                                np.ones((2, 3)), np.array(["m"] * 4), np.arange(4))
    save_clusters(path, clusters)
    return path


def test_across_seed_table_and_the_converged_baseline(tmp_path: Path) -> None:
    runs = [run(2, 1.0, 0.01, seed) for seed in (1, 2)]
    # the same final partition under other names, from k-means starts that disagree
    files = [_save(tmp_path / "seed1.npz", [0, 0, 1, 1], [0, 0, 1, 1]),
             _save(tmp_path / "seed2.npz", [1, 1, 0, 0], [0, 1, 0, 1])]
    across = tables.across_seed_table(runs, files)
    by_method = across.set_index("method")
    assert by_method.loc["december", ["ari_mean", "fmi_mean", "v_measure_mean"]].tolist() == pytest.approx([1, 1, 1])
    assert by_method.loc["december_init", "ari_mean"] == pytest.approx(-0.5)  # {01}{23} vs {02}{13}, by hand
    labels = {"gmm_converged": np.array([[[0, 0, 1, 1], [0, 1, 0, 1]]]),  # (K, seeds, N): ARI -0.5
              "kmeans_converged": np.array([[[0, 0, 1, 1], [1, 1, 0, 0]]])}  # ARI 1
    baseline = BaselineLabels(np.array([2]), np.array([1, 2]), labels, np.array(["m"] * 4), np.arange(4))
    run_rows = pd.DataFrame({"model": ["DECEMber", "DECEMber", "baseline", "baseline"], "variant": "v",
                             "pe": [3, 3, None, None], "k": [2, 2, None, None], "beta_ratio": [1.0, 1.0, None, None],
                             "lr": [0.01, 0.01, None, None], "seed": [1, 2, 1, 2], "beta": [10.0, 30.0, None, None],
                             tables.CORRELATION: [0.5, 0.7, 0.6, 0.8]})
    table = tables.vs_baseline_table(across, run_rows, baseline, "v").set_index("method")
    assert list(table.index) == ["december", "december_init", "gmm_converged", "kmeans_converged"]
    # the runs' k-means starts: the control without the loss, at the same setting, without β or correlation
    assert table.loc["december_init", ["pe", "beta_ratio", "ari_mean"]].tolist() == pytest.approx([3, 1.0, -0.5])
    assert table.loc["december_init", ["beta", "test_correlation"]].isna().all()
    assert table.loc["december", ["beta", "beta_ratio", "pe", "ari_mean", "test_correlation"]].tolist() == \
        pytest.approx([20.0, 1.0, 3, 1.0, 0.6])  # mean beta and test correlation over the seeds
    assert table.loc["gmm_converged", "ari_mean"] == pytest.approx(-0.5)
    assert table.loc["kmeans_converged", "ari_mean"] == pytest.approx(1.0)
    assert table.loc["gmm_converged", "test_correlation"] == pytest.approx(0.7)  # the converged models' mean
    assert np.isnan(table.loc["gmm_converged", "beta"]) and table.loc["gmm_converged", "n_pairs"] == 1


def test_matched_confusion_by_hand() -> None:
    truth = np.array([0, 0, 0, 1, 1, 2])
    labels = np.array([2, 2, 1, 0, 0, 1])
    # types 0, 1, 2 vs clusters: type 0 -> cluster 2 (2) and 1 (1), type 1 -> cluster 0, type 2 -> cluster 1
    counts = tables.matched_confusion(truth, labels, [0, 1, 2], 3)
    np.testing.assert_array_equal(counts, [[2, 0, 1], [0, 2, 0], [0, 0, 1]])
    # only the labelled types as rows (type 2 unlabelled), K = 3 columns
    np.testing.assert_array_equal(tables.matched_confusion(truth, labels, [0, 1], 3), [[2, 0, 1], [0, 2, 0]])


# ---------------------------------------------------------------------------------------------
# Pretraining = the first PE epochs of the converged baseline run; β from the initial model loss


def test_replay_is_the_baseline_runs_first_pe_epochs(data, tmp_path: Path) -> None:
    variant = {key: VARIANT[key] for key in ("core", "readout")}
    baseline_config = config(max_epochs=3)
    at_epoch_2 = {}

    def keep(epoch: int) -> None:
        if epoch == 2:
            at_epoch_2.update({key: value.clone() for key, value in holder["model"].state_dict().items()})

    holder = {}
    original = training.train

    def train(model, *args, **kwargs):
        holder["model"] = model
        return original(model, *args, on_epoch_end=keep, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training, "train", train)
        model_run.train_new_run(model_run.RunFiles(tmp_path / "b/model.pt", tmp_path / "b/log.csv"), variant, data,
                                baseline_config, seed=4, image_scale=1.0, rates=None, input_digests=[])
    baseline = pretrain.read_history(tmp_path / "b/log.csv")
    files = model_run.RunFiles(tmp_path / "p/model.pt", tmp_path / "p/log.csv", tmp_path / "p/metrics.json")
    metrics = pretrain.replay_pretraining(files, variant, data, baseline_config, pe=2, seed=4, image_scale=1.0,
                                          rates=None, input_digests=[], baseline_history=baseline)
    replay = pretrain.read_history(files.history)
    columns = list(pretrain.COMPARED_COLUMNS)
    pd.testing.assert_frame_equal(replay[columns], baseline.iloc[:2][columns])  # bitwise on the CPU
    assert metrics["baseline_history_max_difference"] == 0 and metrics["kept_epoch"] == 2
    kept = model_run.read_model_file(files.model)
    for key, value in at_epoch_2.items():  # the weights after epoch 2, not the best of the first two
        np.testing.assert_array_equal(np.asarray(kept["state_dict"][key]), value.numpy(), err_msg=key)


def test_history_difference_by_hand() -> None:
    replay = [{"train_loss": 1.0, "val_correlation": 0.5, "lr": 0.01}]
    baseline = pd.DataFrame({"train_loss": [1.25, 0.9], "val_correlation": [0.5, 0.6], "lr": [0.01, 0.01]})
    assert pretrain.history_difference(replay, baseline) == 0.25
    assert pretrain.history_difference(replay * 3, baseline) == float("inf")  # the baseline stopped before PE


def test_model_loss_per_step_is_the_mean_batch_objective_summed_over_mice(data) -> None:
    model = new_model(data)
    model.eval()
    expected = 0.0
    with torch.no_grad():
        for mouse in data.values():
            idx = torch.as_tensor(mouse.indices("train"))
            batches = idx.split(16)
            expected += sum(training.mouse_objective(model, mouse, b, len(idx), torch.device("cpu")).item()
                            for b in batches) / len(batches)
    model.train()
    state = {key: value.clone() for key, value in model.state_dict().items()}
    assert pretrain.model_loss_per_step(model, data, 16) == pytest.approx(expected, rel=1e-12)
    assert model.training and all(torch.equal(value, model.state_dict()[key]) for key, value in state.items())


def test_baseline_labels_cluster_the_raw_embedding_of_each_converged_model(data, tmp_path: Path) -> None:
    mice_info = {name: training.mouse_info(mouse) for name, mouse in data.items()}
    files = {}
    for seed in (1, 2):
        model = new_model(data, seed=seed)
        files[seed] = tmp_path / f"seed{seed}.pt"
        model_run.save_model(files[seed], model, VARIANT, mice_info, data[MICE[0]].input_shape,
                             {"unit_ids": {name: mouse.unit_ids for name, mouse in data.items()}, "mice": MICE,
                              "seed": seed, "image_scale": 1.0, "training": {}, "behavior_median": {}})
    labels = baseline_labels(files, MICE, [2, 3], n_init=2, random_state=0)
    assert labels.labels["gmm_converged"].shape == (2, 2, 24)
    raw = torch.cat([model_run.load_model(files[2]).readouts[m].features for m in MICE]).detach().numpy()
    np.testing.assert_array_equal(labels.at("kmeans_converged", 3, 2), kmeans_labels(raw, 3, 2, 0))
    np.testing.assert_array_equal(labels.at("gmm_converged", 2, 2), gmm_labels(raw, 2, 2, 0))


# ---------------------------------------------------------------------------------------------
# The toy example (D25 Fig. 2)


TOY_SETTINGS = toy.ToySettings(stimuli=2000, nu=2.1)
TRUE_CENTRES = np.asarray(TOY_SETTINGS.centres)
TRUE_DISTANCE = float(np.linalg.norm(TRUE_CENTRES[0] - TRUE_CENTRES[1]))  # 0.6


@pytest.fixture(scope="module")
def toy_result() -> dict[str, np.ndarray]:
    return toy.toy_example(TOY_SETTINGS)


def _toy_sample() -> torch.Tensor:
    """Weights of the two true clusters in D25's proportions, without the regression."""
    generator = torch.Generator().manual_seed(0)
    centres = torch.as_tensor(TRUE_CENTRES, dtype=torch.float32)
    return torch.cat([centres[cluster] + TOY_SETTINGS.spread * torch.randn(size // 4, 2, generator=generator)
                      for cluster, size in enumerate(TOY_SETTINGS.sizes)])


def test_toy_kl_degenerate_optimum_attracts_only_when_the_target_is_differentiated() -> None:
    """D25's argument: equal centres give q = p = 1/K and KL = 0; from the true centres, gradient descent
    moves DEC's centres towards each other when P(q) is differentiated and apart when P is detached."""
    x = _toy_sample()
    collapsed = torch.full((2, 2), TRUE_DISTANCE / 2, requires_grad=True)
    loss = toy.toy_kl(toy._dec_assignments(x, collapsed), "differentiated")
    loss.backward()
    assert float(loss.detach()) == pytest.approx(0.0, abs=1e-5)
    assert collapsed.grad.abs().max() < 1e-5
    steps = {}
    for reading in toy.TARGET_READINGS:
        centres = torch.as_tensor(TRUE_CENTRES, dtype=torch.float32).requires_grad_(True)
        toy.toy_kl(toy._dec_assignments(x, centres), reading).backward()
        steps[reading] = -centres.grad[1, 0] + centres.grad[0, 0]  # descent's change of the x-distance, up to lr
    assert steps["differentiated"] < 0 < steps["detached"]
    with pytest.raises(DecemberError, match="target reading"):
        toy.toy_kl(toy._dec_assignments(x, collapsed), "stopped")


def test_toy_dec_collapses_within_a_few_steps_when_the_target_is_differentiated(toy_result) -> None:
    """D25 Fig. 2D: with the KL differentiated through P, DEC's two centres meet within a few iterations."""
    distance = toy_result["dec_differentiated_centre_distance"]
    assert distance[0] == pytest.approx(TRUE_DISTANCE, abs=TOY_SETTINGS.spread / 2)  # k-means start at the truth
    assert distance[10] < TRUE_DISTANCE / 4
    assert distance[20:].max() < 0.05 * TRUE_DISTANCE
    assert toy_result["dec_differentiated_ari"] < 0.1


def test_toy_dec_drifts_apart_when_the_target_is_detached(toy_result) -> None:
    """The documented deviation: with DEC's stop-gradient target the centres separate, away from the truth,
    while the labels stay right; they never come closer than they started."""
    distance = toy_result["dec_detached_centre_distance"]
    assert distance.min() >= distance[0] - 1e-6
    assert distance[-1] > 2 * TRUE_DISTANCE
    final = toy_result["dec_detached_centre_path"][-1]
    assert np.abs(final[np.argsort(final[:, 0])] - TRUE_CENTRES).max() > 3 * TOY_SETTINGS.spread
    assert toy_result["dec_detached_ari"] > 0.9


@pytest.mark.parametrize("reading", toy.TARGET_READINGS)
def test_toy_december_recovers_centres_and_split_under_both_readings(toy_result, reading) -> None:
    name = f"december_{reading}"
    assert toy_result[f"{name}_centre_distance"].min() > TRUE_DISTANCE - TOY_SETTINGS.spread
    found = toy_result[f"{name}_centre_path"][-1]
    np.testing.assert_allclose(found[np.argsort(found[:, 0])], TRUE_CENTRES, atol=TOY_SETTINGS.spread / 2)
    sizes = sorted(toy_result[f"{name}_sizes"].tolist(), reverse=True)
    np.testing.assert_allclose(sizes, TOY_SETTINGS.sizes, atol=0.02 * TOY_SETTINGS.sizes[0])
    assert toy_result[f"{name}_ari"] > 0.9
