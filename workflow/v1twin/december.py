"""DECEMber (D25): a clustering loss that makes the neuron embeddings cluster while the model trains.

The embedding of the neurons of all mice is modelled as a mixture of K multivariate Student-t
distributions with diagonal scales and fixed ν. Every optimizer step, on all neurons:
soft assignments q (the mixture's posterior), a sharpened target p ∝ q²/Σ_i q (DEC), the loss
β·KL(p‖q) whose gradient moves the readout weights towards their clusters, and one EM step of
the mixture's means and scales (no gradient reaches the cluster parameters). Clusters start from
k-means on the embedding of a model pretrained for PE epochs without the loss (METHODS §5).
Once a neuron's q is one-hot, p = q and its gradient vanishes: the loss acts on the neurons
between clusters, so the partition stays close to the k-means initialization (on the simulated
types every posterior saturates within the first epoch with the loss, whatever β). Each run therefore
keeps the k-means partition it started from, and the tables compare DECEMber with that start.

The embedding the loss clusters is the one the consistency analysis compares (METHODS §4): the
readout features of all mice, pruned channels zeroed, L2-normalized and, for a rotation-equivariant
core, rotation-aligned. The alignment is a discrete cyclic shift per neuron; DECEMber finds the
shifts once, at initialization, and keeps them fixed. With the shifts fixed the embedding is a
differentiable function of the weights, and since the loss pulls every neuron towards its cluster
in that aligned frame, the frame stays the right one while training goes on. Without alignment a
type would split into as many clusters as it has preferred orientations.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.metrics import adjusted_rand_score

from v1twin.clustering import (
    AGREEMENT_MEASURES,
    Embeddings,
    agreement,
    align_rotations,
    kmeans_labels,
    planted_types,
    summarize,
)
from v1twin.files import read_npz, write_npz
from v1twin.models import RotationEquivariantCore, V1Model

log = logging.getLogger(__name__)

PROBABILITY_FLOOR = 1e-8  # q and p are clamped here before the logarithm of the KL term (D25)
SCALE_RANGE = (1e-4, 1e4)  # the EM step clamps the scales into this range (D25)
INIT_SCALE_OFFSET = 1e-6  # added to the members' variance at initialization
DECEMBER_METHOD = "december"
INITIAL_METHOD = "december_init"  # the k-means partition a DECEMber run started from
SATURATED_POSTERIOR = 0.99  # a neuron whose largest q reaches this is (practically) out of the loss's reach


class DecemberError(ValueError):
    """A missing or inconsistent DECEMber file or setting; the message names it."""


# ----------------------------------------------------------------------------------------------
# The Student-t mixture


def mahalanobis(x: torch.Tensor, means: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """δ_ik = Σ_d (x_id − μ_kd)² / σ_kd, (N, K), by matrix products.

    Expanding the square avoids the (N, K, D) difference tensor: 1.4 GB at the paper's
    54,569 neurons × 50 clusters × 128 dimensions.
    """
    inverse = 1.0 / scales
    distance = (x * x) @ inverse.T - 2.0 * x @ (means * inverse).T + (means * means * inverse).sum(dim=1)
    return distance.clamp_min(0.0)


def log_t_density(x: torch.Tensor, means: torch.Tensor, scales: torch.Tensor, nu: float) -> torch.Tensor:
    """Log multivariate-t density (diagonal scale) of every row under every cluster, (N, K).

    Terms that are the same for all clusters (Γ functions, π, ν) are left out: they cancel in q.
    """
    dimensions = x.shape[1]
    delta = mahalanobis(x, means, scales)
    return -0.5 * torch.log(scales).sum(dim=1) - 0.5 * (nu + dimensions) * torch.log1p(delta / nu)


def soft_assignments(x: torch.Tensor, means: torch.Tensor, scales: torch.Tensor, nu: float) -> torch.Tensor:
    """q_ik: the posterior of cluster k for row i under equal mixing weights; rows sum to one."""
    return torch.softmax(log_t_density(x, means, scales, nu), dim=1)


def target_distribution(q: torch.Tensor) -> torch.Tensor:
    """DEC's target p_ik ∝ q_ik² / Σ_i q_ik, renormalized over k: sharper, and small clusters count more."""
    weight = q * q / q.sum(dim=0)
    return weight / weight.sum(dim=1, keepdim=True)


