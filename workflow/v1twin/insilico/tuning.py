"""Tuning experiments built from each neuron's optimal Gabor (METHODS §7; R24 A.2), their curves and
the tuning.npz file that holds curves, axes and indices.

Tuning stimuli depend only on a few of the optimal parameters, so neurons that share those are
served by the same stimuli (experiments group neurons by their `key`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from v1twin.checkpoint import ResumableState
from v1twin.files import read_npz, write_npz
from v1twin.insilico import InSilicoError
from v1twin.insilico.probes import Probe
from v1twin.insilico.search import OPTIMAL_COLUMNS
from v1twin.insilico.stimuli import gabor, grating_disk
from v1twin.progress import progress_bar

INDEX_NAMES = {  # R24 Table 1 column -> index (an array of tuning.npz)
    "cross_orientation": "cross_orientation_inhibition",
    "phase": "phase_invariance",
    "orientation": "orientation_selectivity",
    "surround": "surround_suppression",
}
CURVE_NAMES = ("orientation", "phase", "surround", "cross_orientation")
TUNING_AXES = ("orientation_angles", "phase_angles", "disk_diameters", "plaid_contrasts")  # shared by all neurons
TUNING_ARRAYS = ("mouse", "unit_id", *CURVE_NAMES, *TUNING_AXES, *INDEX_NAMES.values())


@dataclass(frozen=True)
class TuningConfig:
    """The `insilico.tuning` settings (their defaults, R24's A.2 in the papers' 36 × 64 input pixels, are
    in the config schema)."""

    orientations: int
    orientation_phases: int
    phases: int
    surround_sizes: int
    surround_smallest: float
    surround_growth: float
    surround_total_size: float
    surround_contrast: float
    plaid_contrasts: int
    plaid_min_contrast: float
    plaid_max_contrast: float
    plaid_phases: int

    @classmethod
    def from_config(cls, tuning: dict[str, Any]) -> TuningConfig:
        """The settings of a resolved `insilico.tuning` section (nested as in the config)."""
        surround, plaid = tuning["surround"], tuning["plaid"]
        return cls(orientations=tuning["orientations"], orientation_phases=tuning["orientation_phases"],
                   phases=tuning["phases"], surround_sizes=surround["sizes"], surround_smallest=surround["smallest"],
                   surround_growth=surround["growth"], surround_total_size=surround["total_size"],
                   surround_contrast=surround["contrast"], plaid_contrasts=plaid["contrasts"],
                   plaid_min_contrast=plaid["min_contrast"], plaid_max_contrast=plaid["max_contrast"],
                   plaid_phases=plaid["phases"])

    def orientation_angles(self) -> np.ndarray:
        return np.pi * np.arange(self.orientations) / self.orientations

    def orientation_phase_angles(self) -> np.ndarray:
        return 2 * np.pi * np.arange(self.orientation_phases) / self.orientation_phases

    def phase_angles(self) -> np.ndarray:
        return 2 * np.pi * np.arange(self.phases) / self.phases

    def disk_diameters(self) -> np.ndarray:
        """0 (blank) and `surround_sizes` diameters smallest · growth^k · total_size."""
        growth = self.surround_growth ** np.arange(self.surround_sizes)
        return np.concatenate([[0.0], self.surround_smallest * growth * self.surround_total_size])

    def plaid_contrast_values(self) -> np.ndarray:
        """0 and `plaid_contrasts` values log-spaced from plaid_min_contrast to plaid_max_contrast."""
        spaced = np.geomspace(self.plaid_min_contrast, self.plaid_max_contrast, self.plaid_contrasts)
        return np.concatenate([[0.0], spaced])

    def plaid_phase_offsets(self) -> np.ndarray:
        return 2 * np.pi * np.arange(self.plaid_phases) / self.plaid_phases


@dataclass(frozen=True)
class Experiment:
    """One tuning experiment: the optimal parameters it depends on, its stimuli and its curve.

    `stimuli(optimal, height, width, centre, device)` renders (S, H, W) from one neuron's optimal
    parameters; `curve(responses)` turns the neurons' (n, S) responses into their stored curves.
    """

    name: str
    key: tuple[str, ...]
    stimuli: Callable[..., torch.Tensor]
    curve: Callable[[torch.Tensor], torch.Tensor]


def _grid_product(*axes: np.ndarray) -> list[np.ndarray]:
    """Flattened coordinates of the Cartesian product of the axes (first axis slowest)."""
    return [values.ravel() for values in np.meshgrid(*axes, indexing="ij")]


def experiments(config: TuningConfig) -> list[Experiment]:
    """Orientation, phase, surround and cross-orientation experiments (METHODS §7)."""
    angles, phase_set = config.orientation_angles(), config.orientation_phase_angles()
    diameters, contrasts = config.disk_diameters(), config.plaid_contrast_values()
    offsets = config.plaid_phase_offsets()
    n_contrasts = len(contrasts)

    def orientation(opt, height, width, centre, device):
        theta, phi = _grid_product(angles, phase_set)
        return gabor(opt["size"], opt["relative_sf"], theta, phi, opt["contrast"], height, width, centre, device)

    def phase(opt, height, width, centre, device):
        return gabor(opt["size"], opt["relative_sf"], opt["orientation"], config.phase_angles(), opt["contrast"],
                     height, width, centre, device)

    def surround(opt, height, width, centre, device):
        frequency = opt["relative_sf"] / opt["size"]
        return grating_disk(diameters, frequency, opt["orientation"], opt["phase"], config.surround_contrast,
                            height, width, centre, device)

    def plaid(opt, height, width, centre, device):
        orthogonal, preferred, offset = _grid_product(contrasts, contrasts, offsets)
        size, sf, theta, phi = opt["size"], opt["relative_sf"], opt["orientation"], opt["phase"]
        return (gabor(size, sf, theta, phi, preferred, height, width, centre, device)
                + gabor(size, sf, theta + np.pi / 2, phi + offset, orthogonal, height, width, centre, device))

    envelope = ("size_index", "relative_sf_index")
    return [
        Experiment("orientation", (*envelope, "contrast_index"), orientation,
                   lambda r: r.view(len(r), len(angles), len(phase_set)).amax(dim=2)),
        Experiment("phase", (*envelope, "contrast_index", "orientation_index"), phase, lambda r: r),
        Experiment("surround", (*envelope, "orientation_index", "phase_index"), surround, lambda r: r),
        Experiment("cross_orientation", (*envelope, "orientation_index", "phase_index"), plaid,
                   lambda r: r.view(len(r), n_contrasts, n_contrasts, len(offsets)).mean(dim=3)),
    ]


def _neuron_groups(optimal: pd.DataFrame, experiment: Experiment) -> list[np.ndarray]:
    """Rows of the optimal-Gabor table that share one mouse, location and the experiment's key."""
    columns = ["mouse", "location_index", *experiment.key]
    groups = optimal.groupby(columns).indices
    return [np.asarray(groups[key]) for key in sorted(groups)]


