"""In-silico experiments on trained models (METHODS §7; R24 §4 and A.2; Burg et al. 2021).

For every neuron: the optimal Gabor (joint argmax of the predicted response over a grid of sizes,
relative spatial frequencies, contrasts, orientations, phases and, for factorized readouts,
locations), then tuning experiments built from it (orientation, phase, surround suppression,
cross-orientation inhibition), their indices, and the consistency of the indices across seeds (NMAE).

All stimuli are in normalized input units on a gray (0) background; the behaviour channels are held
at the mouse's training-set medians and the shifter is off. Pixel units are those of the model input.

Modules, in the order they build on each other: `stimuli` (Gabors, grating disks, the search grid),
`probes` (stimuli -> one mouse's responses), `search` (the optimal Gabor of every neuron, the share of
optima on the grid's edges), `tuning` (experiments and their curves, tuning.npz), `indices` (OSI, PI,
SI, COI), `consistency` (NMAE across seeds, R24 Table 1), `true_neurons` (the simulator's own neurons
behind the probe interface, so the same search and experiments give the ground truth) and
`ground_truth` (indices of the models and of the true neurons against the planted neurons).
"""


class InSilicoError(ValueError):
    """A model or table file that the in-silico experiments cannot use; the message names the file."""
