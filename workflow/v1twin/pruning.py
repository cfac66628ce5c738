"""Iterative channel pruning of a trained core (METHODS §6, R24 §3.3 and appendix A.5).

One pruning step is one job (`prune_and_fine_tune`): it measures the validation correlation with
each remaining feature masked in turn, removes the feature whose masking costs least and fine-tunes
the reduced model. The masked evaluations are validation passes, seconds even at paper scale, so
they stay inside the step's job rather than each queueing as a GPU job of its own. A feature is one
output channel of the CNN core, or all R rotated copies of one channel of the rotation-equivariant
core. Over seeds, the smallest channel count whose mean validation correlation is within one sd of
the best is kept (`select_channel_count`).

Pruning fine-tunes after every removal, so part of a pruned model's gain may come from the extra
training alone. Its matched-budget control (`fine_tune_control`, model <variant>-finetuned) fine-tunes
the same trained model without removing a feature, in the same rounds: round n is a training run like
pruning step n's (same settings, seed and early-stopping rule), as many epochs as that step ran, up to
the selected step. Both paths take the same optimizer steps: the same epochs over the same data and
batch size.

Which feature goes first is learnt, not an index effect. The network is exactly symmetric under a
relabelling of its features (tests: relabelling a model's features relabels every masked score) and
each seed draws the features' initial weights independently from one distribution, so every index is
equally likely to be removed first. The demo removed feature 3 first in its seeds 1, 2 and 3: a chance
of 1/16. Over gaussian_g20 seeds 1-16 (the demo's training, 8 epochs) the first removed feature was 0,
1, 2, 3 in 2, 2, 7, 5 seeds (chi-square against equal odds: p = 0.2); in 12 of the 16 it is the
feature the L1-penalized readout weighs least (mean over neurons of its rotations' summed |weights|).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from v1twin import checkpoint, training
from v1twin.data.tensors import MouseTensors
from v1twin.files import read_json, read_table, write_json
from v1twin.model_run import read_metrics
from v1twin.models import Core, V1Model
from v1twin.progress import progress_bar

CANDIDATES_FILE = "candidates.json"  # beside training_state.pt: a resumed step removes the same feature
SELECTION_KEYS = ("channels", "step", "n_features")
REMOVAL_KEYS = ("channels_before", "channels", "removed_feature", "val_correlation_before", "val_correlation")
CONTROL_ROUNDS = "rounds"  # the control's checkpoints, one folder per round, beside its model.pt
CURVE_COLUMNS = ("seed", "step", "channels", "removed_feature", "val_correlation")


class PruningError(ValueError):
    """Pruning inputs that do not fit together (an unreadable step summary, curves over different channel counts)."""


# ----------------------------------------------------------------------------------------------
# Features, the plan and masks


def core_features(core_config: Mapping) -> int:
    """Prunable features of a resolved core config: its channels (per rotation, for the equivariant core)."""
    return int(core_config["channels"])


def plan_variants(config: Mapping, variants: Mapping[str, Mapping]) -> dict[str, dict[str, Any]]:
    """Per pruned variant (config `pruning.variants`), what its jobs need: the steps down to
    `pruning.min_channels` (one feature removed per step) and the fine-tuning's training settings (the
    variant's, for `pruning.fine_tune_epochs` epochs). `min_channels` is checked by config.check_references."""
    settings = config["pruning"]
    return {
        variant: {
            "steps": core_features(variants[variant]["core"]) - settings["min_channels"],
            "training": {**variants[variant]["training"], "max_epochs": settings["fine_tune_epochs"]},
        }
        for variant in settings["variants"]
    }


def remaining_features(core: Core) -> list[int]:
    """Features with every channel unmasked, in index order."""
    mask = core.channel_mask.detach().cpu()
    return [feature for feature in range(core.n_features) if bool(mask[core.feature_channels(feature)].all())]


