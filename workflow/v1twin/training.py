"""Training and evaluation of V1 models (METHODS §2 loss, §3 training and measures).

A cluster job may be killed at its time limit, so `train` checkpoints every epoch (and after the
current step when SLURM warns of the time limit, v1twin.walltime) and resumes from that checkpoint.
Resuming must not change the result: every random draw during training (batch order, the readout's
position sampling) comes from torch generators whose states are part of the checkpoint, so a resumed
run ends with bitwise the same weights as an uninterrupted one (CPU).
"""

from __future__ import annotations

import csv
import logging
import math
import random
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np
import torch

from v1twin import checkpoint, metrics, walltime
from v1twin.data.tensors import MouseTensors
from v1twin.device import default_device
from v1twin.files import atomic_file
from v1twin.models import MouseInfo, V1Model
from v1twin.progress import progress_bar

log = logging.getLogger(__name__)

STATE_FILE = "training_state.pt"
HISTORY_COLUMNS = ("epoch", "train_loss", "val_correlation", "lr", "seconds")
POISSON_EPS = 1e-8
EVAL_BATCH_SIZE = 256


class TrainingError(RuntimeError):
    """Training cannot go on: a non-finite objective."""


@dataclass(frozen=True)
class TrainingConfig:
    """The `training:` settings, each one required: their defaults (the R24 values, METHODS §3) and
    ranges live in the config schema, which the workflow fills in and checks before any job."""

    batch_size: int
    lr: float
    max_epochs: int
    patience: int
    tolerance: float
    lr_decay_factor: float
    lr_decay_steps: int
    min_lr: float
    position_network_lr_factor: float  # L21's full rate is 1; see make_optimizer

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainingConfig:
        """The settings of a resolved config; a missing or misspelt key is an error, never a silent default."""
        known = [field.name for field in fields(cls)]
        unknown, missing = sorted(set(values) - set(known)), [key for key in known if key not in values]
        if unknown or missing:
            raise ValueError(f"training settings: unknown key(s) {unknown}, missing key(s) {missing}; "
                             f"known keys: {known}")
        return cls(**values)


class StepExtension(Protocol):
    """Extra training behaviour with a state of its own, e.g. DECEMber's clustering loss and EM step.

    `train` calls `start(model)` once when a run begins afresh (not when it resumes), adds
    `loss(model)` to the objective of every optimizer step (after the mice's batches), and calls
    `after_step(model)` after every optimizer step. The state (`state_dict`/`load_state_dict`) is
    checkpointed with the weights and snapshotted and restored together with the best weights, so
    the state always belongs to the weights it came with.
    """

    def start(self, model: V1Model) -> None: ...

    def loss(self, model: V1Model) -> torch.Tensor: ...

    def after_step(self, model: V1Model) -> None: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass
class TrainingResult:
    """What a finished run reports; the model passed to `train` holds the best weights."""

    history: list[dict[str, float]]
    epochs: int
    best_epoch: int
    best_score: float
    seconds: float


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) so model initialization is reproducible."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------------------------
# Loss


def poisson_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Σ over batch and neurons of ŷ − y·log(ŷ + 1e-8): the Poisson negative log-likelihood up to a constant."""
    return (prediction - target * torch.log(prediction + POISSON_EPS)).sum()


def loss_scale(n_train_trials: int, batch_size: int) -> float:
    """sqrt(N_train / B): puts every mouse's batch loss on the scale of its whole training set.

    Without it, mice with many trials would be under-weighted relative to the regularizers.
    """
    return math.sqrt(n_train_trials / batch_size)


def mouse_objective(
    model: V1Model, mouse: MouseTensors, idx: torch.Tensor, n_train_trials: int, device: torch.device
) -> torch.Tensor:
    """One mouse's share of a step: scaled Poisson loss of a batch plus model.regularizer(mouse)."""
    inputs = mouse.inputs(idx).to(device)
    pupil_center = mouse.pupil_center[idx].to(device)
    target = mouse.responses[idx].to(device)
    prediction = model(inputs, mouse.name, pupil_center)
    scale = loss_scale(n_train_trials, len(idx))
    return scale * poisson_loss(prediction, target) + model.regularizer(mouse.name)


