"""How alike the responses of models fitted with different seeds are: the correlation of their test
predictions, the functional counterpart of the embeddings' agreement."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from v1twin import metrics
from v1twin.data.tensors import MouseTensors
from v1twin.model_run import check_unit_ids, load_model
from v1twin.progress import progress_bar
from v1twin.training import predict

ALL_MICE = "all"  # the row of the response-correlation table that pools every neuron


def predict_test_tier(model_path: str | Path, data: dict[str, MouseTensors]) -> dict[str, np.ndarray]:
    """Predictions (test trials, N) of a saved model for every mouse, checked against the model's unit ids."""
    check_unit_ids(model_path, data)
    model = load_model(Path(model_path))
    return {name: predict(model, mouse, mouse.indices("test")) for name, mouse in data.items()}


def prediction_correlation(
    predictions_a: dict[str, np.ndarray], predictions_b: dict[str, np.ndarray]
) -> dict[str, float]:
    """Mean over neurons of the Pearson r between two fits' predictions, per mouse and over all neurons."""
    per_neuron = {mouse: metrics.correlation(predictions_a[mouse], predictions_b[mouse]) for mouse in predictions_a}
    return {
        **{mouse: float(values.mean()) for mouse, values in per_neuron.items()},
        ALL_MICE: float(np.concatenate(list(per_neuron.values())).mean()),
    }


def response_correlation_table(
    model_files: dict[str, dict[int, str | Path]], data: dict[str, MouseTensors]
) -> pd.DataFrame:
    """Per variant, seed pair and mouse (and 'all'): mean per-neuron correlation of the test predictions."""
    rows = []
    for variant, files in model_files.items():
        predictions = {seed: predict_test_tier(path, data) for seed, path in progress_bar(files.items(), desc=variant)}
        for seed_a, seed_b in itertools.combinations(files, 2):
            for mouse, value in prediction_correlation(predictions[seed_a], predictions[seed_b]).items():
                rows.append({"variant": variant, "seed_a": seed_a, "seed_b": seed_b, "mouse": mouse,
                             "correlation": value})
    return pd.DataFrame(rows, columns=["variant", "seed_a", "seed_b", "mouse", "correlation"])
