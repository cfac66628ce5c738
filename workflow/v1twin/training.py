"""Training, evaluation and saving of V1 models (METHODS §2 loss, §3 training and measures).

A cluster job may be killed at its time limit, so `train` checkpoints every epoch (and after the
current step when SLURM warns of the time limit, v1twin.walltime) and resumes from that checkpoint.
Resuming must not change the result: every random draw during training (batch order, the readout's
position sampling) comes from torch generators whose states are part of the checkpoint, so a resumed
run ends with bitwise the same weights as an uninterrupted one (CPU).
"""

from __future__ import annotations

import csv
import functools
import json
import logging
import math
import os
import random
import socket
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np
import pandas as pd
import torch

from v1twin import metrics, walltime
from v1twin.data import MouseTensors
from v1twin.files import atomic_file
from v1twin.models import MouseInfo, V1Model, build_model
from v1twin.progress import progress_bar

log = logging.getLogger(__name__)

STATE_FILE = "training_state.pt"
HISTORY_COLUMNS = ("epoch", "train_loss", "val_correlation", "lr", "seconds")
POISSON_EPS = 1e-8
EVAL_BATCH_SIZE = 256
MODEL_FORMAT_VERSION = 1


class TrainingError(RuntimeError):
    """Training cannot go on: a non-finite objective, or a checkpoint that belongs to another run."""


