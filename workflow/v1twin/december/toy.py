"""The toy example of D25 Fig. 2: vanilla DEC collapses two nearby clusters, DECEMber separates them."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import adjusted_rand_score

from v1twin.december import DecemberError
from v1twin.december.mixture import PROBABILITY_FLOOR, clustering_loss, em_step, kmeans_init, soft_assignments

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToySettings:
    """Linear neurons y = w·x with 2-D weights around two nearby centres (D25 Fig. 2).

    The number of stimuli and DECEMber's ν come from the config; the population and the schedule are D25's.
    """

    stimuli: int
    nu: float
    sizes: tuple[int, int] = (2000, 500)
    centres: tuple[tuple[float, float], tuple[float, float]] = ((0.0, 0.0), (0.6, 0.0))
    spread: float = 0.1  # per-dimension sd of the weights around their centre
    noise: float = 0.5  # sd of the response noise
    pretrain_epochs: int = 25
    batch_size: int = 500
    pretrain_lr: float = 0.05
    cluster_steps: int = 400
    cluster_lr: float = 0.005
    kmeans_n_init: int = 20
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


def toy_cluster(weights: torch.Tensor, settings: ToySettings, method: str) -> dict[str, np.ndarray]:
    """Only the clustering loss from the pretrained weights: 'dec' learns its centres by gradient,
    'december' updates means and scales by EM. Returns final weights, labels and the centre path."""
    nu = settings.nu
    x = weights.clone().requires_grad_(True)
    means, scales, _ = kmeans_init(weights.numpy(), len(settings.sizes), settings.kmeans_n_init, settings.seed)
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
