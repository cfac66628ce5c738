"""Core transfer and data efficiency (L21: Lurz et al. 2021; METHODS §8).

A core trained on one set of neurons (or mice) is frozen and a new readout is trained on other
neurons with a varying number of training images; the fraction oracle on the test tier measures
how well the core generalizes. Three experiments, one per L21 figure:

- `readouts` (L21 Fig. 3): end-to-end models on one mouse with n images or m neurons: the Gaussian
  readout, the Gaussian readout with feature sharing, and the factorized readout.
- `within` (L21 Fig. 4): the neurons of one mouse are split into a core set and a transfer set.
  Conditions, each a curve over the number of images n:
  direct — core and readout trained end to end on the transfer set with n images;
  best-core/diff-readout — core trained on the core set with all images, frozen; readout trained
  on the transfer set with n images (what limits: the readout's data);
  diff-core/best-readout — core trained on the core set with n images, frozen; readout trained on
  the transfer set with all images (what limits: the core's data);
  random core — an untrained core, frozen; readout trained on the transfer set with n images.
- `across` (L21 Fig. 5): cores trained on other mice (`core_sets`, all images), frozen, and a
  readout trained on a held-out mouse with n images; against direct training on that mouse, the
  random core, and the first core with the position network of the Gaussian readout switched off
  (or on, where the configured readout has none).

Decisions (where L21 is silent or does not apply):
- The condition names read "<core's data>/<readout's data>": best = all training images, diff = the
  varied n; the core always comes from the core set, the readout always from the transfer set. So
  best-core/diff-readout isolates how much the readout needs data, diff-core/best-readout how much
  the core does; the figure plots both against their varied n.
- Mice are split by config: `core_sets` name the mice of each transferred core, and the held-out
  mouse may be in none of them (config.check_references, before any job runs).
- Feature sharing. In L21 the same neurons were recorded in several scans (4-S:matched) and matched
  neurons shared one readout feature vector across scans. A Sensorium mouse is a single scan, so we
  build the closest equivalent: the chosen training images of the mouse are dealt into `sessions`
  pseudo-scans of the same neurons (each with its own readout, positions, bias and shifter, as
  separate scans would have). With feature sharing the matched neurons of all pseudo-scans use one
  feature vector; without it each pseudo-scan learns its own. Every `readouts` run uses the
  pseudo-scans, so the three readouts are compared on the same data.
- Subsets are nested and deterministic: a permutation drawn once from `split_seed` orders the neurons
  (and each mouse's training images), and a subset of size k is its first k entries. The core set
  and the transfer set are disjoint; validation and test tiers are always kept whole.
- An image count above a mouse's training tier means all its training images.
- The random core is the seeded initialization, frozen in evaluation mode (its BatchNorm layers keep
  their initial statistics; the input is normalized, so its features have unit-order scale).
- `scale_epochs`: at demo scale `max_epochs` is a hard cap that ends training before convergence, so
  the arms of a comparison must take equal numbers of optimizer steps, not epochs, or a gain would be
  one of extra training. With `scale_epochs` each model trained takes B = max_epochs × (batches of
  one epoch over the whole training tier) steps, whatever its number of images or pseudo-scans (each
  step takes one batch of every pseudo-scan), in epochs as long as one over the whole tier (a smaller
  subset passes over its data several times per epoch): every run validates, checkpoints and early-stops
  (which still ends a run that overfits) once per that many steps. A frozen-core arm of Figs. 4-5
  has spent B steps on its core and B on its readout, so the arms it is compared with take 2B
  (`TransferRun.budget`): direct training and the random core's readout. Fig. 3's readouts all take B.
  Without `scale_epochs` (the paper) every arm trains until early stopping: to convergence.
- Fig. 3's neuron axis compares the runs on the same neurons: each readouts run is also scored on the
  smallest neuron subset (`common_neurons`, which every larger subset contains), since a subset may hold
  easier neurons than the whole population (demo: +0.03 fraction oracle for 100 of 500 neurons).
- Seeds (L21: 5 initializations per point): every run of the plan is repeated for each of `seeds`
  (the model's initialization and batch order; a transferred core is the one of the same seed), while
  the neuron split and the image subsets stay those of `split_seed`; figures show mean ± sd over seeds.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch

from v1twin import checkpoint, metrics, training
from v1twin.data.tensors import MouseTensors, load_training_mice
from v1twin.device import default_device
from v1twin.files import content_digest
from v1twin.model_run import RunFiles, finish_run, read_metrics, read_model_file
from v1twin.models import V1Model, build_model
from v1twin.training import steps_per_epoch

log = logging.getLogger(__name__)

NEURON_SETS = ("all", "core_set", "transfer_set")
# The section's settings every run reads; its `training` is merged over the global one (plan_jobs).
RUN_SETTINGS = ("split_seed", "transfer_fraction", "scale_epochs", "core")
FEATURE_SHARING = "gaussian + feature sharing"
TABLE_MEASURES = ("fraction_oracle", "single_trial_correlation", "oracle", "correlation_to_average")


# ----------------------------------------------------------------------------------------------
# Splits of neurons, mice and training images


def _order(n: int, seed: int) -> np.ndarray:
    """The fixed random order that every subset of size k takes its first k entries from."""
    return np.random.default_rng(seed).permutation(n)


def split_neurons(n_neurons: int, transfer_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint (core set, transfer set) neuron indices, each sorted; round(fraction·N) go to the transfer set."""
    if not 0 < transfer_fraction < 1:
        raise ValueError(f"transfer_fraction must be in (0, 1), got {transfer_fraction}")
    n_transfer = round(transfer_fraction * n_neurons)
    if not 0 < n_transfer < n_neurons:
        raise ValueError(f"cannot split {n_neurons} neurons with transfer_fraction {transfer_fraction}: a set is empty")
    order = _order(n_neurons, seed)
    return np.sort(order[n_transfer:]), np.sort(order[:n_transfer])