@dataclass(frozen=True)
class TrainingConfig:
    """The `training:` settings; the defaults are the R24 values (METHODS §3)."""

    batch_size: int = 64
    lr: float = 0.005
    max_epochs: int = 100
    patience: int = 5
    tolerance: float = 1e-6
    lr_decay_factor: float = 0.3
    lr_decay_steps: int = 4
    min_lr: float = 1e-4
    position_network_lr_factor: float = 1.0  # L21's full rate; see make_optimizer

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> TrainingConfig:
        """Defaults overridden by `values`; a misspelt key would silently do nothing, so it is an error."""
        values = dict(values or {})
        known = {field.name for field in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown training config key(s) {unknown}; known keys: {sorted(known)}")
        return cls(**values)

    def __post_init__(self) -> None:
        for name in ("batch_size", "max_epochs", "patience", "lr_decay_steps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"training.{name} must be a positive integer, got {value!r}")
        for name in ("lr", "min_lr", "lr_decay_factor", "tolerance", "position_network_lr_factor"):
            value = getattr(self, name)
            # YAML reads 1e-4 (no dot) as a string: say so instead of failing on a comparison later
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"training.{name} must be a number, got {value!r} (write e.g. 1.0e-4 in YAML)")
        for name in ("lr", "min_lr", "lr_decay_factor", "position_network_lr_factor"):
            if getattr(self, name) <= 0:
                raise ValueError(f"training.{name} must be positive, got {getattr(self, name)!r}")
        if self.tolerance < 0:
            raise ValueError(f"training.tolerance must be non-negative, got {self.tolerance!r}")


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


DEVICE_SETTINGS = ("auto", "cuda", "cpu")
_device_setting = "auto"


class DeviceError(RuntimeError):
    """The config asks for CUDA and this node has none: fail before hours of compute on the CPU."""


def configure_device(setting: str) -> torch.device:
    """Set this process's device from the config's `device` and return it; GPU rule scripts call this first.

    auto: a GPU if one is usable, else the CPU; cuda: a GPU or a DeviceError naming the node; cpu: the CPU.
    Every later default_device() returns the same device.
    """
    global _device_setting
    if setting not in DEVICE_SETTINGS:
        raise ValueError(f"device must be one of {DEVICE_SETTINGS}, got {setting!r}")
    _device_setting = setting
    default_device.cache_clear()
    return default_device()


@functools.cache
def default_device() -> torch.device:
    """The device of this process (see configure_device; auto when not configured), chosen once.

    Of the visible GPUs, the one with the most free memory: Snakemake does not tell a job which GPU to
    use, so on a workstation run with `--resources gpu=N`, jobs starting at different times spread
    over the GPUs instead of all landing on the first. Under SLURM, CUDA_VISIBLE_DEVICES shows only
    the job's own GPU. Jobs starting in the same second may still pick the same GPU;
    CUDA_VISIBLE_DEVICES pins a job.
    """
    if _device_setting == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        if _device_setting == "cuda":
            raise DeviceError(
                f"the config asks for device: cuda, but CUDA is not available on node {socket.gethostname()} "
                f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', '<unset>')}, torch "
                f"{torch.__version__} built for CUDA {torch.version.cuda or 'none: a CPU-only build'}). "
                "Check that the job got a GPU, or set device: auto or cpu to run on the CPU."
            )
        return torch.device("cpu")
    free = [torch.cuda.mem_get_info(index)[0] for index in range(torch.cuda.device_count())]
    return torch.device("cuda", int(np.argmax(free)))


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


def _mouse_measures(
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


def _average(per_mouse: dict[str, dict[str, float]]) -> dict[str, float]:
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
        per_mouse[name] = _mouse_measures(responses, predictions, mouse.image_ids[idx], rates)
    return {"per_mouse": per_mouse, "mean": _average(per_mouse)}


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
            group["lr"] = max(group["lr"] * self.config.lr_decay_factor,
                              self.config.min_lr * group.get("lr_factor", 1.0))
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


def make_optimizer(model: V1Model, lr: float, position_network_lr_factor: float = 1.0) -> torch.optim.Adam:
    """Adam over the model's parameters, with the retinotopic position networks at a fraction of lr.

    Adam moves every weight by about lr per step, and each weight of a position network moves the
    read positions of all neurons of a mouse at once. How much rate the shared map tolerates depends
    on the steps per epoch: the demo (batch 16, lr 0.01) drove it into the edge of the grid, where
    its tanh saturates (validation correlation 0.17–0.55 after 8 epochs), and needs 1/20 (0.69–0.71);
    at paper scale (batch 128, lr 0.005) the full rate learned the retinotopy within 5 epochs and
    1/20 lagged (20 epochs: 0.71–0.74 vs 0.67–0.72). Each group keeps its factor through the decay.
    """
    groups = {"main": [], "position_network": []}
    for name, parameter in model.named_parameters():
        groups["position_network" if ".position_network." in name else "main"].append(parameter)
    param_groups = [{"params": groups["main"], "lr": lr, "lr_factor": 1.0}]
    if groups["position_network"]:
        param_groups.append({"params": groups["position_network"], "lr": lr * position_network_lr_factor,
                             "lr_factor": position_network_lr_factor})
    return torch.optim.Adam(param_groups, lr=lr)


def _batch_schedule(
    data: dict[str, MouseTensors], batch_size: int, generator: torch.Generator
) -> dict[str, list[torch.Tensor]]:
    """Each mouse's batches for one epoch, all as long as the longest mouse's list.

    A mouse with fewer batches starts over with a fresh shuffle when it runs out.
    """
    train_idx = {name: torch.as_tensor(mouse.indices("train")) for name, mouse in data.items()}
    n_steps = max(math.ceil(len(idx) / batch_size) for idx in train_idx.values())
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
    schedule = _batch_schedule(data, config.batch_size, generator)
    n_steps = len(next(iter(schedule.values())))
    first, total = (interrupted["step"], interrupted["total"]) if interrupted is not None else (0, 0.0)
    model.train()
    for step in progress_bar(range(first, n_steps), desc=f"epoch {epoch}", unit="step", leave=False):
        optimizer.zero_grad(set_to_none=True)
        for name, mouse in data.items():
            objective = mouse_objective(model, mouse, schedule[name][step], n_train[name], device)
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


# ----------------------------------------------------------------------------------------------
# Checkpointing


def plain_json(value: Any) -> Any:
    """A JSON round trip: the run's identity compares equal however the config was spelt (tuples, YAML types)."""
    return json.loads(json.dumps(value, sort_keys=True))


def _atomic_save(content: Any, path: Path) -> None:
    """torch.save through a temporary file: a killed job never leaves a half-written file."""
    with atomic_file(path) as temporary:
        torch.save(content, temporary)


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
    _atomic_save(
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
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise TrainingError(f"cannot read training state {path} ({error}); delete it to start afresh") from error
    stored = state.get("identity") if isinstance(state, dict) else None
    if stored != identity:
        raise TrainingError(
            f"training state {path} belongs to a different run (variant config, seed, training settings, mice "
            f"or the contents of its input files differ): stored {stored}, this run {identity}. "
            "Delete the file to start afresh."
        )
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
) -> TrainingResult:
    """Train until early stopping or max_epochs; the model ends with the best validation weights.

    The state is checkpointed to <workdir>/training_state.pt after every epoch, and after the current
    step when a stop is requested (v1twin.walltime), and resumed from there when the file exists and
    belongs to the same run (variant config, seed, training settings, mice and `input_digests`:
    files.content_digest of what the run starts from, e.g. the data caches and a source model; put the
    extension's settings into `variant_config`, which only names the run). `on_epoch_end(epoch)` runs
    after each checkpoint. An `extension` adds a loss and an update to every step (see StepExtension);
    its state ends as the one of the best weights.
    """
    _check_tiers(data)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    state_path = workdir / STATE_FILE
    identity = plain_json({"variant": variant_config, "seed": seed, "training": asdict(config), "mice": list(data),
                           "inputs": list(input_digests)})
    model.to(default_device())
    optimizer = make_optimizer(model, config.lr, config.position_network_lr_factor)
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
                                      progress.interrupted, save_interrupted)
            score = validation_correlation(model, data)
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


# ----------------------------------------------------------------------------------------------
# Saved models


def _storable(value: Any) -> Any:
    """Numpy arrays and scalars as tensors / Python numbers, so torch.load(weights_only=True) accepts them."""
    if isinstance(value, dict):
        return {key: _storable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_storable(item) for item in value]
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value))  # a copy: memory-mapped arrays are read-only
    if isinstance(value, np.generic):
        return value.item()
    return value