def clustering_loss(q: torch.Tensor, beta: float) -> torch.Tensor:
    """β · Σ_ik p_ik log(p_ik / q_ik), the target p detached (as DEC): the gradient moves only q's inputs."""
    q = q.clamp_min(PROBABILITY_FLOOR)
    p = target_distribution(q).detach().clamp_min(PROBABILITY_FLOOR)
    return beta * (p * (torch.log(p) - torch.log(q))).sum()


@torch.no_grad()
def em_step(
    x: torch.Tensor, q: torch.Tensor, means: torch.Tensor, scales: torch.Tensor, nu: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """One EM step of the t-mixture given the assignments q: the new means and scales, (K, D) each.

    u_ik = (ν + D)/(ν + δ_ik) down-weights outliers; μ_k = Σ_i q u x / Σ_i q u;
    σ_kd = Σ_i q u (x − μ_old)² / Σ_i q, clamped into SCALE_RANGE. q should be floored (as the
    loss does) so an empty cluster keeps positive weights instead of dividing zero by zero.
    """
    dimensions = x.shape[1]
    weights = q * (nu + dimensions) / (nu + mahalanobis(x, means, scales))  # q·u, (N, K)
    total = weights.sum(dim=0)[:, None]  # (K, 1)
    first_moment = weights.T @ x  # Σ_i q u x, (K, D)
    second_moment = weights.T @ (x * x)  # Σ_i q u x², (K, D)
    new_means = first_moment / total
    spread = second_moment - 2.0 * means * first_moment + means * means * total  # Σ_i q u (x − μ_old)²
    new_scales = (spread / q.sum(dim=0)[:, None]).clamp(*SCALE_RANGE)
    return new_means, new_scales


def saturated_fraction(q: np.ndarray | torch.Tensor) -> float:
    """Share of neurons whose largest soft assignment is at least SATURATED_POSTERIOR (no gradient left)."""
    largest = np.asarray(q).max(axis=1)
    return float(np.mean(largest >= SATURATED_POSTERIOR))


def kmeans_init(x: np.ndarray, k: int, n_init: int, random_state: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Means, diagonal scales (members' variance + 1e-6) and labels of a k-means clustering of x.

    The variance is the population one (ddof 0), so a cluster of one neuron gets scale 1e-6.
    """
    x = np.asarray(x, dtype=np.float64)
    labels = kmeans_labels(x, k, n_init, random_state)
    means = np.stack([x[labels == cluster].mean(axis=0) for cluster in range(k)])
    scales = np.stack([x[labels == cluster].var(axis=0) for cluster in range(k)]) + INIT_SCALE_OFFSET
    return means, scales, labels


# ----------------------------------------------------------------------------------------------
# The embedding of a model


def readout_features(model: V1Model, mice: list[str]) -> torch.Tensor:
    """Readout feature vectors of `mice` stacked (N, C), pruned channels zeroed; differentiable."""
    missing = [mouse for mouse in mice if mouse not in model.readouts]
    if missing:
        raise DecemberError(f"the model has no readout for mice {missing} (it has {list(model.readouts)})")
    features = torch.cat([model.readouts[mouse].features for mouse in mice])
    return features * model.core.channel_mask


def rotation_shape(model: V1Model) -> tuple[int, int] | None:
    """(features, rotations) of a rotation-equivariant core, None for a core without a rotation axis."""
    core = model.core
    return (core.n_features, core.rotations) if isinstance(core, RotationEquivariantCore) else None


def embed(features: torch.Tensor, shifts: torch.Tensor | None, shape: tuple[int, int] | None) -> torch.Tensor:
    """L2-normalized rows, cyclically shifted along the rotation axis by `shifts` (N,) where given.

    Channels are rotation-major (index r·F + f); row n becomes aligned[r·F + f] = x[((r + s_n) mod R)·F + f],
    the same layout and convention as clustering.align_rotations.
    """
    normalized = F.normalize(features, dim=1)
    if shifts is None:
        return normalized
    n_features, rotations = shape
    view = normalized.reshape(len(normalized), rotations, n_features)
    index = (torch.arange(rotations, device=shifts.device)[None, :] + shifts[:, None]) % rotations
    aligned = torch.gather(view, 1, index[:, :, None].expand(-1, -1, n_features))
    return aligned.reshape(len(normalized), -1)


# ----------------------------------------------------------------------------------------------
# The loss as a training extension


@dataclass(frozen=True)
class DecemberSettings:
    """The clustering loss of one run: K clusters, strength β, t degrees of freedom ν, k-means init."""

    k: int
    beta: float
    nu: float = 2.1
    kmeans_n_init: int = 20
    random_state: int = 0

    def __post_init__(self) -> None:
        if self.k < 2:
            raise DecemberError(f"DECEMber needs K >= 2 clusters, got {self.k}")
        if self.beta < 0 or self.nu <= 0 or self.kmeans_n_init < 1:
            raise DecemberError(f"need beta >= 0, nu > 0 and kmeans_n_init >= 1, got {self}")


def _synchronize(tensor: torch.Tensor) -> None:
    """Wait for the GPU, so a timing covers the work and not only its launch."""
    if tensor.is_cuda:
        torch.cuda.synchronize(tensor.device)


class DecemberLoss:
    """DECEMber as a `training.StepExtension`: the β·KL loss every step and one EM step after it.

    State: the cluster means and scales (K, D), the fixed rotation shifts (N,), and the k-means
    labels (N,) and saturated share of the start. It also times the EM step and the loss's forward
    pass (`seconds_per_step`), the overhead D25 budgets.
    """

    def __init__(self, settings: DecemberSettings, mice: list[str]):
        self.settings = settings
        self.mice = list(mice)
        self.means: torch.Tensor | None = None
        self.scales: torch.Tensor | None = None
        self.shifts: torch.Tensor | None = None  # None: the core has no rotation axis
        self.initial_labels: torch.Tensor | None = None
        self.initial_saturation: torch.Tensor | None = None
        self._step_inputs: tuple[torch.Tensor, torch.Tensor] | None = None
        self.steps = 0
        self.em_seconds = 0.0
        self.loss_seconds = 0.0

    def embedding(self, model: V1Model) -> torch.Tensor:
        """The embedding the loss clusters (differentiable with respect to the readout features)."""
        return embed(readout_features(model, self.mice), self.shifts, rotation_shape(model))

    def start(self, model: V1Model) -> None:
        """Find the rotation shifts and the initial clusters (k-means) on the pretrained embedding."""
        features = readout_features(model, self.mice).detach()
        device = features.device
        shape = rotation_shape(model)
        if shape is not None:
            _, shifts = align_rotations(features.cpu().numpy(), *shape)
            self.shifts = torch.as_tensor(shifts, device=device)
        x = embed(features, self.shifts, shape)
        means, scales, labels = kmeans_init(x.cpu().numpy(), self.settings.k, self.settings.kmeans_n_init,
                                            self.settings.random_state)
        self.means = torch.as_tensor(means, dtype=x.dtype, device=device)
        self.scales = torch.as_tensor(scales, dtype=x.dtype, device=device)
        self.initial_labels = torch.as_tensor(labels, dtype=torch.long)
        q = soft_assignments(x, self.means, self.scales, self.settings.nu).cpu()
        self.initial_saturation = torch.tensor(saturated_fraction(q))
        log.info("DECEMber: %d neurons x %d dims, k-means init of K = %d, cluster sizes %s, %.0f%% of the "
                 "posteriors already >= %g", *x.shape, self.settings.k,
                 np.bincount(labels, minlength=self.settings.k).tolist(), 100 * float(self.initial_saturation),
                 SATURATED_POSTERIOR)

    def _on(self, device: torch.device) -> None:
        """Cluster state on the model's device (a checkpoint is loaded on the CPU)."""
        self.means, self.scales = self.means.to(device), self.scales.to(device)
        if self.shifts is not None:
            self.shifts = self.shifts.to(device)

    def loss(self, model: V1Model) -> torch.Tensor:
        """β·KL(p‖q) over all neurons; keeps the embedding and q for this step's EM update."""
        start = time.perf_counter()
        if self.means is None:
            raise DecemberError("DECEMber loss used before start() or load_state_dict()")
        self._on(model.core.channel_mask.device)
        x = self.embedding(model)
        q = soft_assignments(x, self.means, self.scales, self.settings.nu)
        self._step_inputs = (x.detach(), q.detach().clamp_min(PROBABILITY_FLOOR))
        loss = clustering_loss(q, self.settings.beta)
        _synchronize(x)
        self.loss_seconds += time.perf_counter() - start
        return loss

    def after_step(self, model: V1Model) -> None:
        """EM on the embedding and assignments of this step's loss (before the optimizer moved the weights)."""
        start = time.perf_counter()
        x, q = self._step_inputs
        self.means, self.scales = em_step(x, q, self.means, self.scales, self.settings.nu)
        _synchronize(x)
        self.steps += 1
        self.em_seconds += time.perf_counter() - start

    def seconds_per_step(self) -> dict[str, float]:
        """Mean seconds of the EM step and of the loss's forward pass per optimizer step (this process)."""
        steps = max(self.steps, 1)
        return {"em_seconds_per_step": self.em_seconds / steps, "loss_seconds_per_step": self.loss_seconds / steps}

    def state_dict(self) -> dict[str, Any]:
        state = {"means": self.means, "scales": self.scales, "initial_labels": self.initial_labels,
                 "initial_saturation": self.initial_saturation}
        if self.shifts is not None:
            state["shifts"] = self.shifts
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.means, self.scales = state["means"], state["scales"]
        self.initial_labels, self.initial_saturation = state["initial_labels"], state["initial_saturation"]
        self.shifts = state.get("shifts")

    @torch.no_grad()
    def assignments(self, model: V1Model) -> tuple[np.ndarray, np.ndarray]:
        """The embedding (N, D) and soft assignments q (N, K) of the model's current weights."""
        self._on(model.core.channel_mask.device)
        x = self.embedding(model)
        return x.cpu().numpy(), soft_assignments(x, self.means, self.scales, self.settings.nu).cpu().numpy()


# ----------------------------------------------------------------------------------------------
# Results of a run


@dataclass
class DecemberClusters:
    """Labels (argmax q) and cluster parameters of a trained DECEMber model; neurons as in the embeddings."""

    labels: np.ndarray  # (N,)
    initial_labels: np.ndarray  # (N,) the k-means partition the run started from
    q: np.ndarray  # (N, K)
    means: np.ndarray  # (K, D)
    scales: np.ndarray  # (K, D)
    mouse: np.ndarray  # (N,) str
    unit_id: np.ndarray  # (N,)


def run_outputs(
    model: V1Model, loss: DecemberLoss, unit_ids: dict[str, np.ndarray]
) -> tuple[DecemberClusters, Embeddings]:
    """The clusters of a trained model and its embedding (in clustering.Embeddings form, for t-SNE)."""
    x, q = loss.assignments(model)
    mouse = np.concatenate([np.full(len(unit_ids[m]), m) for m in loss.mice]).astype(str)
    unit_id = np.concatenate([np.asarray(unit_ids[m], dtype=np.int64) for m in loss.mice])
    if len(unit_id) != len(x):
        raise DecemberError(f"{len(unit_id)} unit ids for {len(x)} readout rows of mice {loss.mice}")
    clusters = DecemberClusters(
        labels=q.argmax(axis=1).astype(np.int64), initial_labels=loss.initial_labels.cpu().numpy().astype(np.int64),
        q=q.astype(np.float32),
        means=loss.means.cpu().numpy(), scales=loss.scales.cpu().numpy(), mouse=mouse, unit_id=unit_id,
    )
    shifts = loss.shifts.cpu().numpy() if loss.shifts is not None else np.zeros(len(x), dtype=np.int64)
    features = readout_features(model, loss.mice).detach().cpu().numpy()
    embeddings = Embeddings(embedding=x.astype(np.float32), features=features.astype(np.float32), mouse=mouse,
                            unit_id=unit_id, rotation_shift=shifts.astype(np.int64), aligned=loss.shifts is not None)
    return clusters, embeddings


def save_clusters(path: str | Path, clusters: DecemberClusters) -> None:
    write_npz(path, {key: np.asarray(value) for key, value in asdict(clusters).items()})


def load_clusters(path: str | Path) -> DecemberClusters:
    """Read what `save_clusters` wrote; shapes are checked."""
    content = read_npz(path, ("labels", "initial_labels", "q", "means", "scales", "mouse", "unit_id"), DecemberError)
    clusters = DecemberClusters(**content)
    n = len(clusters.labels)
    if {clusters.q.shape[0], len(clusters.initial_labels), len(clusters.mouse), len(clusters.unit_id)} != {n}:
        raise DecemberError(f"{path}: labels, initial_labels, q, mouse and unit_id disagree on the number of neurons")
    return clusters


# ----------------------------------------------------------------------------------------------
# The runs of the config's `december` section


@dataclass(frozen=True)
class DecemberRun:
    """One DECEMber model: base variant, pretraining epochs, K, β, learning rate, seed."""

    variant: str
    pe: int
    k: int
    beta: float
    lr: float
    seed: int

    @property
    def setting(self) -> str:
        """The folder name of the run's hyperparameters, e.g. pe3-k6-beta1000-lr0.01."""
        return f"pe{self.pe}-k{self.k}-beta{number(self.beta)}-lr{number(self.lr)}"

    def folder(self, results: str) -> str:
        """The run's output folder under the dataset's results folder."""
        return f"{results}/december/{self.variant}/{self.setting}/seed{self.seed}"


def number(value: float) -> str:
    """A number as it appears in paths: shortest form (1000.0 → 1000, 0.005 → 0.005, 1e-05 → 1e-05)."""
    return f"{float(value):g}"


SWEEP_KEYS = {"beta": "beta", "pretrain_epochs": "pe", "lr": "lr"}  # config sweep name -> DecemberRun field


def december_runs(section: dict, seeds: list[int], training_lr: float) -> list[DecemberRun]:
    """Every run of the main grid (each K, all seeds) and of the sweeps (at figure_k), without duplicates.

    `seeds` and `training_lr` are the base variant's; a sweep's values replace one setting of the
    main grid (beta, pretrain_epochs or lr) and use the sweep's seeds.
    """
    main = main_setting(section, training_lr)
    runs = [DecemberRun(section["variant"], main["pe"], k, main["beta"], main["lr"], seed)
            for k in section["k_values"] for seed in section.get("seeds") or seeds]
    for name, sweep in section.get("sweeps", {}).items():
        key = SWEEP_KEYS[name]
        for value, seed in itertools.product(sweep["values"], sweep.get("seeds") or seeds):
            settings = {**main, key: value}
            runs.append(DecemberRun(section["variant"], settings["pe"], section["figure_k"], settings["beta"],
                                    settings["lr"], seed))
    return list(dict.fromkeys(runs))


def main_setting(section: dict, training_lr: float) -> dict[str, Any]:
    """The main grid's {"pe", "beta", "lr"}; a sweep varies one of them."""
    return {"pe": section["pretrain_epochs"], "beta": section["beta"], "lr": section.get("lr") or training_lr}


def main_runs(runs: list[DecemberRun], main: dict[str, Any], k: int) -> list[DecemberRun]:
    """The runs of the main setting at K = k (every seed)."""
    return [run for run in runs if run.k == k and all(getattr(run, key) == value for key, value in main.items())]


def sweep_runs(runs: list[DecemberRun], main: dict[str, Any], key: str, k: int, seed: int) -> list[DecemberRun]:
    """The runs of one seed at K = k that differ from the main setting in `key` only, sorted by it."""
    fixed = {name: value for name, value in main.items() if name != key}
    chosen = [run for run in runs if run.k == k and run.seed == seed
              and all(getattr(run, name) == value for name, value in fixed.items())]
    return sorted(chosen, key=lambda run: getattr(run, key))


def find_run(runs_by_folder: dict[str, DecemberRun], folder: str) -> dict[str, Any]:
    """The settings of the configured run whose output folder is `folder`; another folder is an error."""
    if folder not in runs_by_folder:
        raise DecemberError(f"{folder} is not a DECEMber run of the config (see december: in the config)")
    return asdict(runs_by_folder[folder])


# ----------------------------------------------------------------------------------------------
# Tables: runs, agreement across seeds, planted types


def _metrics_row(path: str | Path) -> dict[str, Any]:
    """The run-level numbers of a metrics.json and its test measures (mean over mice) as test_<measure>."""
    try:
        content = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise DecemberError(f"cannot read metrics {path}: {error}") from error
    measures = {f"test_{key}": value for key, value in content["mean"].items() if not key.startswith("n_")}
    scalars = {key: value for key, value in content.items() if not isinstance(value, (dict, list))}
    return {**scalars, **measures}


def run_table(
    runs: list[DecemberRun],
    metrics_files: list[str | Path],
    baseline_files: list[str | Path],
    baseline_seeds: list[int],
) -> pd.DataFrame:
    """One row per DECEMber run (model 'DECEMber') and per seed of the base variant trained without
    the loss (model 'baseline'): settings, test measures and timings."""
    rows = [{"model": "DECEMber", **asdict(run), **_metrics_row(path)}
            for run, path in zip(runs, metrics_files, strict=True)]
    rows += [{"model": "baseline", "variant": runs[0].variant, "seed": seed, **_metrics_row(path)}
             for seed, path in zip(baseline_seeds, baseline_files, strict=True)]
    return pd.DataFrame(rows).astype({"pe": "Int64", "k": "Int64"})  # empty on the baseline rows


def _settings_of(runs: list[DecemberRun]) -> dict[tuple, dict[int, int]]:
    """Run index per seed, grouped by everything but the seed."""
    groups: dict[tuple, dict[int, int]] = {}
    for index, run in enumerate(runs):
        groups.setdefault((run.variant, run.pe, run.k, run.beta, run.lr), {})[run.seed] = index
    return groups


def across_seed_table(runs: list[DecemberRun], clusters_files: list[str | Path]) -> pd.DataFrame:
    """Per setting with at least 2 seeds: ARI, FMI, V-measure over seed pairs (mean, sd) of the DECEMber
    labels (method 'december') and of the k-means partitions the runs started from ('december_init')."""
    tables = []
    for (variant, pe, k, beta, lr), seeds in _settings_of(runs).items():
        if len(seeds) < 2:
            continue
        clusters = {seed: load_clusters(clusters_files[index]) for seed, index in seeds.items()}
        pairs = list(itertools.combinations(clusters, 2))
        for seed_a, seed_b in pairs:
            a, b = clusters[seed_a], clusters[seed_b]
            if not (np.array_equal(a.mouse, b.mouse) and np.array_equal(a.unit_id, b.unit_id)):
                raise DecemberError(f"DECEMber clusters of seeds {seed_a} and {seed_b} ({variant}, {pe}, {k}) "
                                    f"differ in neurons")
        for method, field in ((DECEMBER_METHOD, "labels"), (INITIAL_METHOD, "initial_labels")):
            rows = [{"seed_a": a, "seed_b": b, **agreement(getattr(clusters[a], field), getattr(clusters[b], field))}
                    for a, b in pairs]
            summary = summarize(pd.DataFrame(rows).assign(k=k), ["k"], AGREEMENT_MEASURES)
            tables.append(summary.assign(method=method, variant=variant, pe=pe, beta=beta, lr=lr))
    if not tables:
        raise DecemberError("no DECEMber setting has two seeds to compare")
    return pd.concat(tables, ignore_index=True)


def with_baseline(
    december: pd.DataFrame, baseline_table: pd.DataFrame, variant: str, k_values: list[int]
) -> pd.DataFrame:
    """The DECEMber rows beside the k-means and GMM rows of the same variant (trained without the loss) at
    `k_values`."""
    baseline = baseline_table[(baseline_table["variant"] == variant) & baseline_table["k"].isin(k_values)]
    missing = sorted(set(k_values) - set(baseline["k"]))
    if missing:
        raise DecemberError(f"the consistency table has no rows of variant {variant} at K = {missing}; "
                            f"december.k_values must be among clustering.k_values")
    columns = ["method", "variant", "pe", "beta", "lr", "k", "n_pairs",
               *[f"{m}_{s}" for m in AGREEMENT_MEASURES for s in ("mean", "sd")]]
    return pd.concat([december, baseline], ignore_index=True).reindex(columns=columns)


def planted_type_table(
    runs: list[DecemberRun], clusters_files: list[str | Path], truth_files: list[str | Path], mice: list[str]
) -> pd.DataFrame:
    """ARI with the simulator's planted types of every run's labels and of the k-means partition it started from."""
    rows, truth = [], None
    for run, path in zip(runs, clusters_files, strict=True):
        clusters = load_clusters(path)
        if truth is None:
            truth = planted_types(truth_files, mice, clusters.mouse)
        rows.append({**asdict(run), "ari": adjusted_rand_score(truth, clusters.labels),
                     "ari_initial": adjusted_rand_score(truth, clusters.initial_labels)})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# The toy example (D25 Fig. 2): vanilla DEC collapses two nearby clusters, DECEMber separates them


@dataclass(frozen=True)
class ToySettings:
    """Linear neurons y = w·x with 2-D weights around two nearby centres (D25 Fig. 2)."""

    sizes: tuple[int, int] = (2000, 500)
    centres: tuple[tuple[float, float], tuple[float, float]] = ((0.0, 0.0), (0.6, 0.0))
    spread: float = 0.1  # per-dimension sd of the weights around their centre
    stimuli: int = 8000
    noise: float = 0.5  # sd of the response noise
    pretrain_epochs: int = 25
    batch_size: int = 500
    pretrain_lr: float = 0.05
    cluster_steps: int = 400
    cluster_lr: float = 0.005
    seed: int = 0


def toy_population(settings: ToySettings) -> dict[str, np.ndarray]:
    """True weights (N, 2), their cluster, the stimuli (S, 2) and noisy responses (S, N)."""
    rng = np.random.default_rng(settings.seed)
    cluster = np.repeat(np.arange(len(settings.sizes)), settings.sizes)
    weights = np.asarray(settings.centres)[cluster] + settings.spread * rng.normal(size=(len(cluster), 2))
    stimuli = rng.normal(size=(settings.stimuli, 2))
    responses = stimuli @ weights.T + settings.noise * rng.normal(size=(settings.stimuli, len(cluster)))
    return {"weights": weights, "cluster": cluster, "stimuli": stimuli, "responses": responses}


def toy_pretrain(population: dict[str, np.ndarray], settings: ToySettings) -> torch.Tensor:
    """Fit every neuron's weights by mean squared error (Adam, minibatches of stimuli), from zero."""
    generator = torch.Generator().manual_seed(settings.seed)
    stimuli = torch.as_tensor(population["stimuli"], dtype=torch.float32)
    responses = torch.as_tensor(population["responses"], dtype=torch.float32)
    weights = torch.zeros(responses.shape[1], 2, requires_grad=True)
    optimizer = torch.optim.Adam([weights], lr=settings.pretrain_lr)
    for _ in range(settings.pretrain_epochs):
        for batch in torch.randperm(len(stimuli), generator=generator).split(settings.batch_size):
            optimizer.zero_grad()
            F.mse_loss(stimuli[batch] @ weights.T, responses[batch]).backward()
            optimizer.step()
    return weights.detach()


def _dec_assignments(weights: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Vanilla DEC (Xie et al. 2016): Student-t kernel with ν = 1 and unit scale, normalized over clusters."""
    kernel = 1.0 / (1.0 + torch.cdist(weights, centres) ** 2)
    return kernel / kernel.sum(dim=1, keepdim=True)


def toy_cluster(weights: torch.Tensor, settings: ToySettings, method: str, nu: float = 2.1) -> dict[str, np.ndarray]:
    """Only the clustering loss from the pretrained weights: 'dec' learns its centres by gradient,
    'december' updates means and scales by EM. Returns final weights, labels and the centre path."""
    x = weights.clone().requires_grad_(True)
    means, scales, _ = kmeans_init(weights.numpy(), len(settings.sizes), 20, settings.seed)
    means = torch.as_tensor(means, dtype=torch.float32)
    scales = torch.as_tensor(scales, dtype=torch.float32)
    parameters = [x]
    if method == "dec":
        means.requires_grad_(True)
        parameters.append(means)
    elif method != "december":
        raise DecemberError(f"unknown toy clustering method {method!r}; expected 'dec' or 'december'")
    optimizer = torch.optim.Adam(parameters, lr=settings.cluster_lr)
    path = [means.detach().clone()]
    for _ in range(settings.cluster_steps):
        optimizer.zero_grad()
        q = _dec_assignments(x, means) if method == "dec" else soft_assignments(x, means, scales, nu)
        clustering_loss(q, 1.0).backward()
        optimizer.step()
        if method == "december":
            means, scales = em_step(x.detach(), q.detach().clamp_min(PROBABILITY_FLOOR), means, scales, nu)
        path.append(means.detach().clone())
    with torch.no_grad():
        q = _dec_assignments(x, means) if method == "dec" else soft_assignments(x, means, scales, nu)
    return {"weights": x.detach().numpy(), "labels": q.argmax(dim=1).numpy(), "centre_path": torch.stack(path).numpy()}


def toy_example(settings: ToySettings) -> dict[str, np.ndarray]:
    """D25 Fig. 2: the population, the pretrained weights, and the outcome of DEC and of DECEMber.

    Per method: final weights, labels, centre path (steps + 1, 2, 2), cluster sizes and the ARI
    with the true clusters.
    """
    torch.manual_seed(settings.seed)
    population = toy_population(settings)
    pretrained = toy_pretrain(population, settings)
    result = {"true_weights": population["weights"], "true_cluster": population["cluster"],
              "true_centres": np.asarray(settings.centres), "pretrained": pretrained.numpy()}
    for method in ("dec", "december"):
        outcome = toy_cluster(pretrained, settings, method)
        result.update({f"{method}_{key}": value for key, value in outcome.items()})
        result[f"{method}_sizes"] = np.bincount(outcome["labels"], minlength=len(settings.sizes))
        result[f"{method}_ari"] = np.array(adjusted_rand_score(population["cluster"], outcome["labels"]))
        log.info("toy %s: cluster sizes %s, ARI %.3f, final centres %s", method, result[f"{method}_sizes"].tolist(),
                 result[f"{method}_ari"], outcome["centre_path"][-1].round(3).tolist())
    return result
