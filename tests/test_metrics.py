"""Every measure of v1twin.metrics against numbers worked out by hand on tiny arrays."""

import numpy as np
import pytest

from v1twin import metrics

# One neuron, three images shown twice each (worked example used by several tests):
# image ids   0 0 | 1 1 | 2 2
# responses   1 3 | 4 6 | 0 2      image means 2, 5, 1; total variance (ddof 1) 14/3; noise variance 2
# predictions 2 2 | 3 5 | 3 3      prediction means 2, 4, 3; squared errors 1 1 1 1 9 1 -> MSE 7/3
IDS = np.array([0, 0, 1, 1, 2, 2])
RESPONSES = np.array([1.0, 3, 4, 6, 0, 2])[:, None]
PREDICTIONS = np.array([2.0, 2, 3, 5, 3, 3])[:, None]


def test_correlation_by_hand() -> None:
    y = np.array([[1.0, 5, 1, 1], [2, 5, 2, 2], [3, 5, 3, 3]])
    # neuron 0: centred y (-1,0,1), centred ŷ (-1,1,0): cov 1, norms sqrt(2·2) -> 0.5
    # neuron 1: constant response -> 0;  neuron 2: ŷ = 2y+1 -> 1;  neuron 3: ŷ = −y -> −1
    y_hat = np.array([[1.0, 0, 3, -1], [3, 1, 5, -2], [2, 2, 7, -3]])
    np.testing.assert_allclose(metrics.correlation(y, y_hat), [0.5, 0.0, 1.0, -1.0])


def test_correlation_constant_prediction_is_zero_not_nan() -> None:
    y = np.array([[1.0], [2.0], [4.0]])
    assert metrics.correlation(y, np.ones_like(y))[0] == 0.0


def test_correlation_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.correlation(np.zeros((3, 2)), np.zeros((3, 1)))


def test_average_over_repeats() -> None:
    np.testing.assert_allclose(metrics.average_over_repeats(RESPONSES, IDS)[:, 0], [2, 5, 1])


def test_correlation_to_average_by_hand() -> None:
    # means y (2,5,1), ŷ (2,4,3); centred y (−2/3, 7/3, −5/3), ŷ (−1,1,0)
    # cov 3, Σy² 26/3, Σŷ² 2 -> r = 3 / sqrt(52/3) = sqrt(27/52)
    result = metrics.correlation_to_average(RESPONSES, PREDICTIONS, IDS)
    np.testing.assert_allclose(result, [np.sqrt(27 / 52)])


def test_fev_by_hand() -> None:
    # neuron 0: (14/3 − 2) / (14/3) = 4/7
    # neuron 1: responses 1 3 1 3 1 3: total variance 6/5, noise variance 2 -> (1.2 − 2)/1.2 = −2/3
    # neuron 2: constant -> 0
    responses = np.column_stack([RESPONSES[:, 0], [1.0, 3, 1, 3, 1, 3], np.full(6, 7.0)])
    np.testing.assert_allclose(metrics.fev(responses, IDS), [4 / 7, -2 / 3, 0.0])


def test_feve_by_hand_drops_low_fev_neurons() -> None:
    # neuron 0: 1 − (7/3 − 2)/(14/3 − 2) = 1 − (1/3)/(8/3) = 7/8; neuron 1 has FEV −2/3 < 0.15: dropped
    responses = np.column_stack([RESPONSES[:, 0], [1.0, 3, 1, 3, 1, 3]])
    predictions = np.column_stack([PREDICTIONS[:, 0], np.full(6, 2.0)])
    values, kept = metrics.feve(responses, predictions, IDS)
    np.testing.assert_array_equal(kept, [True, False])
    assert values[0] == pytest.approx(7 / 8)
    assert np.isnan(values[1])


def test_feve_is_one_when_the_error_is_only_noise() -> None:
    # MSE equal to the noise variance means all explainable variance is explained: FEVE = 1
    responses = np.array([0.0, 2, 5, 7, 10, 12])[:, None]  # within-image variance 2 for every image
    predictions = responses + np.array([1.0, -1, 1, -1, 1, -1])[:, None] * np.sqrt(2.0)  # MSE 2
    values, kept = metrics.feve(responses, predictions, IDS)
    assert kept[0]
    assert values[0] == pytest.approx(1.0)


def test_jackknife_oracle_with_pairs_by_hand() -> None:
    # with two repeats the "other" mean is the partner trial: y (1,3,4,6,0,2) vs (3,1,6,4,2,0)
    # centred products sum to 102/9, Σ centred² = 210/9 -> 102/210 = 17/35
    np.testing.assert_allclose(metrics.jackknife_oracle(RESPONSES, IDS), [17 / 35])


def test_jackknife_oracle_three_repeats_ignores_unrepeated_trials() -> None:
    # images 0 and 1 three times each, image 9 once (excluded)
    # leave-one-out means: (2.5, 2, 1.5) and (7, 6.5, 4.5); centred y (−3,−2,−1,0,1,5),
    # centred o (−1.5,−2,−2.5,3,2.5,0.5): cov 16, Σy² 40, Σo² 28
    responses = np.array([1.0, 2, 3, 4, 5, 9, 100])[:, None]
    ids = np.array([0, 0, 0, 1, 1, 1, 9])
    np.testing.assert_allclose(metrics.jackknife_oracle(responses, ids), [16 / np.sqrt(40 * 28)])


def test_oracle_of_noise_free_repeats_is_one() -> None:
    rng = np.random.default_rng(0)
    per_image = rng.gamma(2.0, size=(20, 5))
    ids = np.repeat(np.arange(20), 4)
    np.testing.assert_allclose(metrics.jackknife_oracle(per_image[ids], ids), np.ones(5))


def test_repeat_measures_need_repeats() -> None:
    with pytest.raises(ValueError, match="no image is repeated"):
        metrics.jackknife_oracle(np.ones((3, 1)), np.array([0, 1, 2]))


def test_fraction_oracle_by_hand() -> None:
    # (0.3·0.5 + 0.4·1.0 + 0.1·0) / (0.25 + 1 + 0) = 0.55 / 1.25
    assert metrics.fraction_oracle(np.array([0.3, 0.4, 0.1]), np.array([0.5, 1.0, 0.0])) == (
        pytest.approx(0.44)
    )


def test_fraction_oracle_without_oracle_is_nan() -> None:
    assert np.isnan(metrics.fraction_oracle(np.array([0.1, 0.2]), np.zeros(2)))