def neuron_subset(n_neurons: int, count: int, seed: int) -> np.ndarray:
    """Sorted indices of `count` neurons; a smaller count gives a subset of a larger one."""
    if not 0 < count <= n_neurons:
        raise ValueError(f"cannot take {count} of {n_neurons} neurons")
    return np.sort(_order(n_neurons, seed)[:count])


def neuron_indices(mouse: MouseTensors, neurons: str | int, transfer_fraction: float, seed: int) -> np.ndarray:
    """The neurons a run uses: all, the core or transfer set, or a nested subset of `neurons` neurons."""
    n = mouse.n_neurons
    if isinstance(neurons, bool) or not isinstance(neurons, (str, int)):
        raise ValueError(f"neurons must be one of {NEURON_SETS} or a count, got {neurons!r}")
    if isinstance(neurons, int):
        if neurons > n:
            raise ValueError(f"mouse {mouse.name} has {n} neurons, fewer than the {neurons} requested")
        return neuron_subset(n, neurons, seed)
    if neurons == "all":
        return np.arange(n)
    if neurons not in NEURON_SETS:
        raise ValueError(f"neurons must be one of {NEURON_SETS} or a count, got {neurons!r}")
    core_set, transfer_set = split_neurons(n, transfer_fraction, seed)
    return core_set if neurons == "core_set" else transfer_set


def training_images(mouse: MouseTensors) -> np.ndarray:
    """The distinct image ids of the mouse's training tier, sorted."""
    return np.unique(mouse.image_ids[mouse.indices("train")])


def training_image_order(mouse: MouseTensors, seed: int) -> np.ndarray:
    """The mouse's distinct training image ids in the fixed random order that subsets are taken from."""
    ids = training_images(mouse)
    return ids[_order(len(ids), seed)]


def select_neurons(mouse: MouseTensors, idx: np.ndarray) -> MouseTensors:
    """The same trials with only the neurons `idx`."""
    idx = np.asarray(idx)
    return dataclasses.replace(
        mouse,
        responses=mouse.responses[:, torch.as_tensor(idx)],
        cell_motor_coordinates=mouse.cell_motor_coordinates[idx],
        unit_ids=mouse.unit_ids[idx],
    )


def select_training_images(mouse: MouseTensors, image_ids: np.ndarray, name: str | None = None) -> MouseTensors:
    """The mouse with only the training trials that show `image_ids`; validation and test stay whole."""
    is_train = mouse.tiers == "train"
    keep = ~is_train | np.isin(mouse.image_ids, image_ids)
    trials = torch.as_tensor(np.flatnonzero(keep))
    return dataclasses.replace(
        mouse,
        name=name or mouse.name,
        images=mouse.images[trials],
        behavior=mouse.behavior[trials],
        pupil_center=mouse.pupil_center[trials],
        responses=mouse.responses[trials],
        tiers=mouse.tiers[keep],
        image_ids=mouse.image_ids[keep],
    )