def _as_numpy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _as_numpy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_numpy(item) for item in value]
    if isinstance(value, torch.Tensor):
        return value.numpy()
    return value


def save_model(
    path: Path,
    model: V1Model,
    variant_config: dict[str, Any],
    mice_info: dict[str, MouseInfo],
    input_shape: tuple[int, int, int],
    extras: dict[str, Any] | None = None,
) -> None:
    """Write model.pt: everything needed to rebuild the model without the data, plus `extras`.

    `extras` holds what later stages need besides the weights (e.g. unit ids, behaviour medians,
    seed); numpy arrays in it come back as numpy arrays from `load_checkpoint`.
    """
    content = {
        "format_version": MODEL_FORMAT_VERSION,
        "variant": plain_json(variant_config),
        "input_shape": [int(size) for size in input_shape],
        "mice": {
            name: {
                "n_neurons": int(info.n_neurons),
                "cell_motor_coordinates": torch.from_numpy(np.array(info.cell_motor_coordinates)),
                "mean_response": torch.from_numpy(np.array(info.mean_response)),
            }
            for name, info in mice_info.items()
        },
        "state_dict": _cpu_copy(model.state_dict()),
        "extras": _storable(extras or {}),
    }
    _atomic_save(content, Path(path))


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The saved content of model.pt, with every tensor outside the weights as a numpy array."""
    path = Path(path)
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"cannot read model file {path}: {error}") from error
    if not isinstance(content, dict) or content.get("format_version") != MODEL_FORMAT_VERSION:
        raise ValueError(f"{path} is not a v1twin model file (format version {MODEL_FORMAT_VERSION})")
    return {
        **content,
        "mice": _as_numpy(content["mice"]),
        "extras": _as_numpy(content["extras"]),
        "input_shape": tuple(content["input_shape"]),
    }


def load_model(path: Path, device: torch.device | None = None) -> V1Model:
    """Rebuild the model saved by `save_model` with build_model and its weights, in evaluation mode."""
    content = load_checkpoint(path)
    mice_info = {
        name: MouseInfo(
            n_neurons=info["n_neurons"],
            cell_motor_coordinates=info["cell_motor_coordinates"],
            mean_response=info["mean_response"],
        )
        for name, info in content["mice"].items()
    }
    model = build_model(content["variant"], mice_info, content["input_shape"])
    model.load_state_dict(content["state_dict"])
    return model.to(device or default_device()).eval()


def behavior_medians(data: dict[str, MouseTensors]) -> dict[str, np.ndarray]:
    """Training-set median of the normalized behaviour per mouse: the in-silico experiments' setting."""
    return {
        name: np.median(mouse.behavior[torch.as_tensor(mouse.indices("train"))].numpy(), axis=0)
        for name, mouse in data.items()
    }


def performance_table(metrics_files: list[str | Path], runs: list[tuple[str, int]]) -> pd.DataFrame:
    """One row per (variant, seed, mouse) from the metrics.json files; mouse 'mean' is the average.

    The run-level numbers (epochs, best validation correlation, training time) are repeated on every
    row of their run, so each row can be plotted on its own.
    """
    rows = []
    for path, (variant, seed) in zip(metrics_files, runs, strict=True):
        metrics = json.loads(Path(path).read_text())
        run = {key: metrics[key] for key in ("epochs", "best_epoch", "best_val_correlation", "train_seconds")}
        per_mouse = {**metrics["per_mouse"], "mean": metrics["mean"]}
        for mouse, measures in per_mouse.items():
            rows.append({"variant": variant, "seed": seed, "mouse": mouse, **measures, **run})
    return pd.DataFrame(rows)