def mask_feature(core: Core, feature: int) -> None:
    """Zero the feature's channels (all rotations) after the core's last nonlinearity: no readout sees it."""
    if feature not in range(core.n_features):
        raise PruningError(f"feature {feature} does not exist; the core has {core.n_features} features")
    core.channel_mask[core.feature_channels(feature)] = 0.0


@contextlib.contextmanager
def feature_masked(core: Core, feature: int) -> Iterator[None]:
    """Mask one feature for the duration of the block, then restore the mask as it was."""
    saved = core.channel_mask.clone()
    mask_feature(core, feature)
    try:
        yield
    finally:
        core.channel_mask.copy_(saved)


# ----------------------------------------------------------------------------------------------
# One step: candidates, choice, fine-tuning


def evaluate_candidates(model: V1Model, data: dict[str, MouseTensors]) -> list[dict[str, Any]]:
    """Validation correlation of the model with each remaining feature masked in turn (R24's criterion)."""
    candidates = []
    for feature in progress_bar(remaining_features(model.core), desc="masked features", unit="feature"):
        with feature_masked(model.core, feature):
            candidates.append({"feature": feature, "val_correlation": training.validation_correlation(model, data)})
    return candidates


def _candidate_score(candidate: Mapping[str, Any]) -> float:
    score = candidate["val_correlation"]
    return -math.inf if score is None or math.isnan(score) else score


def choose_feature(candidates: list[dict[str, Any]]) -> dict[str, Any]:
    """The candidate whose masking keeps the highest validation correlation (the lowest feature on a tie)."""
    return max(candidates, key=lambda candidate: (_candidate_score(candidate), -candidate["feature"]))


def step_candidates(
    model: V1Model, data: dict[str, MouseTensors], workdir: Path, identity: dict[str, Any]
) -> list[dict[str, Any]]:
    """The step's masked evaluations, saved in `workdir` and reused when the same step is resumed.

    A resumed step must remove the feature its checkpoint was fine-tuned without; re-evaluating could
    rank a near-tie differently on a GPU. Scores saved by another run (`identity`) are not reused.
    """
    path = Path(workdir) / CANDIDATES_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    identity = checkpoint.plain_json(identity)
    if path.exists():
        saved = read_json(path, ("identity", "candidates"), PruningError)
        if saved["identity"] == identity:
            return saved["candidates"]
    candidates = evaluate_candidates(model, data)
    write_json(path, {"identity": identity, "candidates": candidates})
    return candidates


def prune_and_fine_tune(
    model: V1Model,
    data: dict[str, MouseTensors],
    config: training.TrainingConfig,
    workdir: Path,
    seed: int,
    variant_config: dict[str, Any],
    history_path: Path | None = None,
    input_digests: Sequence[str] = (),
) -> tuple[dict[str, Any], training.TrainingResult]:
    """One pruning step in place: evaluate every remaining feature masked, mask the cheapest, fine-tune.

    The mask is a buffer, so it is part of every checkpoint and stays in place through fine-tuning,
    early-stopping restores and resuming. train() checkpoints into `workdir`; the removed features and
    `input_digests` (files.content_digest of the data caches and the model being pruned) are part of
    the run's identity, so a checkpoint of a different removal or of other inputs is refused, never resumed.
    Returns what the step did, and the fine-tuning's result.
    """
    remaining = remaining_features(model.core)
    before = training.validation_correlation(model, data)
    step = {"variant": variant_config, "seed": seed, "remaining": remaining, "inputs": list(input_digests)}
    candidates = step_candidates(model, data, workdir, step)
    choice = choose_feature(candidates)
    mask_feature(model.core, choice["feature"])
    removed = sorted(set(range(model.core.n_features)) - set(remaining_features(model.core)))
    identity = {**variant_config, "pruned_features": removed}
    result = training.train(
        model, data, config, workdir, seed, identity, history_path=history_path, input_digests=input_digests
    )
    return {
        "channels_before": len(remaining),
        "channels": len(remaining) - 1,
        "removed_feature": choice["feature"],
        "removed_features": removed,
        "candidates": candidates,
        "val_correlation_before": before,
        "val_correlation_masked": choice["val_correlation"],
        "val_correlation": result.best_score,
        "fine_tune": {"epochs": result.epochs, "best_epoch": result.best_epoch, "seconds": result.seconds},
    }, result