# ----------------------------------------------------------------------------------------------
# Prediction and evaluation


def mouse_info(mouse: MouseTensors) -> MouseInfo:
    """What build_model needs about a mouse; the bias starts at the mean training response."""
    train = torch.as_tensor(mouse.indices("train"))
    return MouseInfo(
        n_neurons=mouse.n_neurons,
        cell_motor_coordinates=np.asarray(mouse.cell_motor_coordinates),
        mean_response=mouse.responses[train].mean(dim=0).numpy(),
    )


@torch.no_grad()
def predict(
    model: V1Model, mouse: MouseTensors, idx: np.ndarray, batch_size: int = EVAL_BATCH_SIZE
) -> np.ndarray:
    """Model responses (len(idx), N) in evaluation mode (readout at its mean positions)."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    idx = np.asarray(idx)
    outputs = []
    for start in range(0, len(idx), batch_size):
        batch = torch.as_tensor(idx[start:start + batch_size])
        inputs = mouse.inputs(batch).to(device)
        outputs.append(model(inputs, mouse.name, mouse.pupil_center[batch].to(device)).cpu())
    model.train(was_training)
    if not outputs:
        return np.zeros((0, mouse.n_neurons), dtype=np.float32)
    return torch.cat(outputs).numpy()


def validation_correlation(
    model: V1Model, data: dict[str, MouseTensors], batch_size: int = EVAL_BATCH_SIZE
) -> float:
    """Single-trial validation correlation averaged over all neurons of all mice (the early-stopping score)."""
    per_neuron = []
    for mouse in data.values():
        idx = mouse.indices("validation")
        responses = mouse.responses[torch.as_tensor(idx)].numpy()
        per_neuron.append(metrics.correlation(responses, predict(model, mouse, idx, batch_size)))
    return float(np.concatenate(per_neuron).mean())


def _has_repeats(image_ids: np.ndarray) -> bool:
    return image_ids.size > 0 and np.unique(image_ids, return_counts=True)[1].max() >= 2


def tier_measures(
    responses: np.ndarray, predictions: np.ndarray, image_ids: np.ndarray, rates: np.ndarray | None
) -> dict[str, float]:
    """Every measure of METHODS §3 for one mouse; repeat-based ones are NaN on a tier without repeats."""
    single_trial = metrics.correlation(responses, predictions)
    measures: dict[str, float] = {
        "single_trial_correlation": float(single_trial.mean()),
        "n_neurons": responses.shape[1],
        "n_trials": responses.shape[0],
    }
    if _has_repeats(image_ids):
        feve, kept = metrics.feve(responses, predictions, image_ids)
        oracle = metrics.jackknife_oracle(responses, image_ids)
        measures.update(
            correlation_to_average=float(metrics.correlation_to_average(responses, predictions, image_ids).mean()),
            feve=float(feve[kept].mean()) if kept.any() else float("nan"),
            n_neurons_feve=int(kept.sum()),
            oracle=float(oracle.mean()),
            fraction_oracle=metrics.fraction_oracle(single_trial, oracle),
        )
    else:
        nan = float("nan")
        measures.update(correlation_to_average=nan, feve=nan, n_neurons_feve=0, oracle=nan, fraction_oracle=nan)
    if rates is not None:
        measures["ground_truth_correlation"] = float(metrics.correlation(rates, predictions).mean())
    return measures


def average_measures(per_mouse: dict[str, dict[str, float]]) -> dict[str, float]:
    """Mean over mice of each measure (ignoring NaN); counts (`n_*`) are summed instead."""
    summary: dict[str, float] = {}
    for key in next(iter(per_mouse.values())):
        values = np.array([measures[key] for measures in per_mouse.values()], dtype=np.float64)
        if key.startswith("n_"):
            summary[key] = int(values.sum())
        else:
            finite = values[~np.isnan(values)]
            summary[key] = float(finite.mean()) if finite.size else float("nan")
    return summary


def evaluate(
    model: V1Model,
    data: dict[str, MouseTensors],
    tier: str = "test",
    ground_truth: dict[str, np.ndarray] | None = None,
    batch_size: int = EVAL_BATCH_SIZE,
) -> dict[str, dict]:
    """All measures on one tier: {"per_mouse": {mouse: measures}, "mean": measures averaged over mice}.

    ground_truth maps a mouse to its noise-free rates (T, N) in stored trial order (simulated data);
    where given, the correlation of predictions with those rates is reported too.
    """
    per_mouse = {}
    for name, mouse in data.items():
        idx = mouse.indices(tier)
        if idx.size == 0:
            raise ValueError(f"mouse {name} has no trials in tier {tier!r}")
        responses = mouse.responses[torch.as_tensor(idx)].numpy()
        rates = None
        if ground_truth is not None:
            if ground_truth[name].shape != tuple(mouse.responses.shape):
                raise ValueError(
                    f"ground-truth rates of mouse {name} have shape {ground_truth[name].shape}, "
                    f"responses {tuple(mouse.responses.shape)}"
                )
            rates = np.asarray(ground_truth[name])[idx]
        predictions = predict(model, mouse, idx, batch_size)
        per_mouse[name] = tier_measures(responses, predictions, mouse.image_ids[idx], rates)
    return {"per_mouse": per_mouse, "mean": average_measures(per_mouse)}


# ----------------------------------------------------------------------------------------------
# Kinds of data


class DataKind(Protocol):
    """What `train` and model_run need to know about one kind of data (static images, videos), so both
    share one trainer: the batches of an epoch, a batch's objective, the early-stopping score and the
    final measures. A schedule's batches are drawn at the start of an epoch from the trainer's generator
    (so a resumed epoch draws the same ones); `identity` enters the checkpoint's identity.
    """

    def identity(self) -> dict[str, Any]: ...

    def check(self, data: dict[str, Any]) -> None: ...

    def schedule(self, data: dict[str, Any], batch_size: int, generator: torch.Generator) -> dict[str, list]: ...

    def objective(self, model: V1Model, mouse: Any, batch: Any, n_train_trials: int,
                  device: torch.device) -> torch.Tensor: ...

    def validation_score(self, model: V1Model, data: dict[str, Any]) -> float: ...

    def evaluate(self, model: V1Model, data: dict[str, Any], rates: dict[str, np.ndarray] | None) -> dict: ...

    def mouse_info(self, mouse: Any) -> MouseInfo: ...

    def behavior_median(self, mouse: Any) -> np.ndarray: ...


@dataclass(frozen=True)
class StaticImages:
    """Sensorium 2022 images (`MouseTensors`): shuffled batches of trials, validation correlation, test measures.

    `epoch_steps` (0: one pass) makes an epoch that many optimizer steps when they exceed one pass over the
    largest mouse's training trials, reshuffled at every pass: validation, early stopping and checkpoints
    then come once per `epoch_steps` steps, so a run on a small subset with a fixed step budget (transfer's
    `scale_epochs`) does not spend its time validating after every short pass.
    """

    epoch_steps: int = 0

    def identity(self) -> dict[str, Any]:
        return {"kind": "static", **({"epoch_steps": self.epoch_steps} if self.epoch_steps else {})}

    def check(self, data: dict[str, MouseTensors]) -> None:
        _check_tiers(data)

    def schedule(self, data: dict[str, MouseTensors], batch_size: int,
                 generator: torch.Generator) -> dict[str, list[torch.Tensor]]:
        return batch_schedule(data, batch_size, generator, self.epoch_steps)

    def objective(self, model: V1Model, mouse: MouseTensors, batch: torch.Tensor, n_train_trials: int,
                  device: torch.device) -> torch.Tensor:
        return mouse_objective(model, mouse, batch, n_train_trials, device)

    def validation_score(self, model: V1Model, data: dict[str, MouseTensors]) -> float:
        return validation_correlation(model, data)

    def evaluate(self, model: V1Model, data: dict[str, MouseTensors], rates: dict[str, np.ndarray] | None) -> dict:
        return evaluate(model, data, "test", rates)

    def mouse_info(self, mouse: MouseTensors) -> MouseInfo:
        return mouse_info(mouse)

    def behavior_median(self, mouse: MouseTensors) -> np.ndarray:
        return np.median(mouse.behavior[torch.as_tensor(mouse.indices("train"))].numpy(), axis=0)


STATIC = StaticImages()


# ----------------------------------------------------------------------------------------------
# Early stopping


def _cpu_copy(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {key: value.detach().to("cpu", copy=True) for key, value in state.items()}


class EarlyStopping:
    """Patience-based early stopping with learning-rate decay (METHODS §3).

    An epoch improves when its score exceeds the best by more than `tolerance`. After `patience`
    epochs without improvement the best weights are restored; that is one decay step. After
    `lr_decay_steps` of them training stops; before, the learning rate is multiplied by
    `lr_decay_factor` (not below `min_lr`) and the patience count starts again. Adam's moment
    estimates are kept across a restore.
    """

    def __init__(self, config: TrainingConfig, model: V1Model, extension: StepExtension | None = None):
        self.config = config
        self.extension = extension
        self.best_score = -math.inf
        self.best_epoch = 0
        self.best_weights = _cpu_copy(model.state_dict())
        self.best_extension_state: dict[str, Any] | None = None
        self.epochs_without_improvement = 0
        self.decay_steps = 0

    def update(self, score: float, epoch: int, model: V1Model, optimizer: torch.optim.Optimizer) -> bool:
        """Record one epoch's validation score; True when training should stop."""
        if score > self.best_score + self.config.tolerance:
            self.best_score, self.best_epoch = score, epoch
            self.best_weights = _cpu_copy(model.state_dict())
            if self.extension is not None:
                self.best_extension_state = _cpu_copy(self.extension.state_dict())
            self.epochs_without_improvement = 0
            return False
        self.epochs_without_improvement += 1
        if self.epochs_without_improvement < self.config.patience:
            return False
        self.restore_best(model)
        self.epochs_without_improvement = 0
        self.decay_steps += 1
        if self.decay_steps >= self.config.lr_decay_steps:
            return True
        for group in optimizer.param_groups:
            group["lr"] = max(group["lr"] * self.config.lr_decay_factor, group["min_lr"])
        log.info("epoch %d: no improvement for %d epochs, best weights restored, lr -> %g",
                 epoch, self.config.patience, optimizer.param_groups[0]["lr"])
        return False

    def restore_best(self, model: V1Model) -> None:
        model.load_state_dict(self.best_weights)
        if self.extension is not None and self.best_extension_state is not None:
            self.extension.load_state_dict(self.best_extension_state)

    def state_dict(self) -> dict[str, Any]:
        state = {
            "best_score": self.best_score,
            "best_epoch": self.best_epoch,
            "best_weights": self.best_weights,
            "epochs_without_improvement": self.epochs_without_improvement,
            "decay_steps": self.decay_steps,
        }
        if self.best_extension_state is not None:
            state["best_extension_state"] = self.best_extension_state
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best_score = state["best_score"]
        self.best_epoch = state["best_epoch"]
        self.best_weights = state["best_weights"]
        self.epochs_without_improvement = state["epochs_without_improvement"]
        self.decay_steps = state["decay_steps"]
        self.best_extension_state = state.get("best_extension_state")