def image_subset(mouse: MouseTensors, count: int, seed: int) -> MouseTensors:
    """The mouse with at most `count` training images (nested subsets: fewer images are a subset of more)."""
    if count < 1:
        raise ValueError(f"image count must be >= 1, got {count}")
    return select_training_images(mouse, training_image_order(mouse, seed)[:count])


def session_name(mouse: str, session: int) -> str:
    return f"{mouse}-session{session}"


def pseudo_sessions(mouse: MouseTensors, n_sessions: int, seed: int) -> dict[str, MouseTensors]:
    """The mouse's training images dealt into `n_sessions` pseudo-scans of the same neurons.

    Each pseudo-scan keeps the whole validation and test tiers (they are the same neurons).
    """
    order = training_image_order(mouse, seed)
    if not 1 <= n_sessions <= len(order):
        raise ValueError(f"cannot deal {len(order)} training images of mouse {mouse.name} into {n_sessions} sessions")
    names = [session_name(mouse.name, k + 1) for k in range(n_sessions)]
    return {name: select_training_images(mouse, order[k::n_sessions], name) for k, name in enumerate(names)}


# ----------------------------------------------------------------------------------------------
# The plan: every training run of the three experiments


@dataclass(frozen=True)
class TransferRun:
    """One model to train: its data, readout and where its core comes from.

    `core` is "trained" (end to end), "frozen" (the core of run `core_run`, fixed) or "random" (the
    seeded initialization, fixed). `images` is the number of training images of each mouse. `budget`
    is its optimizer steps in units of B, one model's steps (see `run_schedule`). A run with
    `common_neurons` is also scored on that many neurons, the subset every run of Fig. 3 has.
    """

    name: str
    mice: tuple[str, ...]
    neurons: str | int
    images: int
    readout: dict
    seed: int
    core: str = "trained"
    core_run: str | None = None
    sessions: int = 1
    share_features: bool = False
    budget: int = 1
    common_neurons: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "mice": list(self.mice)}

    @classmethod
    def from_dict(cls, content: dict[str, Any]) -> TransferRun:
        """The run a job's params carry as plain data (`as_dict`)."""
        return cls(**{**content, "mice": tuple(content["mice"])})

    def content(self) -> str:
        """Everything but the name: two runs with the same content would train the same model."""
        return json.dumps({**self.as_dict(), "name": None}, sort_keys=True)


@dataclass(frozen=True)
class TransferPoint:
    """One point of a figure: `condition` of `experiment` at `n_images` (the count the experiment varies;
    for diff-core/best-readout the core's) and `seed`, measured by run `run`."""

    experiment: str
    condition: str
    n_images: int
    seed: int
    run: str


@dataclass
class TransferPlan:
    """The runs to train (by name, cores before the runs that transfer them) and the points they measure."""

    runs: dict[str, TransferRun] = dataclasses.field(default_factory=dict)
    points: list[TransferPoint] = dataclasses.field(default_factory=list)

    def add(self, experiment: str, condition: str, n_images: int, run: TransferRun) -> str:
        """Record a point; a run with the content of an earlier one is not trained twice. Returns the run's name."""
        same = next((known for known in self.runs.values() if known.content() == run.content()), None)
        if same is None:
            if run.name in self.runs:
                raise ValueError(f"two different transfer runs are both named {run.name!r}")
            self.runs[run.name] = same = run
        point = TransferPoint(experiment, condition, n_images, run.seed, same.name)
        if point not in self.points:
            self.points.append(point)
        return same.name


def _slug(label: str) -> str:
    return label.replace(" + ", "-").replace(" ", "-")


def plan_jobs(config: dict) -> dict[str, dict[str, Any]]:
    """Run name -> the plain-data params of its transfer_run job: the run, and the settings `train_run`
    reads, with the section's `training` merged over the global training settings."""
    section = config["transfer"]
    settings = {
        **{key: section[key] for key in RUN_SETTINGS},
        "training": {**config["training"], **section.get("training", {})},
    }
    return {name: {"run": run.as_dict(), "settings": settings} for name, run in plan_runs(section).runs.items()}


def plan_runs(settings: dict) -> TransferPlan:
    """Every run and point of the three experiments (and the cores they transfer) for each seed, in a fixed
    order, from the `transfer` config section (its references checked by config.check_references)."""
    plan = TransferPlan()
    for seed in settings["seeds"]:
        _plan_seed(plan, settings, seed)
    return plan