# ----------------------------------------------------------------------------------------------
# The matched-budget control


def fine_tune_epochs(removal_files: Sequence[str | Path], step: int) -> list[int]:
    """Epochs each pruning step fine-tuned, steps 1 to `step` (the selected one); `removal_files` in step order."""
    if not 0 <= step <= len(removal_files):
        raise PruningError(f"step {step} is not one of the {len(removal_files)} pruning steps")
    epochs = []
    for expected, path in enumerate(removal_files[:step], start=1):
        removal = read_json(path, ("step", "fine_tune"), PruningError)
        if removal["step"] != expected:
            raise PruningError(f"{path}: step {removal['step']}, expected step {expected} (steps out of order?)")
        epochs.append(int(removal["fine_tune"]["epochs"]))
    return epochs


def fine_tune_control(
    model: V1Model,
    data: dict[str, MouseTensors],
    config: training.TrainingConfig,
    round_epochs: Sequence[int],
    workdir: Path,
    seed: int,
    variant_config: dict[str, Any],
    input_digests: Sequence[str] = (),
) -> training.TrainingResult:
    """Fine-tune `model` in place without removing a feature: round n trains like pruning step n
    (`config`, `seed`, early stopping) from round n - 1's weights for the epochs step n ran,
    `round_epochs[n - 1]` (early stopping may end a round sooner, as it may a step: both are recorded).

    Round n checkpoints into <workdir>/rounds/round<n>; a rerun replays the finished rounds from their
    checkpoints and resumes the unfinished one. Returns the rounds as one run: epochs numbered on across
    rounds, the best being the last round's (no rounds: the model as it is).
    """
    results = []
    for n, epochs in enumerate(round_epochs, start=1):
        identity = {**variant_config, "control_rounds": list(round_epochs[:n])}
        results.append(
            training.train(
                model,
                data,
                dataclasses.replace(config, max_epochs=epochs),
                Path(workdir) / CONTROL_ROUNDS / f"round{n}",
                seed,
                identity,
                input_digests=input_digests,
            )
        )
    if not results:
        return training.TrainingResult(
            history=[], epochs=0, best_epoch=0, best_score=training.validation_correlation(model, data), seconds=0.0
        )
    history, offset = [], 0
    for result in results:
        history += [{**row, "epoch": row["epoch"] + offset} for row in result.history]
        offset += result.epochs
    last = results[-1]
    return training.TrainingResult(
        history=history,
        epochs=offset,
        best_epoch=offset - last.epochs + last.best_epoch,
        best_score=last.best_score,
        seconds=sum(result.seconds for result in results),
    )


# ----------------------------------------------------------------------------------------------
# Curves and the selection over seeds


def pruning_curve(seed: int, removal_files: list[str | Path]) -> pd.DataFrame:
    """Validation correlation per channel count of one seed: the trained model (step 0), then each step.

    `removal_files` are the steps' summaries in step order (step 1 first).
    """
    removals = [read_json(path, REMOVAL_KEYS, PruningError) for path in removal_files]
    if not removals:
        raise PruningError(f"seed {seed}: no pruning steps to make a curve of")
    first = removals[0]
    rows = [
        {
            "seed": seed,
            "step": 0,
            "channels": first["channels_before"],
            "removed_feature": -1,
            "val_correlation": first["val_correlation_before"],
        }
    ]
    for step, (path, removal) in enumerate(zip(removal_files, removals), start=1):
        if removal["channels"] != rows[-1]["channels"] - 1:
            raise PruningError(
                f"{path}: {removal['channels']} channels after step {step}, expected "
                f"{rows[-1]['channels'] - 1} (steps out of order?)"
            )
        rows.append(
            {
                "seed": seed,
                "step": step,
                "channels": removal["channels"],
                "removed_feature": removal["removed_feature"],
                "val_correlation": removal["val_correlation"],
            }
        )
    return pd.DataFrame(rows, columns=list(CURVE_COLUMNS))