# ----------------------------------------------------------------------------------------------
# One epoch


def make_optimizer(model: V1Model, config: TrainingConfig) -> torch.optim.Adam:
    """Adam over the model's parameters, with the retinotopic position networks at a fraction of lr.

    Adam moves every weight by about lr per step, and each weight of a position network moves the
    read positions of all neurons of a mouse at once. How much rate the shared map tolerates depends
    on the steps per epoch: the demo (batch 16, lr 0.01) drove it into the edge of the grid, where
    its tanh saturates (validation correlation 0.17–0.55 after 8 epochs), and needs 1/20 (0.69–0.71);
    at paper scale (batch 128, lr 0.005) the full rate learned the retinotopy within 5 epochs and
    1/20 lagged (20 epochs: 0.71–0.74 vs 0.67–0.72). Each group keeps its factor through the decay:
    its floor `min_lr` is the config's scaled the same way.
    """
    groups = {"main": [], "position_network": []}
    for name, parameter in model.named_parameters():
        groups["position_network" if ".position_network." in name else "main"].append(parameter)
    factors = {"main": 1.0, "position_network": config.position_network_lr_factor}
    param_groups = [{"params": parameters, "lr": config.lr * factors[name], "min_lr": config.min_lr * factors[name]}
                    for name, parameters in groups.items() if parameters]
    return torch.optim.Adam(param_groups, lr=config.lr)


