"""A model run, the unit every stage shares: train (or resume), evaluate, save, load.

Training a variant, continuing a model with DECEMber's loss, fine-tuning a pruned model and a transfer
run all end the same way (`finish_run`): test measures, model.pt with the standard extras every later
stage relies on (`STANDARD_EXTRAS`), the training history, metrics.json, and the resumable state
removed. Later stages read a run back with `load_run`, `read_model_file` and `read_metrics`.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from v1twin import checkpoint, training
from v1twin.data.tensors import MouseTensors
from v1twin.device import default_device
from v1twin.files import read_json, write_json
from v1twin.models import MouseInfo, V1Model, build_model

log = logging.getLogger(__name__)

MODEL_FORMAT_VERSION = 1
# What model.pt's extras hold for every run, whichever stage wrote it.
STANDARD_EXTRAS = ("seed", "image_scale", "training", "mice", "unit_ids", "behavior_median")
RUN_SUMMARY = ("epochs", "best_epoch", "best_val_correlation", "train_seconds")


class RunFileError(ValueError):
    """A model or metrics file that cannot be read or does not fit its data; the message names the file."""


@dataclass(frozen=True)
class RunFiles:
    """Where a run writes: model.pt, its training history and (optional) metrics.json, and the
    resumable state beside model.pt (not a declared output: Snakemake deletes a failed job's outputs)."""

    model: Path
    history: Path
    metrics: Path | None = None

    @property
    def folder(self) -> Path:
        return Path(self.model).parent


def run_summary(result: training.TrainingResult) -> dict[str, Any]:
    """The numbers of a finished training every metrics.json and model.pt carry."""
    return {"epochs": result.epochs, "best_epoch": result.best_epoch, "best_val_correlation": result.best_score,
            "train_seconds": result.seconds}


def finish_run(
    files: RunFiles,
    model: V1Model,
    data: dict[str, MouseTensors],
    variant: dict[str, Any],
    *,
    seed: int,
    image_scale: float,
    config: training.TrainingConfig,
    result: training.TrainingResult,
    rates: dict[str, np.ndarray] | None = None,
    summary: dict[str, Any] | None = None,
    extras: dict[str, Any] | None = None,
    leftovers: tuple[str, ...] = (),
    kind: training.DataKind = training.STATIC,
) -> dict[str, Any]:
    """Evaluate the trained model on the test tier, write every output of the run, remove its state.

    `summary` adds run numbers to metrics.json and the extras; `extras` adds (or overrides) model.pt
    extras; `leftovers` names further progress files or folders in the run's folder to remove; `kind` is the
    data's (training.DataKind: static images by default). Returns metrics.
    """
    scores = kind.evaluate(model, data, rates)
    log.info("test measures (mean over mice): %s", scores["mean"])
    summary = {**run_summary(result), **(summary or {})}
    standard = {"seed": seed, "image_scale": float(image_scale), "training": asdict(config), "mice": list(data),
                "unit_ids": {name: mouse.unit_ids for name, mouse in data.items()},
                "behavior_median": behavior_medians(data, kind)}
    mice_info = {name: kind.mouse_info(mouse) for name, mouse in data.items()}
    input_shape = next(iter(data.values())).input_shape
    save_model(files.model, model, variant, mice_info, input_shape, {**summary, **standard, **(extras or {})})
    training.write_history(files.history, result.history)
    metrics = {**scores, **summary}
    if files.metrics is not None:
        write_json(files.metrics, metrics)
    for name in (training.STATE_FILE, *leftovers):
        leftover = files.folder / name
        shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink(missing_ok=True)
    log.info("wrote %s", files.model)
    return metrics


def train_new_run(
    files: RunFiles,
    variant: dict[str, Any],
    data: dict[str, MouseTensors],
    config: training.TrainingConfig,
    *,
    seed: int,
    image_scale: float,
    rates: dict[str, np.ndarray] | None,
    input_digests: list[str],
    kind: training.DataKind = training.STATIC,
) -> dict[str, Any]:
    """Build `variant` from `seed`, train it (resuming its state if there is one) and finish the run:
    the training stage's job and DECEMber's pretraining. Returns the metrics."""
    training.seed_everything(seed)
    mice_info = {name: kind.mouse_info(mouse) for name, mouse in data.items()}
    model = build_model(variant, mice_info, next(iter(data.values())).input_shape)
    n_parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log.info("variant %s, seed %d, mice %s, %d parameters, device %s", variant, seed, list(data), n_parameters,
             default_device())
    result = training.train(model, data, config, files.folder, seed, variant, history_path=files.history,
                            input_digests=input_digests, kind=kind)
    return finish_run(files, model, data, variant, seed=seed, image_scale=image_scale, config=config, result=result,
                      rates=rates, summary={"n_parameters": n_parameters}, kind=kind)


def behavior_medians(data: dict[str, MouseTensors],
                     kind: training.DataKind = training.STATIC) -> dict[str, np.ndarray]:
    """Training-set median of the normalized behaviour per mouse: the in-silico experiments' setting."""
    return {name: kind.behavior_median(mouse) for name, mouse in data.items()}


# ----------------------------------------------------------------------------------------------
# model.pt


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
    seed); numpy arrays in it come back as numpy arrays from `read_model_file`.
    """
    content = {
        "format_version": MODEL_FORMAT_VERSION,
        "variant": checkpoint.plain_json(variant_config),
        "input_shape": [int(size) for size in input_shape],
        "mice": {
            name: {
                "n_neurons": int(info.n_neurons),
                "cell_motor_coordinates": torch.from_numpy(np.array(info.cell_motor_coordinates)),
                "mean_response": torch.from_numpy(np.array(info.mean_response)),
            }
            for name, info in mice_info.items()
        },
        "state_dict": {key: value.detach().to("cpu", copy=True) for key, value in model.state_dict().items()},
        "extras": _storable(extras or {}),
    }
    checkpoint.save(content, Path(path))


def read_model_file(path: str | Path) -> dict[str, Any]:
    """The saved content of model.pt, with every tensor outside the weights as a numpy array."""
    path = Path(path)
    try:
        content = checkpoint.load(path, "model file")
    except checkpoint.CheckpointError as error:
        raise RunFileError(str(error)) from error
    if not isinstance(content, dict) or content.get("format_version") != MODEL_FORMAT_VERSION:
        raise RunFileError(f"{path} is not a v1twin model file (format version {MODEL_FORMAT_VERSION})")
    return {
        **content,
        "mice": _as_numpy(content["mice"]),
        "extras": _as_numpy(content["extras"]),
        "input_shape": tuple(content["input_shape"]),
    }


def _rebuild(content: dict[str, Any], device: torch.device | None) -> V1Model:
    mice_info = {name: MouseInfo(**info) for name, info in content["mice"].items()}
    model = build_model(content["variant"], mice_info, content["input_shape"])
    model.load_state_dict(content["state_dict"])
    return model.to(device or default_device()).eval()


def load_model(path: str | Path, device: torch.device | None = None) -> V1Model:
    """Rebuild the model saved by `save_model` with build_model and its weights, in evaluation mode."""
    return _rebuild(read_model_file(path), device)


@dataclass
class SavedRun:
    """A saved model with the standard extras later stages need (see STANDARD_EXTRAS)."""

    model: V1Model
    variant: dict[str, Any]
    mice: list[str]
    unit_ids: dict[str, np.ndarray]
    behavior_median: dict[str, np.ndarray]
    input_shape: tuple[int, int, int]
    extras: dict[str, Any]


def load_run(path: str | Path, device: torch.device | None = None) -> SavedRun:
    """A model.pt with its standard extras; a file written without them is named and refused."""
    content = read_model_file(path)
    extras = content["extras"]
    missing = [key for key in STANDARD_EXTRAS if key not in extras]
    if missing:
        raise RunFileError(f"{path}: the model file's extras lack {missing}")
    return SavedRun(_rebuild(content, device), content["variant"], list(extras["mice"]), extras["unit_ids"],
                    extras["behavior_median"], content["input_shape"], extras)


def check_unit_ids(model_path: str | Path, data: dict[str, MouseTensors]) -> None:
    """A model must have been trained on exactly the neurons of `data` (same mice, same unit ids)."""
    stored = read_model_file(model_path)["extras"].get("unit_ids", {})
    for name, mouse in data.items():
        if name not in stored or not np.array_equal(np.asarray(stored[name]), np.asarray(mouse.unit_ids)):
            raise RunFileError(f"{model_path}: unit ids of mouse {name} do not match its data")


# ----------------------------------------------------------------------------------------------
# metrics.json


def read_metrics(path: str | Path, required: tuple[str, ...] = ("mean",)) -> dict[str, Any]:
    """A run's metrics.json: test measures ("per_mouse", "mean") and run numbers, `required` among them."""
    return read_json(path, required, RunFileError)


def performance_table(metrics_files: list[str | Path], runs: list[tuple[str, int]]) -> pd.DataFrame:
    """One row per (variant, seed, mouse) from the metrics.json files; mouse 'mean' is the average.

    The run-level numbers (epochs, best validation correlation, training time) are repeated on every
    row of their run, so each row can be plotted on its own.
    """
    rows = []
    for path, (variant, seed) in zip(metrics_files, runs, strict=True):
        metrics = read_metrics(path, ("per_mouse", "mean", *RUN_SUMMARY))
        run = {key: metrics[key] for key in RUN_SUMMARY}
        per_mouse = {**metrics["per_mouse"], "mean": metrics["mean"]}
        for mouse, measures in per_mouse.items():
            rows.append({"variant": variant, "seed": seed, "mouse": mouse, **measures, **run})
    return pd.DataFrame(rows)
