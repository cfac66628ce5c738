"""Training and evaluation of video models (METHODS §10, Sensorium 2023) through the static trainer.

`VideoClips` is the `training.DataKind` of video mice (`VideoTensors`): every step takes `batch_size`
training trials per mouse, each cut at a random start to `crop_frames` frames, and scores the frames of
each crop after its first `burn_in_frames` (those see the causal core's zero padding). The crop starts
are drawn with the batches at the start of an epoch from the trainer's checkpointed generator, so a
resumed run draws the same crops. Early stopping uses the single-trial correlation ρ_st of the oracle
tier (as the 2023 starter kit does); every trial is then predicted over its whole true length and scored
from frame `scored_from` on.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch

from v1twin import metrics, training
from v1twin.data.video_tensors import VideoTensors
from v1twin.models import MouseInfo, V1Model
from v1twin.progress import progress_bar

log = logging.getLogger(__name__)

VALIDATION_TIER = "oracle"
TEST_TIER = "final_test_main"
EVAL_TRIALS = 8  # trials of one length predicted together


@dataclass(frozen=True)
class VideoSettings:
    """The `video:` config section: frames scored, crop length and burn-in of the training crops."""

    scored_from: int
    crop_frames: int
    burn_in_frames: int

    def __post_init__(self) -> None:
        if not 0 <= self.burn_in_frames < self.crop_frames:
            raise ValueError(f"video settings: burn_in_frames ({self.burn_in_frames}) must be >= 0 and below "
                             f"crop_frames ({self.crop_frames}), or no frame of a crop is scored")
        if self.scored_from < 0:
            raise ValueError(f"video settings: scored_from must be >= 0, got {self.scored_from}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> VideoSettings:
        """The settings of a resolved config; a missing or misspelt key is an error."""
        known = [field.name for field in fields(cls)]
        unknown, missing = sorted(set(values) - set(known)), [key for key in known if key not in values]
        if unknown or missing:
            raise ValueError(f"video settings: unknown key(s) {unknown}, missing key(s) {missing}; known keys: {known}")
        return cls(**{key: int(values[key]) for key in known})


# ----------------------------------------------------------------------------------------------
# Training crops


def crop_starts(lengths: np.ndarray, crop_frames: int, generator: torch.Generator) -> np.ndarray:
    """A uniform random start per trial such that the crop ends within the trial's true length."""
    room = torch.as_tensor(np.asarray(lengths) - crop_frames + 1, dtype=torch.float64)
    return (torch.rand(len(room), generator=generator, dtype=torch.float64) * room).floor().long().numpy()


def crop_loss(prediction: torch.Tensor, target: torch.Tensor, burn_in_frames: int) -> torch.Tensor:
    """training.poisson_loss over the frames of each crop (B, T, N) after its first burn_in_frames."""
    return training.poisson_loss(prediction[:, burn_in_frames:], target[:, burn_in_frames:])


def video_objective(model: V1Model, mouse: VideoTensors, trials: np.ndarray, starts: np.ndarray,
                    settings: VideoSettings, n_train_trials: int, device: torch.device) -> torch.Tensor:
    """One mouse's share of a step: scaled crop loss of a batch (as the static loss) plus the regularizer."""
    batch = mouse.crops(trials, starts, settings.crop_frames)
    prediction = model(batch.inputs.to(device), mouse.name, batch.pupil_center.to(device))
    scale = training.loss_scale(n_train_trials, len(trials))
    return (scale * crop_loss(prediction, batch.responses.to(device), settings.burn_in_frames)
            + model.regularizer(mouse.name))


# ----------------------------------------------------------------------------------------------
# Prediction and measures


@torch.no_grad()
def predict_trials(model: V1Model, mouse: VideoTensors, idx: np.ndarray,
                   batch_size: int = EVAL_TRIALS) -> list[np.ndarray]:
    """Model responses (frames, N) of each trial over its whole true length, in evaluation mode."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    idx = np.asarray(idx, dtype=np.int64)
    batches = [same[start:start + batch_size] for length in np.unique(mouse.lengths[idx])
               for same in [idx[mouse.lengths[idx] == length]] for start in range(0, len(same), batch_size)]
    predictions = {}
    for trials in progress_bar(batches, desc=f"predict {mouse.name}", unit="batch", leave=False):
        batch = mouse.crops(trials, np.zeros(len(trials), dtype=np.int64), int(mouse.lengths[trials[0]]),
                            with_responses=False)
        output = model(batch.inputs.to(device), mouse.name, batch.pupil_center.to(device)).cpu().numpy()
        predictions.update(zip(trials.tolist(), output))
    model.train(was_training)
    return [predictions[trial] for trial in idx.tolist()]


def tier_correlation(model: V1Model, mouse: VideoTensors, tier: str, scored_from: int) -> np.ndarray:
    """ρ_st per neuron on one tier: the whole trials predicted, frames from scored_from on concatenated."""
    idx = mouse.indices(tier)
    return metrics.video_correlation([mouse.responses(t) for t in idx], predict_trials(model, mouse, idx),
                                     scored_from)


def _true_rates(rates: np.ndarray, mouse: VideoTensors, idx: np.ndarray) -> list[np.ndarray]:
    """The simulator's noise-free rates (trials by file number, neurons, padded length) of trials idx, (frames, N)."""
    if rates.ndim != 3 or rates.shape[0] <= mouse.trial_ids.max() or rates.shape[1] != mouse.n_neurons:
        raise ValueError(f"ground-truth rates of mouse {mouse.name} have shape {rates.shape}, expected "
                         f"(>{mouse.trial_ids.max()} trials, {mouse.n_neurons} neurons, frames)")
    return [rates[mouse.trial_ids[t], :, :mouse.lengths[t]].T for t in idx]