def steps_per_epoch(data: dict[str, MouseTensors], batch_size: int) -> int:
    """Optimizer steps of one epoch: each takes one batch of every mouse, so the mouse with the most
    training trials sets the count."""
    return max(math.ceil(len(mouse.indices("train")) / batch_size) for mouse in data.values())


def batch_schedule(
    data: dict[str, MouseTensors], batch_size: int, generator: torch.Generator, min_steps: int = 0
) -> dict[str, list[torch.Tensor]]:
    """Each mouse's batches for one epoch, all as long as the longest mouse's list (or `min_steps`, if more).

    A mouse with fewer batches starts over with a fresh shuffle when it runs out.
    """
    train_idx = {name: torch.as_tensor(mouse.indices("train")) for name, mouse in data.items()}
    n_steps = max(steps_per_epoch(data, batch_size), min_steps)
    schedule = {}
    for name, idx in train_idx.items():
        batches: list[torch.Tensor] = []
        while len(batches) < n_steps:
            order = idx[torch.randperm(len(idx), generator=generator)]
            batches.extend(order.split(batch_size))
        schedule[name] = batches[:n_steps]
    return schedule


def _train_epoch(
    model: V1Model,
    data: dict[str, MouseTensors],
    optimizer: torch.optim.Optimizer,
    config: TrainingConfig,
    generator: torch.Generator,
    epoch: int,
    extension: StepExtension | None,
    interrupted: dict[str, Any] | None,
    save_interrupted: Callable[[dict[str, Any]], None],
    kind: DataKind,
) -> float:
    """One pass; each step sums one batch per mouse (and the extension's loss) into the gradients,
    then takes one Adam step, then lets the extension update its state.

    When a stop is requested (v1twin.walltime), the epoch ends after the current step:
    `save_interrupted({"shuffle", "step", "total"})` writes the checkpoint, then the job stops. Given
    that dict as `interrupted`, the epoch resumes after its `step`th step, with the batch schedule drawn
    again from the generator state the epoch began with (`shuffle`) and the loss summed so far (`total`).
    Returns the mean objective per step (summed over mice).
    """
    device = next(model.parameters()).device
    n_train = {name: len(mouse.indices("train")) for name, mouse in data.items()}
    if interrupted is not None:
        generator.set_state(interrupted["shuffle"])
    shuffle = generator.get_state()
    schedule = kind.schedule(data, config.batch_size, generator)
    n_steps = len(next(iter(schedule.values())))
    first, total = (interrupted["step"], interrupted["total"]) if interrupted is not None else (0, 0.0)
    model.train()
    for step in progress_bar(range(first, n_steps), desc=f"epoch {epoch}", unit="step", leave=False):
        optimizer.zero_grad(set_to_none=True)
        for name, mouse in data.items():
            objective = kind.objective(model, mouse, schedule[name][step], n_train[name], device)
            value = objective.item()
            if not math.isfinite(value):
                raise TrainingError(f"non-finite objective ({value}) at epoch {epoch}, step {step}, mouse {name}")
            objective.backward()
            total += value
        if extension is not None:
            total += _extension_backward(extension, model, epoch, step)
        optimizer.step()
        if extension is not None:
            extension.after_step(model)
        if walltime.requested():
            save_interrupted({"shuffle": shuffle, "step": step + 1, "total": total})
            walltime.stop(f"in epoch {epoch} after step {step + 1} of {n_steps}")
    return total / n_steps


