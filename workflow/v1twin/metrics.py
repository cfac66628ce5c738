"""Measures of prediction quality (METHODS §3): computed per neuron, then averaged by the caller.

Every function takes numpy arrays shaped (trials, neurons) and works in float64, so that tiny
differences between fits are not swamped by float32 round-off. A neuron whose responses or
predictions are constant has no defined Pearson correlation; it counts as 0 (not NaN), so one
silent neuron cannot turn a population average into NaN.
"""

from __future__ import annotations

import numpy as np


def _as_trials_by_neurons(values: np.ndarray, name: str) -> np.ndarray:
    """Validate and convert to a float64 (T, N) array; a bad shape is a caller bug worth naming."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D (trials, neurons), got shape {array.shape}")
    return array


def _check_same_shape(responses: np.ndarray, predictions: np.ndarray) -> None:
    if responses.shape != predictions.shape:
        raise ValueError(
            f"responses {responses.shape} and predictions {predictions.shape} differ in shape"
        )


def _check_image_ids(image_ids: np.ndarray, n_trials: int) -> np.ndarray:
    ids = np.asarray(image_ids)
    if ids.shape != (n_trials,):
        raise ValueError(f"image_ids must have shape ({n_trials},), got {ids.shape}")
    return ids


def correlation(responses: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """Per-neuron Pearson correlation over trials.

    r_n = Σ_t (y_tn − ȳ_n)(ŷ_tn − ŷ̄_n) / sqrt(Σ_t (y_tn − ȳ_n)² · Σ_t (ŷ_tn − ŷ̄_n)²),
    and r_n = 0 where either sum of squares is 0 (a constant neuron or prediction).
    On the test tier this is the single-trial test correlation.
    """
    y = _as_trials_by_neurons(responses, "responses")
    y_hat = _as_trials_by_neurons(predictions, "predictions")
    _check_same_shape(y, y_hat)
    y_centred = y - y.mean(axis=0)
    y_hat_centred = y_hat - y_hat.mean(axis=0)
    covariance = (y_centred * y_hat_centred).sum(axis=0)
    norm = np.sqrt((y_centred**2).sum(axis=0) * (y_hat_centred**2).sum(axis=0))
    result = np.zeros(y.shape[1])
    defined = norm > 0
    result[defined] = covariance[defined] / norm[defined]
    return result


def average_over_repeats(values: np.ndarray, image_ids: np.ndarray) -> np.ndarray:
    """Mean of `values` over the trials that showed the same image: (n_unique_images, N), ids sorted."""
    array = _as_trials_by_neurons(values, "values")
    ids = _check_image_ids(image_ids, array.shape[0])
    unique_ids, image_index = np.unique(ids, return_inverse=True)
    sums = np.zeros((unique_ids.size, array.shape[1]))
    np.add.at(sums, image_index, array)
    counts = np.bincount(image_index, minlength=unique_ids.size)
    return sums / counts[:, None]


def correlation_to_average(
    responses: np.ndarray, predictions: np.ndarray, image_ids: np.ndarray
) -> np.ndarray:
    """Per-neuron correlation between repeat-averaged responses and repeat-averaged predictions.

    For each image i with repeats R_i: ȳ_in = mean_{t∈R_i} y_tn and ŷ̄_in = mean_{t∈R_i} ŷ_tn
    (predictions can differ across repeats through behaviour); then r_n = Pearson_i(ȳ_in, ŷ̄_in).
    """
    y = _as_trials_by_neurons(responses, "responses")
    y_hat = _as_trials_by_neurons(predictions, "predictions")
    _check_same_shape(y, y_hat)
    return correlation(average_over_repeats(y, image_ids), average_over_repeats(y_hat, image_ids))


def _repeated_trials(image_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Trials whose image was shown at least twice, their image index, and repeats per image."""
    unique_ids, image_index, counts = np.unique(image_ids, return_inverse=True, return_counts=True)
    repeated = counts[image_index] >= 2
    if not repeated.any():
        raise ValueError("no image is repeated; repeat-based measures need repeated test images")
    return np.flatnonzero(repeated), image_index, counts


def _noise_variance(responses: np.ndarray, image_ids: np.ndarray) -> np.ndarray:
    """σ²_n = mean over repeated images of the across-repeat variance (ddof 1) of neuron n."""
    _, image_index, counts = _repeated_trials(image_ids)
    means = average_over_repeats(responses, image_ids)
    squared = np.zeros_like(means)
    np.add.at(squared, image_index, (responses - means[image_index]) ** 2)
    repeated_images = counts >= 2
    variances = squared[repeated_images] / (counts[repeated_images, None] - 1)
    return variances.mean(axis=0)


def fev(responses: np.ndarray, image_ids: np.ndarray) -> np.ndarray:
    """Fraction of explainable variance per neuron.

    FEV_n = (Var_n − σ²_n) / Var_n, with Var_n the variance (ddof 1) of y_n over all trials and
    σ²_n the noise variance (mean over images of the across-repeat variance, ddof 1).
    A constant neuron (Var_n = 0) has FEV 0.
    """
    y = _as_trials_by_neurons(responses, "responses")
    ids = _check_image_ids(image_ids, y.shape[0])
    total = y.var(axis=0, ddof=1)
    noise = _noise_variance(y, ids)
    result = np.zeros(y.shape[1])
    positive = total > 0
    result[positive] = (total[positive] - noise[positive]) / total[positive]
    return result


