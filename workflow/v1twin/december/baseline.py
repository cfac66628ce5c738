"""D25's baseline (Sec. 4, l. 60-62): k-means and a diagonal GMM (reg_covar 1e-6, fixed seed) on the
embeddings of the DECEMber variant trained to convergence WITHOUT the loss (its `training_run` models,
one per seed), at every K, in the very embedding the loss sees (raw readout features for a CNN core;
`v1twin.december.loss.embed`). Methods are named `gmm_converged` and `kmeans_converged`."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from v1twin.clustering.embeddings import align_rotations
from v1twin.clustering.labels import gmm_labels, kmeans_labels
from v1twin.december import DecemberError
from v1twin.december.loss import embed, readout_features, rotation_shape
from v1twin.files import read_npz, write_npz
from v1twin.model_run import load_run

BASELINE_METHODS = {"gmm_converged": gmm_labels, "kmeans_converged": kmeans_labels}


def model_embedding(model, mice: list[str]) -> np.ndarray:
    """The embedding DECEMber's loss would cluster for this model: raw features (CNN), or the aligned,
    normalized ones of a rotation-equivariant core (our extension)."""
    with torch.no_grad():
        features = readout_features(model, mice).detach().cpu()
        shape = rotation_shape(model)
        shifts = None if shape is None else torch.as_tensor(align_rotations(features.numpy(), *shape)[1])
        return embed(features, shifts, shape).numpy().astype(np.float64)


@dataclass
class BaselineLabels:
    """labels[method] is (len(k_values), len(seeds), N); neurons in readout order (mice in order)."""

    k_values: np.ndarray
    seeds: np.ndarray
    labels: dict[str, np.ndarray]
    mouse: np.ndarray
    unit_id: np.ndarray

    def at(self, method: str, k: int, seed: int) -> np.ndarray:
        return self.labels[method][list(self.k_values).index(k), list(self.seeds).index(seed)]


def baseline_labels(model_files: dict[int, str | Path], mice: list[str], k_values: list[int], n_init: int,
                    random_state: int) -> BaselineLabels:
    """Both methods at every K on every seed's converged model; the same `random_state` for every fit."""
    rows: dict[str, list] = {method: [] for method in BASELINE_METHODS}
    mouse = unit_id = None
    for seed, path in model_files.items():
        run = load_run(path, torch.device("cpu"))
        order = np.concatenate([np.full(len(run.unit_ids[m]), m) for m in mice]).astype(str)
        ids = np.concatenate([np.asarray(run.unit_ids[m], dtype=np.int64) for m in mice])
        if mouse is None:
            mouse, unit_id = order, ids
        elif not (np.array_equal(mouse, order) and np.array_equal(unit_id, ids)):
            raise DecemberError(f"{path}: other neurons than the first seed's model")
        x = model_embedding(run.model, mice)
        for method, clusterer in BASELINE_METHODS.items():
            rows[method].append([clusterer(x, k, n_init, random_state) for k in k_values])
    labels = {method: np.stack(per_seed, axis=1) for method, per_seed in rows.items()}  # (K, seeds, N)
    return BaselineLabels(np.asarray(k_values), np.asarray(list(model_files)), labels, mouse, unit_id)


def save_baseline(path: str | Path, baseline: BaselineLabels) -> None:
    write_npz(path, {"k_values": baseline.k_values, "seeds": baseline.seeds, "mouse": baseline.mouse,
                     "unit_id": baseline.unit_id, **{f"labels_{m}": v for m, v in baseline.labels.items()}})


def load_baseline(path: str | Path) -> BaselineLabels:
    content = read_npz(path, ("k_values", "seeds", "mouse", "unit_id",
                              *(f"labels_{m}" for m in BASELINE_METHODS)), DecemberError)
    return BaselineLabels(content["k_values"], content["seeds"],
                          {m: content[f"labels_{m}"] for m in BASELINE_METHODS}, content["mouse"].astype(str),
                          content["unit_id"])


def seed_pairs(seeds) -> list[tuple[int, int]]:
    return list(itertools.combinations([int(s) for s in seeds], 2))