def _extension_backward(extension: StepExtension, model: V1Model, epoch: int, step: int) -> float:
    """Backpropagate the extension's loss of this step; its value, checked to be finite."""
    loss = extension.loss(model)
    value = loss.item()
    if not math.isfinite(value):
        raise TrainingError(f"non-finite {type(extension).__name__} loss ({value}) at epoch {epoch}, step {step}")
    loss.backward()
    return value


def _rng_state(generator: torch.Generator) -> dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "shuffle": generator.get_state(),
    }


def _set_rng_state(state: dict[str, Any], generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    generator.set_state(state["shuffle"])


@dataclass
class _Progress:
    epoch: int  # the last finished epoch
    history: list[dict[str, float]]
    finished: bool
    interrupted: dict[str, Any] | None = None  # the next epoch, stopped after a step (see _train_epoch)


def _save_state(
    path: Path,
    identity: dict[str, Any],
    progress: _Progress,
    model: V1Model,
    optimizer: torch.optim.Optimizer,
    stopper: EarlyStopping,
    generator: torch.Generator,
) -> None:
    checkpoint.save(
        {
            "identity": identity,
            "epoch": progress.epoch,
            "finished": progress.finished,
            "history": progress.history,
            "interrupted": progress.interrupted,
            "lr": optimizer.param_groups[0]["lr"],
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "early_stopping": stopper.state_dict(),
            "rng": _rng_state(generator),
            "extension": stopper.extension.state_dict() if stopper.extension is not None else None,
        },
        path,
    )


def _load_state(
    path: Path,
    identity: dict[str, Any],
    model: V1Model,
    optimizer: torch.optim.Optimizer,
    stopper: EarlyStopping,
    generator: torch.Generator,
) -> _Progress:
    """Restore a checkpoint of this very run; refuse one written by a different run."""
    state = checkpoint.load_state(path, identity, "training state",
                                  "variant config, seed, training settings, mice or the contents of its input files")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    stopper.load_state_dict(state["early_stopping"])
    if stopper.extension is not None:
        stopper.extension.load_state_dict(state["extension"])
    _set_rng_state(state["rng"], generator)
    interrupted = state.get("interrupted")
    log.info("resumed from %s after epoch %d%s", path, state["epoch"],
             f" and step {interrupted['step']} of epoch {state['epoch'] + 1}" if interrupted else "")
    return _Progress(epoch=state["epoch"], history=state["history"], finished=state["finished"],
                     interrupted=interrupted)


def write_history(path: Path, history: list[dict[str, float]]) -> None:
    """The per-epoch log as CSV (epoch, train_loss, val_correlation, lr, seconds), written atomically."""
    with atomic_file(path) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HISTORY_COLUMNS)
        writer.writeheader()
        writer.writerows(history)