def feve(
    responses: np.ndarray, predictions: np.ndarray, image_ids: np.ndarray, min_fev: float = 0.15
) -> tuple[np.ndarray, np.ndarray]:
    """Fraction of explainable variance explained, per neuron, and which neurons were kept.

    FEVE_n = 1 − (MSE_n − σ²_n) / (Var_n − σ²_n), MSE_n = mean_t (y_tn − ŷ_tn)²,
    Var_n and σ²_n as in `fev`. Neurons with FEV_n < min_fev have too little explainable
    variance for the ratio to mean anything: their FEVE is NaN and kept[n] is False.
    """
    y = _as_trials_by_neurons(responses, "responses")
    y_hat = _as_trials_by_neurons(predictions, "predictions")
    _check_same_shape(y, y_hat)
    ids = _check_image_ids(image_ids, y.shape[0])
    kept = fev(y, ids) >= min_fev
    total = y.var(axis=0, ddof=1)
    noise = _noise_variance(y, ids)
    mse = ((y - y_hat) ** 2).mean(axis=0)
    result = np.full(y.shape[1], np.nan)
    result[kept] = 1 - (mse[kept] - noise[kept]) / (total[kept] - noise[kept])
    return result, kept


def jackknife_oracle(responses: np.ndarray, image_ids: np.ndarray) -> np.ndarray:
    """Leave-one-out oracle correlation per neuron: how well the other repeats predict a trial.

    For trial t of image i with r_i ≥ 2 repeats: o_tn = (Σ_{s∈R_i} y_sn − y_tn) / (r_i − 1);
    oracle_n = Pearson_t(y_tn, o_tn) over all trials of repeated images (0 if undefined).
    """
    y = _as_trials_by_neurons(responses, "responses")
    ids = _check_image_ids(image_ids, y.shape[0])
    trials, image_index, counts = _repeated_trials(ids)
    sums = np.zeros((counts.size, y.shape[1]))
    np.add.at(sums, image_index, y)
    index = image_index[trials]
    leave_one_out = (sums[index] - y[trials]) / (counts[index, None] - 1)
    return correlation(y[trials], leave_one_out)


def fraction_oracle(test_correlation: np.ndarray, oracle: np.ndarray) -> float:
    """Least-squares slope through the origin of test correlation against oracle, across neurons.

    slope = Σ_n oracle_n · r_n / Σ_n oracle_n² (Lurz et al. 2021); NaN if every oracle is 0.
    """
    r = np.asarray(test_correlation, dtype=np.float64)
    o = np.asarray(oracle, dtype=np.float64)
    if r.shape != o.shape or r.ndim != 1:
        raise ValueError(f"expected two equal 1-D arrays, got {r.shape} and {o.shape}")
    denominator = float((o**2).sum())
    if denominator == 0:
        return float("nan")
    return float((o * r).sum() / denominator)


# ----------------------------------------------------------------------------------------------
# Videos (Sensorium 2023, METHODS §10): the measures above on the scored frames of every trial


def scored_frames(trials: list[np.ndarray], scored_from: int) -> np.ndarray:
    """Frames `scored_from`… of every trial (frames, neurons) stacked: the rows the 2023 competition scores.

    The first frames are left out because a causal video model has seen too little of the clip there.
    """
    if scored_from < 0:
        raise ValueError(f"scored_from must be >= 0, got {scored_from}")
    rows = [_as_trials_by_neurons(trial, "trial")[scored_from:] for trial in trials]
    if not rows or sum(len(row) for row in rows) == 0:
        raise ValueError(f"no frames from frame {scored_from} on in {len(trials)} trial(s)")
    return np.concatenate(rows)


def video_correlation(responses: list[np.ndarray], predictions: list[np.ndarray], scored_from: int) -> np.ndarray:
    """Single-trial correlation ρ_st per neuron: Pearson over the scored frames of all trials concatenated."""
    if len(responses) != len(predictions):
        raise ValueError(f"{len(responses)} response trials but {len(predictions)} prediction trials")
    return correlation(scored_frames(responses, scored_from), scored_frames(predictions, scored_from))


def repeated_frame_ids(clip_ids: np.ndarray, lengths: np.ndarray, scored_from: int) -> np.ndarray:
    """One id per scored frame, shared by the same frame of every repeat of a clip.

    With these as `image_ids`, the repeat measures above (correlation_to_average, FEVE, the oracle) treat
    each frame of a clip as one stimulus, as the Sensorium 2023 oracle scores do.
    """
    clip_ids, lengths = np.asarray(clip_ids), np.asarray(lengths, dtype=np.int64)
    if clip_ids.shape != lengths.shape:
        raise ValueError(f"clip_ids {clip_ids.shape} and lengths {lengths.shape} differ in shape")
    _, clip_index = np.unique(clip_ids, return_inverse=True)
    for clip in np.unique(clip_index):
        if len(np.unique(lengths[clip_index == clip])) > 1:
            raise ValueError(f"repeats of clip {clip_ids[clip_index == clip][0]} differ in length")
    stride = int(lengths.max(initial=0))
    return np.concatenate([clip * stride + np.arange(scored_from, max(length, scored_from))
                           for clip, length in zip(clip_index, lengths)] or [np.zeros(0, dtype=np.int64)])