def curve_summary(curves: pd.DataFrame) -> pd.DataFrame:
    """Per channel count: mean and sd (sample sd; 0 for a single seed) of the validation correlation over seeds."""
    seeds_per_count = curves.groupby("channels")["seed"].nunique()
    if seeds_per_count.nunique() != 1:
        raise PruningError(
            f"the seeds' curves cover different channel counts: seeds per count {seeds_per_count.to_dict()}"
        )
    summary = curves.groupby("channels")["val_correlation"].agg(mean="mean", sd="std", n_seeds="count")
    summary["sd"] = summary["sd"].fillna(0.0)
    return summary.reset_index().sort_values("channels", ascending=False, ignore_index=True)


def select_channel_count(curves: pd.DataFrame) -> dict[str, Any]:
    """R24 A.5: the smallest channel count whose mean validation correlation is within one sd of the best.

    The sd is that of the best channel count, over seeds.
    """
    summary = curve_summary(curves)
    best = summary.loc[summary["mean"].idxmax()]
    threshold = float(best["mean"] - best["sd"])
    kept = summary[summary["mean"] >= threshold]
    channels = int(kept["channels"].min())
    n_features = int(summary["channels"].max())
    return {
        "channels": channels,
        "step": n_features - channels,
        "n_features": n_features,
        "fraction_removed": (n_features - channels) / n_features,
        "best_channels": int(best["channels"]),
        "threshold": threshold,
        "summary": summary.to_dict(orient="records"),
    }


def curves_table(curve_files: dict[str, str | Path], selections: dict[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Every variant's curves in one table, with the fraction of features pruned and the selected count marked."""
    tables = []
    for variant, path in curve_files.items():
        curves = read_table(path, CURVE_COLUMNS, PruningError)
        selection = selections[variant]
        tables.append(
            curves.assign(
                variant=variant,
                fraction_pruned=curves["step"] / selection["n_features"],
                selected=curves["channels"] == selection["channels"],
            )
        )
    table = pd.concat(tables, ignore_index=True)
    return table[["variant", *CURVE_COLUMNS, "fraction_pruned", "selected"]]


def models_table(
    runs: Sequence[tuple[str, int]],
    trained: Sequence[str | Path],
    pruned: Sequence[str | Path],
    finetuned: Sequence[str | Path],
) -> pd.DataFrame:
    """Per pruned variant and seed (`runs`), its trained, pruned and fine-tuned-only models side by side:
    channels, epochs of fine-tuning and the test measures (mean over mice) of their metrics.json files."""
    rows = []
    for (variant, seed), *paths in zip(runs, trained, pruned, finetuned, strict=True):
        trained_run, pruned_run, control_run = (read_metrics(path) for path in paths)
        if "pruning" not in pruned_run:
            raise PruningError(f"{paths[1]} is not a pruned model's metrics (no 'pruning' summary)")
        summary = pruned_run["pruning"]
        models = {
            "trained": (variant, summary["n_features"], 0, trained_run),
            "pruned": (f"{variant}-pruned", summary["channels"], sum(summary["fine_tune_epochs"]), pruned_run),
            "finetuned": (f"{variant}-finetuned", summary["n_features"], control_run["epochs"], control_run),
        }
        for kind, (model, channels, epochs, metrics) in models.items():
            rows.append(
                {
                    "variant": variant,
                    "seed": seed,
                    "kind": kind,
                    "model": model,
                    "channels": channels,
                    "fine_tune_epochs": epochs,
                    **metrics["mean"],
                }
            )
    return pd.DataFrame(rows)


def read_selection(path: str | Path) -> dict[str, Any]:
    """A variant's selection as written by the pruning_selection rule."""
    return read_json(path, SELECTION_KEYS, PruningError)
