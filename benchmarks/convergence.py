"""How fast a demo model converges: validation correlation and planted-type ARI after every epoch
(a benchmark, not a test; METHODS §3 training, §4 clustering).

Trains one variant of a config on one simulated mouse with the trainer the workflow uses and, after
each epoch, clusters the model's rotation-aligned readout embeddings with k-means at the planted K and
scores them against the simulator's cell types. Settings given on the command line replace the
variant's `training:` values, to compare learning-rate schedules and batch sizes at equal cost.

    python benchmarks/convergence.py --variant gaussian_g0 --epochs 40
    python benchmarks/convergence.py --variant gaussian_g0 --epochs 12 --set lr=0.02 --set batch_size=32

Needs the mouse's cache and ground truth (`snakemake resources/simulated/sim1.cache
resources/simulated/sim1.ground_truth.npz`). Prints one row per epoch and the CPU seconds per epoch.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from sklearn.metrics import adjusted_rand_score

from v1twin import training
from v1twin.clustering.embeddings import align_rotations, normalize_rows
from v1twin.clustering.labels import kmeans_labels
from v1twin.config import expand_variants
from v1twin.config_schema import with_defaults
from v1twin.data.simulate import load_ground_truth
from v1twin.data.tensors import load_training_mice
from v1twin.models import build_model
from v1twin.models.cores import RotationEquivariantCore


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default="config/config.yaml")
    parser.add_argument("--variant", default="gaussian_g0")
    parser.add_argument("--mouse", default="sim1")
    parser.add_argument("--resources", default="resources/simulated")
    parser.add_argument("--epochs", type=int, default=40, help="max_epochs (early stopping still applies)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a training setting, e.g. lr=0.02 (repeatable)")
    return parser.parse_args()


def embedding_ari(model: torch.nn.Module, mouse: str, types: np.ndarray, seed: int) -> float:
    """k-means at the planted K on the rotation-aligned embeddings, scored against the planted types."""
    features = model.readouts[mouse].features.detach().numpy()
    core = model.core
    if isinstance(core, RotationEquivariantCore):
        embedding, _ = align_rotations(features, core.n_features, core.rotations)
    else:
        embedding = normalize_rows(features)
    k = len(np.unique(types))
    return adjusted_rand_score(types, kmeans_labels(embedding, k, n_init=10, random_state=seed))


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    with open(args.config) as handle:
        variant = expand_variants(with_defaults(yaml.safe_load(handle)))[args.variant]
    settings = {**variant["training"], "max_epochs": args.epochs}
    for item in args.set:
        key, value = item.split("=", 1)
        settings[key] = type(settings[key])(yaml.safe_load(value))
    config = training.TrainingConfig.from_dict(settings)
    resources = Path(args.resources)
    data = load_training_mice({args.mouse: resources / f"{args.mouse}.cache"}, 0.25)
    types = np.asarray(load_ground_truth(resources / f"{args.mouse}.ground_truth.npz")["cell_type"])
    training.seed_everything(args.seed)  # as the workflow's runs: the same seed gives the same initial model
    model = build_model({key: variant[key] for key in ("core", "readout")},
                        {args.mouse: training.mouse_info(data[args.mouse])}, data[args.mouse].input_shape)
    print(f"{args.variant} on {args.mouse}, seed {args.seed}: {settings}")
    print("epoch  val_corr  ari_k{}  seconds".format(len(np.unique(types))))

    with tempfile.TemporaryDirectory() as workdir:
        history_path = Path(workdir) / "history.csv"

        def report(epoch: int) -> None:
            row = pd.read_csv(history_path).iloc[-1]
            ari = embedding_ari(model, args.mouse, types, args.seed)
            print(f"{epoch:5d}  {row['val_correlation']:8.4f}  {ari:6.3f}  {row['seconds']:7.1f}", flush=True)

        result = training.train(model, data, config, Path(workdir), args.seed, variant,
                                history_path=history_path, on_epoch_end=report)
    print(f"best epoch {result.best_epoch}: validation correlation {result.best_score:.4f}, "
          f"planted-type ARI {embedding_ari(model, args.mouse, types, args.seed):.3f}, {result.seconds:.0f} s")


if __name__ == "__main__":
    main()
