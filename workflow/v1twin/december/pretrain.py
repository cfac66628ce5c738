"""D25's pretraining as the first PE epochs of the converged baseline run, and the model loss that sets β.

D25 (Sec. 4, l. 53-55) "pretrained the baseline model for PE epochs" before switching the loss on,
and compares with "the fully converged default model" (l. 62). Here both are one run: the pretraining
is a *replay* of the baseline's `training_run` (same variant, seed, data and training settings, hence
the same initialization, batch order and early-stopping state) stopped after PE epochs, keeping the
weights after the last optimizer step of epoch PE. Why a replay and not snapshots saved during the
baseline run: the baseline stays the plain training stage's run (no DECEMber-specific outputs in
`models/`, no PE list baked into every variant's training), a PE added later costs PE epochs instead
of retraining the baseline, and on the CPU the replay is bitwise the baseline's first PE epochs, which
the pretraining job checks against the baseline's training_log.csv and records
(`baseline_history_max_difference`, 0 on the CPU; cuDNN's nondeterminism can make it small but
nonzero on a GPU).
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from v1twin import training
from v1twin.december import DecemberError
from v1twin.files import read_table
from v1twin.model_run import RunFiles, finish_run
from v1twin.models import V1Model, build_model

log = logging.getLogger(__name__)

COMPARED_COLUMNS = ("train_loss", "val_correlation", "lr")  # the history columns a replay reproduces


class LastStepWeights:
    """A `training.StepExtension` that changes nothing and keeps the weights after the latest optimizer step.

    Its loss is a zero leaf (no gradient reaches the model, the summed objective gains exactly 0.0) and it
    draws no random numbers, so training with it is bitwise training without it. `train` restores the
    best weights when it stops; `weights` are the last step's, i.e. those of the last epoch.
    """

    def __init__(self) -> None:
        self.weights: dict[str, torch.Tensor] | None = None

    def start(self, model: V1Model) -> None:
        self.weights = None

    def loss(self, model: V1Model) -> torch.Tensor:
        return torch.zeros((), requires_grad=True)

    def after_step(self, model: V1Model) -> None:
        self.weights = {key: value.detach().clone() for key, value in model.state_dict().items()}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def read_history(path: str | Path) -> pd.DataFrame:
    """A training_log.csv with the columns a replay reproduces (an unreadable one is named)."""
    return read_table(path, COMPARED_COLUMNS, DecemberError)


def history_difference(replay: list[dict[str, float]], baseline: pd.DataFrame) -> float:
    """Largest absolute difference of train loss, validation correlation and lr between the replay's
    epochs and the same epochs of the baseline's history (training_log.csv); inf if the baseline has fewer."""
    if len(baseline) < len(replay):
        return float("inf")
    ours = pd.DataFrame(replay)[list(COMPARED_COLUMNS)].to_numpy(dtype=float)
    theirs = baseline.iloc[:len(replay)][list(COMPARED_COLUMNS)].to_numpy(dtype=float)
    return float(np.max(np.abs(ours - theirs))) if len(ours) else 0.0


def replay_pretraining(
    files: RunFiles,
    variant: dict[str, Any],
    data: dict,
    config: training.TrainingConfig,
    *,
    pe: int,
    seed: int,
    image_scale: float,
    rates: dict[str, np.ndarray] | None,
    input_digests: list[str],
    baseline_history: pd.DataFrame,
) -> dict[str, Any]:
    """The baseline run `variant`/`seed` (built and trained as `model_run.train_new_run` does) stopped after
    `pe` epochs, with the weights of epoch PE; finished like every run. Returns the metrics."""
    training.seed_everything(seed)
    mice_info = {name: training.mouse_info(mouse) for name, mouse in data.items()}
    model = build_model(variant, mice_info, next(iter(data.values())).input_shape)
    watcher = LastStepWeights()
    replay = dataclasses.replace(config, max_epochs=pe)
    result = training.train(model, data, replay, files.folder, seed, variant, history_path=files.history,
                            extension=watcher, input_digests=input_digests)
    if result.epochs != pe or watcher.weights is None:
        raise DecemberError(f"the baseline's training stopped after {result.epochs} epochs, before PE = {pe} "
                            f"(or the replay was resumed after it ended: remove {files.folder})")
    model.load_state_dict(watcher.weights)
    difference = history_difference(result.history, baseline_history)
    log.info("pretraining: %d epochs; largest difference from the baseline's first %d epochs: %g", pe, pe, difference)
    if difference != 0:
        log.warning("the replay differs from the baseline's history by up to %g (expected 0 on the CPU)", difference)
    return finish_run(files, model, data, variant, seed=seed, image_scale=image_scale, config=replay, result=result,
                      rates=rates, summary={"pretrain_epochs": pe, "baseline_history_max_difference": difference,
                                            "kept_epoch": pe})


@torch.no_grad()
def model_loss_per_step(model: V1Model, data: dict, batch_size: int) -> float:
    """The training objective per optimizer step of the model as it is (D25: β is set relative to the
    model loss at the start of training with the loss): Σ over mice of the mean over the mouse's training
    batches (consecutive, `batch_size`) of its scaled Poisson loss plus its regularizers
    (`training.mouse_objective`), in eval mode (mean readout positions) and without changing any state."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total = 0.0
    try:
        for mouse in data.values():
            idx = torch.as_tensor(mouse.indices("train"))
            values = [training.mouse_objective(model, mouse, batch, len(idx), device).item()
                      for batch in idx.split(batch_size)]
            total += float(np.mean(values))
    finally:
        model.train(was_training)
    return total