def _plan_seed(plan: TransferPlan, settings: dict, seed: int) -> None:
    """The runs and points of one seed; run names end in /seed<seed>."""
    counts = sorted(settings["image_counts"])
    every = counts[-1]
    gaussian, factorized = settings["readouts"]["gaussian"], settings["readouts"]["factorized"]
    within, held_out = settings["within_mouse"], settings["held_out_mouse"]
    # with fixed budgets, the arms compared with a frozen core match its core's and its readout's steps
    matched = 2 if settings["scale_epochs"] else 1

    def add(experiment: str, condition: str, n: int, name: str, *args, **kwargs) -> str:
        return plan.add(experiment, condition, n, TransferRun(f"{name}/seed{seed}", *args, seed=seed, **kwargs))

    def core(name: str, mice: list[str], neurons: str, images: int) -> str:
        return add("cores", name, images, f"cores/{name}/images{images}", tuple(mice), neurons, images, gaussian)

    # L21 Fig. 3: readouts on pseudo-scans of the within mouse, vs images (all neurons) and neurons (all images)
    for label, readout, share in (
        ("gaussian", gaussian, False),
        (FEATURE_SHARING, gaussian, True),
        ("factorized", factorized, False),
    ):
        common = min(settings["neuron_counts"], default=None)
        scans = dict(readout=readout, sessions=settings["sessions"], share_features=share, common_neurons=common)
        for n in counts:
            add("readouts", label, n, f"readouts/{_slug(label)}/images{n}", (within,), "all", n, **scans)
        for m in settings["neuron_counts"]:
            add("readouts", label, every, f"readouts/{_slug(label)}/neurons{m}", (within,), m, every, **scans)

    # L21 Fig. 4: core set -> transfer set of the within mouse
    def transfer_set(condition: str, kind: str, n: int, images: int, **arm) -> None:
        name = f"within/{kind}/images{n}"
        add("within", condition, n, name, (within,), "transfer_set", images, gaussian, **arm)

    best_core = core(f"{within}-core-set", [within], "core_set", every)
    for n in counts:
        transfer_set("direct", "direct", n, n, budget=matched)
        transfer_set("best-core/diff-readout", "best-core", n, n, core="frozen", core_run=best_core)
        diff_core = core(f"{within}-core-set", [within], "core_set", n)
        transfer_set("diff-core/best-readout", "diff-core", n, every, core="frozen", core_run=diff_core)
        transfer_set("random core", "random-core", n, n, core="random", budget=matched)

    # L21 Fig. 5: cores of other mice -> the held-out mouse
    def held_out_run(condition: str, kind: str, n: int, readout: dict = gaussian, **arm) -> None:
        add("across", condition, n, f"across/{kind}/images{n}", (held_out,), "all", n, readout, **arm)

    cores = {name: core(name, spec["mice"], spec["neurons"], every) for name, spec in settings["core_sets"].items()}
    first = next(iter(cores))
    # the ablation switches the position network of the Gaussian readout off (or on, where it is off)
    with_network = not gaussian.get("position_network", False)
    ablation = f"core: {first}, {'with' if with_network else 'no'} position network"
    ablated = {**gaussian, "position_network": with_network}
    for n in counts:
        held_out_run("direct", "direct", n, budget=matched)
        for name, core_run in cores.items():
            held_out_run(f"core: {name}", f"core-{name}", n, core="frozen", core_run=core_run)
        held_out_run("random core", "random-core", n, core="random", budget=matched)
        held_out_run(ablation, "position-network-ablation", n, ablated, core="frozen", core_run=cores[first])


# ----------------------------------------------------------------------------------------------
# Data, model and training settings of one run


def run_data(
    run: TransferRun, mice: dict[str, MouseTensors], transfer_fraction: float, split_seed: int
) -> dict[str, MouseTensors]:
    """The run's training view of the loaded `mice`: its neurons and training images, as pseudo-scans if asked."""
    missing = sorted(set(run.mice) - set(mice))
    if missing:
        raise ValueError(f"run {run.name}: mice {missing} are not loaded")
    data = {}
    for name in run.mice:
        mouse = select_neurons(mice[name], neuron_indices(mice[name], run.neurons, transfer_fraction, split_seed))
        mouse = image_subset(mouse, run.images, split_seed)
        if run.sessions > 1:
            data.update(pseudo_sessions(mouse, run.sessions, split_seed))
        else:
            data[name] = mouse
    return data