def mouse_measures(model: V1Model, mouse: VideoTensors, scored_from: int, rates: np.ndarray | None) -> dict[str, float]:
    """The static measures (training.tier_measures) on scored frames: the repeat measures (correlation to the
    average, FEVE, oracle, fraction oracle) on the oracle tier, whose repeats are the trials of one clip
    (`VideoTensors.clip_ids`); single-trial ρ_st and the ground-truth correlation on the test tier.

    The competition mice's test responses are zeros: their single-trial test correlation is NaN.
    """
    oracle = mouse.indices(VALIDATION_TIER)
    frame_ids = metrics.repeated_frame_ids(mouse.clip_ids[oracle], mouse.lengths[oracle], scored_from)
    measures = training.tier_measures(metrics.scored_frames([mouse.responses(t) for t in oracle], scored_from),
                                      metrics.scored_frames(predict_trials(model, mouse, oracle), scored_from),
                                      frame_ids, None)
    measures["validation_single_trial_correlation"] = measures["single_trial_correlation"]
    test = mouse.indices(TEST_TIER)
    responses, predictions = [mouse.responses(t) for t in test], predict_trials(model, mouse, test)
    if not np.any(metrics.scored_frames(responses, scored_from)):
        log.warning("mouse %s: the %s responses are all zero (a competition mouse): single-trial test "
                    "correlation reported as NaN", mouse.name, TEST_TIER)
        measures["single_trial_correlation"] = float("nan")
    else:
        measures["single_trial_correlation"] = float(metrics.video_correlation(responses, predictions,
                                                                               scored_from).mean())
    measures["n_trials"] = len(test)
    if rates is not None:
        truth = _true_rates(rates, mouse, test)
        measures["ground_truth_correlation"] = float(metrics.video_correlation(truth, predictions, scored_from).mean())
    return measures


# ----------------------------------------------------------------------------------------------
# The data kind


class VideoClips:
    """`training.DataKind` of video mice (`VideoTensors`): random crops, ρ_st on the oracle tier."""

    def __init__(self, settings: VideoSettings):
        self.settings = settings

    def identity(self) -> dict[str, Any]:
        return {"kind": "video", **asdict(self.settings)}

    def check(self, data: dict[str, VideoTensors]) -> None:
        """Train, oracle and test trials in every mouse, every training trial at least one crop long."""
        if not data:
            raise ValueError("no mice to train on")
        for name, mouse in data.items():
            for tier in ("train", VALIDATION_TIER, TEST_TIER):
                if mouse.indices(tier).size == 0:
                    raise ValueError(f"video mouse {name} has no {tier} trials")
            mouse.check_crop(self.settings.crop_frames)

    def schedule(self, data: dict[str, VideoTensors], batch_size: int,
                 generator: torch.Generator) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
        """The static batch schedule of trials, then a crop start per trial, all drawn from `generator`."""
        trials = training.batch_schedule(data, batch_size, generator)
        return {name: [(batch.numpy(), crop_starts(data[name].lengths[batch.numpy()], self.settings.crop_frames,
                                                    generator)) for batch in batches]
                for name, batches in trials.items()}

    def objective(self, model: V1Model, mouse: VideoTensors, batch: tuple[np.ndarray, np.ndarray],
                  n_train_trials: int, device: torch.device) -> torch.Tensor:
        return video_objective(model, mouse, *batch, self.settings, n_train_trials, device)

    def validation_score(self, model: V1Model, data: dict[str, VideoTensors]) -> float:
        """ρ_st of the oracle tier averaged over all neurons of all mice."""
        return float(np.concatenate([tier_correlation(model, mouse, VALIDATION_TIER, self.settings.scored_from)
                                     for mouse in data.values()]).mean())

    def evaluate(self, model: V1Model, data: dict[str, VideoTensors],
                 rates: dict[str, np.ndarray] | None) -> dict[str, dict]:
        """{"per_mouse": {mouse: measures}, "mean": averaged over mice}, as training.evaluate."""
        per_mouse = {name: mouse_measures(model, mouse, self.settings.scored_from,
                                          None if rates is None else rates[name]) for name, mouse in data.items()}
        return {"per_mouse": per_mouse, "mean": training.average_measures(per_mouse)}

    def mouse_info(self, mouse: VideoTensors) -> MouseInfo:
        return MouseInfo(n_neurons=mouse.n_neurons, cell_motor_coordinates=mouse.cell_motor_coordinates,
                         mean_response=mouse.mean_response)

    def behavior_median(self, mouse: VideoTensors) -> np.ndarray:
        return mouse.behavior_median()
