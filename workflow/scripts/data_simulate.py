"""Snakemake entry point of rule data_simulate: one simulated mouse in its Sensorium file tree.

A static mouse is written in the Sensorium 2022 layout (images), a video mouse in the 2023 one (videos).
The mouse folder is written into a temporary sibling renamed into place at the end, and the ground
truth (an .npz beside the folder) is written atomically too.
"""
import logging
from pathlib import Path

import numpy as np

import package_path  # noqa: F401  (puts workflow/ on sys.path: v1twin comes from this checkout)

from v1twin.data.sensorium_dynamic import write_dynamic_mouse
from v1twin.data.sensorium_static import write_mouse
from v1twin.data.simulate import save_ground_truth, simulate_mouse, simulation_summary
from v1twin.data.simulate_dynamic import simulate_dynamic_mouse
from v1twin.files import rule_log, staged_folder


def static_mouse(folder: Path, simulation: dict, seed: int, stimulus_seed: int) -> dict:
    """An image mouse written into `folder`; returns its ground truth."""
    arrays, truth = simulate_mouse(simulation, seed=seed, stimulus_seed=stimulus_seed)
    summary = simulation_summary(arrays, truth)
    logging.info("trials per tier %s, %d neurons, %d types (%s), discreteness %s",
                 summary["trials_per_tier"], summary["neurons"], len(summary["types"]),
                 ", ".join(summary["types"]), summary["discreteness"])
    logging.info("neurons per type %s, %d labelled", summary["type_counts"], summary["labelled"])
    logging.info("mean rate %.3f, mean response %.3f, mean jackknife oracle %.3f (test tier)",
                 summary["mean_rate"], summary["mean_response"], summary["mean_oracle"])
    write_mouse(folder, arrays)
    return truth


def video_mouse(folder: Path, simulation: dict, seed: int, stimulus_seed: int) -> dict:
    """A video mouse written into `folder`; returns its ground truth."""
    arrays, truth = simulate_dynamic_mouse(simulation, seed=seed, stimulus_seed=stimulus_seed)
    tiers, counts = np.unique(arrays.tiers, return_counts=True)
    logging.info("trials per tier %s, %d neurons, %d types (%s), mean rate %.3f",
                 dict(zip(tiers.tolist(), counts.tolist())), len(arrays.unit_ids), len(truth["type_names"]),
                 ", ".join(map(str, truth["type_names"])), float(np.nanmean(truth["rates"])))
    write_dynamic_mouse(folder, arrays)
    return truth


SIMULATORS = {"static": static_mouse, "dynamic": video_mouse}  # by layout, as rule data_cache's builders


def simulate_into(mouse_folder: Path, truth_file: Path, layout: str, simulation: dict, seed: int,
                  stimulus_seed: int) -> None:
    logging.info("simulating the %s mouse %s (seed %d, stimulus seed %d)", layout, mouse_folder.name, seed,
                 stimulus_seed)
    with staged_folder(mouse_folder) as staging:
        truth = SIMULATORS[layout](staging, simulation, seed, stimulus_seed)
    save_ground_truth(truth_file, truth)
    logging.info("done: %s and %s", mouse_folder, truth_file)


with rule_log(snakemake.log[0]):  # noqa: F821
    rule = snakemake  # noqa: F821
    simulate_into(Path(rule.output.mouse), Path(rule.output.truth), rule.params.layout, dict(rule.params.simulation),
                  int(rule.params.seed), int(rule.params.stimulus_seed))