@torch.no_grad()
def _group_curves(probe: Probe, experiment: Experiment, optimal: pd.DataFrame, rows: np.ndarray,
                  batch_size: int) -> torch.Tensor:
    first = optimal.iloc[rows[0]]
    centre = probe.centre_of((float(first["y"]), float(first["x"])))
    stimuli = experiment.stimuli(first, probe.height, probe.width, centre, probe.device)
    neurons = torch.as_tensor(optimal["neuron"].to_numpy()[rows], device=probe.device)
    responses = torch.cat([probe.responses(chunk, neurons) for chunk in stimuli.split(batch_size)])
    return experiment.curve(responses.T).cpu()


def tuning_curves(probes: dict[str, Probe], optimal: pd.DataFrame, config: TuningConfig, batch_size: int,
                  state_path: str | Path | None = None, identity: dict[str, Any] | None = None,
                  checkpoint_seconds: float = 300.0) -> dict[str, np.ndarray]:
    """Every experiment's curve for every row of `optimal` (the optimal-Gabor table of the probed neurons)."""
    missing = [column for column in OPTIMAL_COLUMNS if column not in optimal.columns]
    if missing:
        raise InSilicoError(f"the optimal-Gabor table lacks columns {missing}")
    unknown = sorted(set(optimal["mouse"]) - set(probes))
    if unknown:
        raise InSilicoError(f"the optimal-Gabor table has mice {unknown} that the probed model does not know")
    work = [(experiment, rows) for experiment in experiments(config) for rows in _neuron_groups(optimal, experiment)]
    checkpoint = ResumableState(state_path, {**(identity or {}), "config": asdict(config), "batch_size": batch_size},
                                checkpoint_seconds, differs="model, optimal Gabors or settings")
    state = checkpoint.restore() or {"next": 0, "curves": {}}
    for number in progress_bar(range(state["next"], len(work)), total=len(work), initial=state["next"],
                               desc="tuning", unit="group"):
        experiment, rows = work[number]
        probe = probes[optimal["mouse"].iloc[rows[0]]]
        curves = _group_curves(probe, experiment, optimal, rows, batch_size)
        if experiment.name not in state["curves"]:
            state["curves"][experiment.name] = torch.full((len(optimal), *curves.shape[1:]), torch.nan)
        state["curves"][experiment.name][torch.as_tensor(rows)] = curves
        state["next"] = number + 1
        checkpoint.update(lambda: state, f"after tuning group {number + 1} of {len(work)}")
    checkpoint.clear()
    return {name: values.numpy() for name, values in state["curves"].items()}


def save_tuning(path: str | Path, optimal: pd.DataFrame, curves: dict[str, np.ndarray], indices: pd.DataFrame,
                config: TuningConfig) -> None:
    """Curves, their axes and the indices of every neuron in one .npz (written atomically)."""
    write_npz(path, {
        "mouse": optimal["mouse"].to_numpy().astype(str),
        "unit_id": optimal["unit_id"].to_numpy(),
        **{name: curves[name].astype(np.float32) for name in CURVE_NAMES},
        "orientation_angles": config.orientation_angles(),
        "phase_angles": config.phase_angles(),
        "disk_diameters": config.disk_diameters(),
        "plaid_contrasts": config.plaid_contrast_values(),
        **{name: indices[name].to_numpy() for name in indices.columns},
    })


def load_tuning(path: str | Path) -> dict[str, np.ndarray]:
    return read_npz(path, TUNING_ARRAYS, InSilicoError)


def load_tunings(paths: list[str | Path]) -> dict[str, np.ndarray]:
    """Several tuning.npz files (such as the true neurons' one per mouse) as one: neurons in file order."""
    parts = [load_tuning(path) for path in paths]
    for path, part in zip(paths, parts):
        if set(part) != set(parts[0]) or any(not np.array_equal(part[axis], parts[0][axis]) for axis in TUNING_AXES):
            raise InSilicoError(f"{path}: its arrays or tuning axes differ from those of {paths[0]}")
    return {key: parts[0][key] if key in TUNING_AXES else np.concatenate([part[key] for part in parts])
            for key in parts[0]}