def share_features(model: V1Model, readouts: list[str]) -> None:
    """Make the listed readouts use one feature vector per neuron (L21 feature sharing of matched neurons)."""
    first = model.readouts[readouts[0]]
    for name in readouts[1:]:
        other = model.readouts[name]
        if other.features.shape != first.features.shape:
            raise ValueError(f"readouts {readouts[0]} and {name} differ in shape; only matched neurons share features")
        other.features = first.features


def load_core(model: V1Model, path: str | Path, core_config: dict) -> None:
    """Copy the core weights (and BatchNorm statistics) of the model saved at `path` into `model`."""
    content = read_model_file(path)
    if content["variant"]["core"] != checkpoint.plain_json(core_config):
        raise ValueError(f"{path}: its core {content['variant']['core']} is not the transfer core {core_config}")
    state = {
        key.removeprefix("core."): value for key, value in content["state_dict"].items() if key.startswith("core.")
    }
    model.core.load_state_dict(state)


def build_run_model(
    run: TransferRun, data: dict[str, MouseTensors], core_config: dict, core_model: str | Path | None = None
) -> V1Model:
    """The run's model, initialized from its seed: a new readout per mouse (or pseudo-scan) on a trained,
    transferred or random core."""
    if (run.core == "frozen") != (core_model is not None):
        raise ValueError(f"run {run.name}: a core model file is needed exactly when the core is transferred")
    training.seed_everything(run.seed)
    mice_info = {name: training.mouse_info(mouse) for name, mouse in data.items()}
    input_shape = next(iter(data.values())).input_shape
    model = build_model({"core": core_config, "readout": run.readout}, mice_info, input_shape)
    if run.share_features:
        for mouse in run.mice:
            share_features(model, [session_name(mouse, k + 1) for k in range(run.sessions)])
    if core_model is not None:
        load_core(model, core_model, core_config)
    if run.core != "trained":
        model.freeze_core()
    return model


class RunSchedule(NamedTuple):
    """A run's training settings and the optimizer steps of one of its epochs."""

    config: training.TrainingConfig
    epoch_steps: int

    @property
    def kind(self) -> training.StaticImages:
        """The data kind whose epochs are `epoch_steps` long."""
        return training.StaticImages(epoch_steps=self.epoch_steps)


def run_schedule(
    run: TransferRun, data: dict[str, MouseTensors], full_counts: dict[str, int], base: dict, scale_epochs: bool
) -> RunSchedule:
    """The training settings of a run; with `scale_epochs`, a fixed number of optimizer steps.

    `full_counts` is each mouse's whole training tier. Scaled, an epoch is the batches of one epoch over
    the largest whole tier of the run's mice (a subset or k pseudo-scans pass over their data several
    times in it), and the run takes `run.budget` × max_epochs of them: validation, early stopping
    (patience in those epochs) and checkpoints come as often for every run, whatever its data.
    """
    config = training.TrainingConfig.from_dict(base)
    own = steps_per_epoch(data, config.batch_size)
    if not scale_epochs:
        return RunSchedule(config, own)
    whole_tier = math.ceil(max(full_counts[mouse] for mouse in run.mice) / config.batch_size)
    return RunSchedule(dataclasses.replace(config, max_epochs=run.budget * config.max_epochs), max(whole_tier, own))


def common_positions(mouse: MouseTensors, run: TransferRun, transfer_fraction: float, seed: int) -> np.ndarray:
    """Where, among the run's neurons of `mouse`, the `run.common_neurons` neurons shared by every run lie."""
    own = neuron_indices(mouse, run.neurons, transfer_fraction, seed)
    common = neuron_subset(mouse.n_neurons, run.common_neurons, seed)
    if not np.isin(common, own).all():
        raise ValueError(f"run {run.name}: its neurons {run.neurons} lack some of the {run.common_neurons} common ones")
    return np.flatnonzero(np.isin(own, common))


def fraction_oracle_on(model: V1Model, data: dict[str, MouseTensors], positions: np.ndarray) -> float:
    """Test-tier fraction oracle of the neurons at `positions`, averaged over the mice or pseudo-scans."""
    scores = []
    for mouse in data.values():
        idx = mouse.indices("test")
        responses = mouse.responses[torch.as_tensor(idx)].numpy()[:, positions]
        predictions = training.predict(model, mouse, idx)[:, positions]
        oracle = metrics.jackknife_oracle(responses, mouse.image_ids[idx])
        scores.append(metrics.fraction_oracle(metrics.correlation(responses, predictions), oracle))
    return float(np.mean(scores))


# ----------------------------------------------------------------------------------------------
# The table of every run