# ----------------------------------------------------------------------------------------------
# The training run


def _check_tiers(data: dict[str, MouseTensors]) -> None:
    if not data:
        raise ValueError("no mice to train on")
    for name, mouse in data.items():
        for tier in ("train", "validation"):
            if mouse.indices(tier).size == 0:
                raise ValueError(f"mouse {name} has no {tier} trials")


def train(
    model: V1Model,
    data: dict[str, MouseTensors],
    config: TrainingConfig,
    workdir: Path,
    seed: int,
    variant_config: dict[str, Any],
    history_path: Path | None = None,
    on_epoch_end: Callable[[int], None] | None = None,
    extension: StepExtension | None = None,
    input_digests: Sequence[str] = (),
    kind: DataKind = STATIC,
) -> TrainingResult:
    """Train until early stopping or max_epochs; the model ends with the best validation weights.

    The state is checkpointed to <workdir>/training_state.pt after every epoch, and after the current
    step when a stop is requested (v1twin.walltime), and resumed from there when the file exists and
    belongs to the same run (variant config, seed, training settings, mice and `input_digests`:
    files.content_digest of what the run starts from, e.g. the data caches and a source model; put the
    extension's settings into `variant_config`, which only names the run). `on_epoch_end(epoch)` runs
    after each checkpoint. An `extension` adds a loss and an update to every step (see StepExtension);
    its state ends as the one of the best weights. `kind` says how to batch, score and check `data`
    (static images by default; `video_training.VideoClips` for video mice).
    """
    kind.check(data)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    state_path = workdir / STATE_FILE
    identity = checkpoint.plain_json({"variant": variant_config, "seed": seed, "training": asdict(config),
                                      "mice": list(data), "inputs": list(input_digests),
                                      "data": kind.identity()})
    model.to(default_device())
    optimizer = make_optimizer(model, config)
    stopper = EarlyStopping(config, model, extension)
    generator = torch.Generator()
    if state_path.exists():
        progress = _load_state(state_path, identity, model, optimizer, stopper, generator)
    else:
        seed_everything(seed)
        generator.manual_seed(seed + 1)  # a stream apart from the global one used by the readout
        progress = _Progress(epoch=0, history=[], finished=False)
        if extension is not None:
            extension.start(model)

    def save_interrupted(interrupted: dict[str, Any]) -> None:
        """The checkpoint of an epoch stopped after a step; `start` is that epoch's (set in the loop)."""
        progress.interrupted = {**interrupted, "seconds": time.perf_counter() - start}
        _save_state(state_path, identity, progress, model, optimizer, stopper, generator)
        log.info("state saved to %s", state_path)

    with progress_bar(total=config.max_epochs, initial=progress.epoch, desc="training", unit="epoch") as bar:
        while not progress.finished:
            epoch = progress.epoch + 1
            start = time.perf_counter() - (progress.interrupted or {}).get("seconds", 0.0)
            lr = optimizer.param_groups[0]["lr"]
            train_loss = _train_epoch(model, data, optimizer, config, generator, epoch, extension,
                                      progress.interrupted, save_interrupted, kind)
            score = kind.validation_score(model, data)
            finished = stopper.update(score, epoch, model, optimizer) or epoch >= config.max_epochs
            if finished:
                stopper.restore_best(model)
            seconds = time.perf_counter() - start
            progress.history.append(
                {"epoch": epoch, "train_loss": train_loss, "val_correlation": score, "lr": lr, "seconds": seconds}
            )
            progress.epoch, progress.finished, progress.interrupted = epoch, finished, None
            _save_state(state_path, identity, progress, model, optimizer, stopper, generator)
            if history_path is not None:
                write_history(Path(history_path), progress.history)
            log.info("epoch %d: train loss %.4f, validation correlation %.4f, lr %g, %.1f s",
                     epoch, train_loss, score, lr, seconds)
            bar.update(1)
            bar.set_postfix(val_corr=f"{score:.4f}", best=f"{stopper.best_score:.4f}")
            if on_epoch_end is not None:
                on_epoch_end(epoch)
    return TrainingResult(
        history=progress.history,
        epochs=progress.epoch,
        best_epoch=stopper.best_epoch,
        best_score=stopper.best_score,
        seconds=float(sum(row["seconds"] for row in progress.history)),
    )


