"""Ground-truth check on simulated data: do the in-silico indices recover the planted neurons'
types (simple/complex, suppressed or not) and orientations, and what does the same protocol give on
the simulator's own neurons (`true_neurons`)?"""

from __future__ import annotations

import numpy as np
import pandas as pd

from v1twin.insilico import InSilicoError
from v1twin.insilico.search import edge_shares
from v1twin.insilico.stimuli import GaborGrid


def axial_circular_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Fisher–Lee circular correlation of two orientations in [0, π) (doubled angles).

    ρ = Σ_{i<j} sin(a_i − a_j) sin(b_i − b_j) / sqrt(Σ_{i<j} sin²(a_i − a_j) · Σ_{i<j} sin²(b_i − b_j)), in O(n)
    through sin(a_i − a_j) = sin a_i cos a_j − cos a_i sin a_j. Unlike the mean-direction based
    coefficient it stays defined for uniformly spread orientations (as the planted ones are); it is 1
    when b is a rotated copy of a.
    """
    a, b = 2 * np.asarray(a, dtype=np.float64), 2 * np.asarray(b, dtype=np.float64)
    sin_a, cos_a, sin_b, cos_b = np.sin(a), np.cos(a), np.sin(b), np.cos(b)
    cross = (sin_a @ sin_b) * (cos_a @ cos_b) - (sin_a @ cos_b) * (cos_a @ sin_b)
    spread_a = (sin_a @ sin_a) * (cos_a @ cos_a) - (sin_a @ cos_a) ** 2
    spread_b = (sin_b @ sin_b) * (cos_b @ cos_b) - (sin_b @ cos_b) ** 2
    return float(cross / np.sqrt(spread_a * spread_b))


def orientation_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Absolute difference of orientations in [0, π/2]."""
    difference = np.mod(np.asarray(a) - np.asarray(b), np.pi)
    return np.minimum(difference, np.pi - difference)


def planted_neuron_table(truth: dict[str, dict[str, np.ndarray]]) -> pd.DataFrame:
    """The planted properties the check compares with, one row per neuron (mice in `truth` order).

    A type is complex if its prototype's phase invariance coordinate exceeds 0.5 (the simulator's naming);
    a type is surround-suppressed if its prototype has any surround weight.
    """
    frames = []
    for mouse, neurons in truth.items():
        parameter_names = [str(name) for name in neurons["type_parameter_names"]]
        coordinates = np.asarray(neurons["type_prototype_coordinates"])
        prototypes = np.asarray(neurons["type_prototypes"])
        complex_type = coordinates[:, parameter_names.index("phase_invariance")] > 0.5
        suppressed_type = prototypes[:, parameter_names.index("surround_suppression")] > 0
        cell_type = np.asarray(neurons["cell_type"])
        frames.append(pd.DataFrame({
            "mouse": mouse, "neuron": np.arange(len(cell_type)), "cell_type": cell_type,
            "type_name": np.asarray(neurons["type_names"]).astype(str)[cell_type],
            "complex_type": complex_type[cell_type], "suppressed_type": suppressed_type[cell_type],
            "planted_orientation": np.asarray(neurons["orientation"]),
        }))
    return pd.concat(frames, ignore_index=True)


TRUTH = "ground truth"  # the variant name of the simulator's own neurons in the check and its figure
TRUTH_SEED = 0  # the noise-free simulator has no training seed


def ground_truth_check(tuning: dict[tuple[str, int], dict[str, np.ndarray]],
                       optimal: dict[tuple[str, int], pd.DataFrame], planted: pd.DataFrame, grid: GaborGrid,
                       ) -> pd.DataFrame:
    """Per (variant, seed), and for the true neurons (TRUTH, TRUTH_SEED): what the in-silico experiments
    recover of the planted neurons, and how often the search's optimum lies on the grid's edge.

    complex vs simple types: mean phase invariance; suppressed vs unsuppressed types: mean surround
    suppression; preferred vs planted orientation: axial circular correlation and median error (degrees);
    `<axis>_at_smallest` / `<axis>_at_largest`: share of optima at the ends of each ordered grid axis.
    """
    complex_type, suppressed = planted["complex_type"].to_numpy(), planted["suppressed_type"].to_numpy()
    true = planted["planted_orientation"].to_numpy()
    rows = []
    for (variant, seed), values in tuning.items():
        if (len(values["unit_id"]) != len(planted)
                or not np.array_equal(values["mouse"], planted["mouse"].to_numpy())):
            raise InSilicoError(f"the tuning of {variant} seed {seed}: its neurons do not match the ground truth "
                                f"({len(values['unit_id'])} vs {len(planted)} neurons)")
        invariance, suppression = values["phase_invariance"], values["surround_suppression"]
        recovered = values["preferred_orientation"]
        row = {
            "variant": variant, "seed": seed,
            "phase_invariance_complex": np.nanmean(invariance[complex_type]),
            "phase_invariance_simple": np.nanmean(invariance[~complex_type]),
            "surround_suppression_suppressed": np.nanmean(suppression[suppressed]),
            "surround_suppression_unsuppressed": np.nanmean(suppression[~suppressed]),
            "orientation_circular_correlation": axial_circular_correlation(recovered, true),
            "orientation_median_error_deg": float(np.degrees(np.median(orientation_error(recovered, true)))),
        }
        row["complex_more_invariant"] = row["phase_invariance_complex"] > row["phase_invariance_simple"]
        row["suppressed_more_suppressed"] = (row["surround_suppression_suppressed"]
                                             > row["surround_suppression_unsuppressed"])
        edges = edge_shares(optimal[(variant, seed)], grid)
        row.update({f"{axis}_at_{end}": edges.loc[axis, end] for axis in edges.index for end in edges.columns})
        rows.append(row)
    return pd.DataFrame(rows)
