"""The toy example of D25 Fig. 2 (Sec. 5, "DEC-loss needs learned scale"): vanilla DEC vs DECEMber
on two nearby clusters of linear neurons.

D25's protocol: pretrain the linear model 25 epochs by MSE, then continue with the KL divergence alone,
vanilla DEC (Student-t, ν = 1, unit scale, centres learned by gradient) vs DECEMber (t-mixture with
learned diagonal scales, EM updates). D25 reports DEC's two centres collapsing onto one point within a
few iterations (Fig. 2D) and explains it by the degenerate optimum of the KL: equal centres give
q_ik = 1/K = p_ik and KL = 0.

Which detail decides it (our finding): whether the gradient flows through the target P(q).
- "differentiated" — the KL is minimized as the function of the centres (and weights) it is, P(q)
  included. This is the reading in which D25's degenerate-optimum argument applies, and it reproduces
  the collapse: the centre distance falls from 0.6 to < 0.01 within 20 plain gradient steps.
- "detached" — P is a fixed pseudo-label at each step (stop-gradient, as Xie et al. 2016 and D25's
  released DEC trainer, `target_distribution(output).detach()`). Then the gradient sharpens q instead,
  and DEC's centres drift apart (0.6 → 2.2) while its labels stay right. No optimizer, learning rate,
  or choice of trained parameters we tried made the detached DEC collapse.
DECEMber recovers both centres and the 2000 / 500 split under both readings.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import adjusted_rand_score

from v1twin.december import DecemberError
from v1twin.december.mixture import PROBABILITY_FLOOR, em_step, kmeans_init, soft_assignments, target_distribution

log = logging.getLogger(__name__)

TOY_METHODS = ("dec", "december")
# How the target P enters the clustering gradient; D25's reading (the one that collapses) first.
TARGET_READINGS = ("differentiated", "detached")


@dataclass(frozen=True)
class ToySettings:
    """Linear neurons y = w·x with 2-D weights around two nearby centres (D25 Sec. 5, Fig. 2).

    The number of stimuli and DECEMber's ν come from the config; the population and the schedule are D25's
    where D25 states them (8000 stimuli, 2000 / 500 neurons, 25 MSE epochs, then the KL alone).
    """

    stimuli: int
    nu: float
    sizes: tuple[int, int] = (2000, 500)
    centres: tuple[tuple[float, float], tuple[float, float]] = ((0.0, 0.0), (0.6, 0.0))
    spread: float = 0.1  # per-dimension sd of the weights around their centre
    noise: float = 0.5  # sd of the response noise
    pretrain_epochs: int = 25  # D25: "pretrained a linear regression model ... for 25 epochs by minimizing the MSE"
    batch_size: int = 500
    pretrain_lr: float = 0.05
    # The clustering phase (D25: "continued training, minimizing only the KL divergence"; D25 gives no
    # optimizer or rate): plain gradient descent on the KL summed over neurons (DEC's and D25's trainer's
    # KLDivLoss(size_average=False)), weights and DEC's centres trained, target P recomputed every step.
    cluster_steps: int = 100
    cluster_lr: float = 0.001
    kmeans_n_init: int = 20  # both methods start from k-means on the pretrained weights (DEC, D25)
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
    """Vanilla DEC (Xie et al. 2016, D25 Eq. 2.1): Student-t kernel, ν = 1, unit scale, normalized over clusters."""
    kernel = 1.0 / (1.0 + torch.cdist(weights, centres) ** 2)
    return kernel / kernel.sum(dim=1, keepdim=True)


def toy_kl(q: torch.Tensor, reading: str) -> torch.Tensor:
    """Σ_ik p_ik log(p_ik / q_ik) with DEC's target p = P(q) (D25 Eq. 2.2), summed over neurons.

    reading 'differentiated': the gradient flows through P(q) as well; 'detached': P is a constant.
    """
    if reading not in TARGET_READINGS:
        raise DecemberError(f"unknown target reading {reading!r}; expected one of {TARGET_READINGS}")
    q = q.clamp_min(PROBABILITY_FLOOR)
    p = target_distribution(q)
    if reading == "detached":
        p = p.detach()
    p = p.clamp_min(PROBABILITY_FLOOR)
    return (p * (torch.log(p) - torch.log(q))).sum()


def toy_cluster(weights: torch.Tensor, settings: ToySettings, method: str, reading: str) -> dict[str, np.ndarray]:
    """Only the clustering loss from the pretrained weights: 'dec' learns its centres by gradient,
    'december' updates means and scales by EM after each step. Returns final weights, labels, the centre
    path (steps + 1, 2, 2) and the distance between the two centres at every step."""
    if method not in TOY_METHODS:
        raise DecemberError(f"unknown toy clustering method {method!r}; expected one of {TOY_METHODS}")
    nu = settings.nu
    x = weights.clone().requires_grad_(True)
    means, scales, _ = kmeans_init(weights.numpy(), len(settings.sizes), settings.kmeans_n_init, settings.seed)
    means = torch.as_tensor(means, dtype=torch.float32)
    scales = torch.as_tensor(scales, dtype=torch.float32)
    parameters = [x]
    if method == "dec":
        means.requires_grad_(True)
        parameters.append(means)
    optimizer = torch.optim.SGD(parameters, lr=settings.cluster_lr)
    path = [means.detach().clone()]
    for _ in range(settings.cluster_steps):
        optimizer.zero_grad()
        q = _dec_assignments(x, means) if method == "dec" else soft_assignments(x, means, scales, nu)
        toy_kl(q, reading).backward()
        optimizer.step()
        if method == "december":
            means, scales = em_step(x.detach(), q.detach().clamp_min(PROBABILITY_FLOOR), means, scales, nu)
        path.append(means.detach().clone())
    with torch.no_grad():
        q = _dec_assignments(x, means) if method == "dec" else soft_assignments(x, means, scales, nu)
    centre_path = torch.stack(path).numpy()
    return {"weights": x.detach().numpy(), "labels": q.argmax(dim=1).numpy(), "centre_path": centre_path,
            "centre_distance": np.linalg.norm(centre_path[:, 0] - centre_path[:, 1], axis=1)}


def toy_example(settings: ToySettings) -> dict[str, np.ndarray]:
    """D25 Fig. 2: the population, the pretrained weights, and the outcome of DEC and of DECEMber under
    both readings of the target, keys `<method>_<reading>_<what>`.

    Per method and reading: final weights, labels, centre path (steps + 1, 2, 2), centre distance
    (steps + 1), cluster sizes and the ARI with the true clusters.
    """
    torch.manual_seed(settings.seed)
    population = toy_population(settings)
    pretrained = toy_pretrain(population, settings)
    result = {"true_weights": population["weights"], "true_cluster": population["cluster"],
              "true_centres": np.asarray(settings.centres), "pretrained": pretrained.numpy()}
    for reading in TARGET_READINGS:
        for method in TOY_METHODS:
            outcome = toy_cluster(pretrained, settings, method, reading)
            name = f"{method}_{reading}"
            result.update({f"{name}_{key}": value for key, value in outcome.items()})
            result[f"{name}_sizes"] = np.bincount(outcome["labels"], minlength=len(settings.sizes))
            result[f"{name}_ari"] = np.array(adjusted_rand_score(population["cluster"], outcome["labels"]))
            distance = outcome["centre_distance"]
            log.info("toy %s, target %s: centre distance %.3f -> %.3f (5 steps) -> %.3f (20) -> %.3f (end); "
                     "sizes %s, ARI %.3f, final centres %s", method, reading, distance[0],
                     distance[min(5, len(distance) - 1)], distance[min(20, len(distance) - 1)], distance[-1],
                     result[f"{name}_sizes"].tolist(), result[f"{name}_ari"],
                     outcome["centre_path"][-1].round(3).tolist())
    return result