def transfer_table(metrics_files: dict[str, str | Path], plan: TransferPlan) -> pd.DataFrame:
    """One row per point of the plan: what its run trained on, its optimizer steps (`total_steps` adds
    those of the core it transfers) and its test-tier measures (averaged over its mice or pseudo-scans);
    `metrics_files` maps each run to its metrics.json."""
    missing = sorted(set(plan.runs) - set(metrics_files))
    if missing:
        raise ValueError(f"no metrics file given for transfer runs {missing}")
    metrics = {
        name: read_metrics(
            path, ("mean", "images_used", "n_neurons_used", "epochs", "best_epoch", "optimizer_steps", "train_seconds")
        )
        for name, path in metrics_files.items()
    }
    rows = []
    for point in plan.points:
        run, scores = plan.runs[point.run], metrics[point.run]
        rows.append(
            {
                **dataclasses.asdict(point),
                "images": run.images,
                "images_used": scores["images_used"],
                "neurons": str(run.neurons),
                "n_neurons": scores["n_neurons_used"],
                "mice": "+".join(run.mice),
                "readout": run.readout["type"],
                "core": run.core,
                "core_run": run.core_run or "",
                **{measure: scores["mean"][measure] for measure in TABLE_MEASURES},
                "fraction_oracle_common": scores.get("fraction_oracle_common", float("nan")),
                "epochs": scores["epochs"],
                "best_epoch": scores["best_epoch"],
                "steps": scores["optimizer_steps"],
                "total_steps": scores["optimizer_steps"]
                + (metrics[run.core_run]["optimizer_steps"] if run.core_run else 0),
                "train_seconds": scores["train_seconds"],
            }
        )
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# One run, end to end


def train_run(
    run: TransferRun,
    settings: dict,
    caches: dict[str, str | Path],
    image_scale: float,
    files: RunFiles,
    core_model: str | Path | None = None,
) -> dict:
    """Train one run, write its outputs (v1twin.model_run.finish_run) and return its test-tier measures.

    `settings` are the job's from `plan_jobs`: the RUN_SETTINGS keys of the `transfer` config section
    and the merged `training` settings. Training checkpoints beside model.pt and resumes from
    there (training.train).
    """
    missing = sorted(set(run.mice) - set(caches))
    if missing:
        raise ValueError(f"run {run.name}: no cache given for mice {missing}")
    mice = load_training_mice({name: caches[name] for name in run.mice}, image_scale)
    data = run_data(run, mice, settings["transfer_fraction"], settings["split_seed"])
    full_counts = {name: len(mouse.indices("train")) for name, mouse in mice.items()}
    schedule = run_schedule(run, data, full_counts, settings["training"], settings["scale_epochs"])
    config = schedule.config
    model = build_run_model(run, data, settings["core"], core_model)
    identity = {
        "core": settings["core"],
        "run": run.as_dict(),
        "split_seed": settings["split_seed"],
        "transfer_fraction": settings["transfer_fraction"],
    }
    log.info(
        "run %s: %d training trials, %d epochs at most, device %s",
        run.name,
        sum(len(mouse.indices("train")) for mouse in data.values()),
        config.max_epochs,
        default_device(),
    )
    inputs = [caches[name] for name in run.mice] + ([core_model] if core_model is not None else [])
    input_digests = [content_digest(path) for path in inputs]
    result = training.train(
        model, data, config, files.folder, run.seed, identity, history_path=files.history, input_digests=input_digests,
        kind=schedule.kind,
    )
    summary = {
        "max_epochs": config.max_epochs,
        "optimizer_steps": result.epochs * schedule.epoch_steps,
        "images_used": sum(len(training_images(mouse)) for mouse in data.values()) // len(run.mice),
        "n_neurons_used": sum(mouse.n_neurons for mouse in data.values()) // run.sessions,
    }
    if run.common_neurons is not None:
        (mouse,) = run.mice
        positions = common_positions(mice[mouse], run, settings["transfer_fraction"], settings["split_seed"])
        summary["fraction_oracle_common"] = fraction_oracle_on(model, data, positions)
    metrics = finish_run(
        files,
        model,
        data,
        {"core": settings["core"], "readout": run.readout},
        seed=run.seed,
        image_scale=image_scale,
        config=config,
        result=result,
        summary=summary,
        extras={"run": run.as_dict()},
    )
    log.info("run %s: test fraction oracle %.3f", run.name, metrics["mean"]["fraction_oracle"])
    return metrics
