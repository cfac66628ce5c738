"""Optimal Gabor search: the all-neuron shortcut against the per-neuron reference (a benchmark, not a test).

Both search the same grid (the `insilico.grid` of a config file). The reference runs every Gabor of
the grid, centred on one neuron's learned position, through the full model and keeps that neuron's
response; the shortcut runs each Gabor once through the core on a receptive-field-sized canvas and
reads every neuron of the mouse with one matrix product. Prints Gabors per second and Gabors x
neurons per second of both, their ratio, and how often the two agree on the optimal Gabor.

    python benchmarks/gabor_search.py                       # demo model, demo grid, 5 reference neurons
    python benchmarks/gabor_search.py --snap                # read positions on whole interior pixels
    python benchmarks/gabor_search.py --config config/paper.yaml --reference-neurons 2 --device cuda
    python benchmarks/gabor_search.py --paper-scale --config config/paper.yaml --reference-neurons 1 --device cuda

The shortcut is timed as the insilico_gabor_search rule runs it: `optimal_gabor_table` over every mouse of the
model. --paper-scale replaces the trained model by a randomly initialized one of the papers' size
(paper_scale.py: 16×8 rotation-equivariant core, seven mice, 54,569 neurons), to time the papers' grid.

A Gaussian neuron's learned position is fractional and may sit where the full image's border changes
the core output, so the reference may differ from the shortcut (which reads the core's response to
a Gabor centred on a whole pixel, away from any border). With --snap every read position is first
moved to the nearest whole output pixel whose receptive field lies inside the image: there the two
searches must give the same result (as tests/test_insilico.py checks).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import yaml

from v1twin.insilico.probes import GaussianProbe, make_probe, model_probes
from v1twin.insilico.search import optimal_gabor_table, reference_search
from v1twin.insilico.stimuli import GaborGrid
from v1twin.model_run import SavedRun, load_run

from paper_scale import INPUT_SHAPE, paper_model, synchronize

DEFAULT_MODEL = "results/simulated/models/gaussian_g0/seed1/model.pt"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL, help="a model.pt with a Gaussian readout")
    parser.add_argument("--config", default="config/config.yaml", help="config file whose insilico.grid is searched")
    parser.add_argument("--reference-neurons", type=int, default=5, help="neurons searched by the reference")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--snap", action="store_true", help="move read positions to whole interior output pixels")
    parser.add_argument("--paper-scale", action="store_true", help="a random paper-size model instead of --model")
    return parser.parse_args()


def snap_positions(saved: SavedRun, mouse: str, canvas: int) -> None:
    """Move every free read position to the nearest whole output pixel at least the receptive
    field's reach away from the output's border (where zero padding would change the core output)."""
    readout = saved.model.readouts[mouse]
    if readout.position_network is not None:
        raise SystemExit("--snap needs free positions, not a position network")
    core = saved.model.core
    reach = (canvas - core.input_kernel) // 2
    size = torch.tensor(core.output_size(*saved.input_shape[1:])[::-1], dtype=torch.float32)  # (width, height)
    pixels = ((readout.mu_free.detach().cpu() + 1) / 2 * (size - 1)).round()
    pixels = torch.minimum(pixels.clamp(min=reach), size - 1 - reach)
    readout.mu_free.data = (2 * pixels / (size - 1) - 1).to(readout.mu_free.device)


def paper_scale_model(device: torch.device) -> SavedRun:
    """The random paper-size model, with what a checkpoint would add (unit ids, behaviour medians)."""
    model = paper_model(device).eval()
    mice = list(model.readouts)
    return SavedRun(model, {}, mice, {m: np.arange(model.readouts[m].features.shape[0]) for m in mice},
                    {m: np.zeros(INPUT_SHAPE[0] - 1, dtype=np.float32) for m in mice}, INPUT_SHAPE, {})


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    with open(args.config) as handle:
        grid = GaborGrid.from_config(yaml.safe_load(handle)["insilico"]["grid"])
    saved = paper_scale_model(device) if args.paper_scale else load_run(args.model, device)
    source = "random paper-size model" if args.paper_scale else args.model
    mouse = saved.mice[0]
    probe = make_probe(saved, mouse)
    if not isinstance(probe, GaussianProbe):
        raise SystemExit(f"{source}: the shortcut needs a Gaussian readout")
    if args.snap:
        snap_positions(saved, mouse, probe.height)
    n_neurons = sum(len(ids) for ids in saved.unit_ids.values())
    print(f"{source}: {len(saved.mice)} mice, {n_neurons} neurons, grid of {len(grid)} Gabors, canvas "
          f"{probe.height}x{probe.width} vs input {saved.input_shape[1]}x{saved.input_shape[2]}, device {device}")

    synchronize(device)
    start = time.perf_counter()
    table = optimal_gabor_table(model_probes(saved), grid, location_stride=1, batch_size=args.batch_size)
    synchronize(device)
    shortcut_seconds = time.perf_counter() - start
    first_mouse = table[table["mouse"] == mouse]

    neurons = np.linspace(0, probe.n_neurons - 1, args.reference_neurons).round().astype(int)
    start = time.perf_counter()
    reference = [reference_search(saved.model, mouse, int(n), saved.behavior_median[mouse], grid,
                                  saved.input_shape, batch_size=args.batch_size) for n in neurons]
    synchronize(device)
    reference_seconds = time.perf_counter() - start

    shortcut_rate = len(grid) * n_neurons / shortcut_seconds
    reference_rate = len(grid) * len(neurons) / reference_seconds
    same = sum(int(first_mouse["gabor_index"].iloc[n]) == found for n, (_, found) in zip(neurons, reference))
    difference = max(abs(float(first_mouse["response"].iloc[n]) - value) / value
                     for n, (value, _) in zip(neurons, reference))
    print(f"shortcut : {shortcut_seconds:8.2f} s  {len(grid) * len(saved.mice) / shortcut_seconds:12.0f} Gabors/s  "
          f"{shortcut_rate:14.0f} Gabors x neurons/s  (all {n_neurons} neurons of {len(saved.mice)} mice)")
    print(f"reference: {reference_seconds:8.2f} s  {len(grid) * len(neurons) / reference_seconds:12.0f} Gabors/s  "
          f"{reference_rate:14.0f} Gabors x neurons/s  ({len(neurons)} neurons, one at a time)")
    print(f"speed-up in Gabors x neurons per second: {shortcut_rate / reference_rate:.0f}x")
    print(f"same optimal Gabor for {same} of {len(neurons)} reference neurons; "
          f"largest relative difference of the optimal response {difference:.2e}")


if __name__ == "__main__":
    main()
