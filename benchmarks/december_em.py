"""DECEMber's overhead per training step at the paper's scale (a benchmark, not a test).

Default: 54,569 neurons (the seven Sensorium 2022 mice) × 128 dimensions (16 features × 8 rotations),
K = 50. Times, per optimizer step, (a) the clustering loss forward + backward through the aligned,
normalized embedding, (b) the EM step, and (c) one training step of the paper-size model (rotation-
equivariant core 16×8, 4 layers, 36×64 input; Gaussian readouts with shifter; one batch per mouse,
gradients summed, Adam), and prints (a + b) / (c). D25's budget: at most 10% of a step on a GPU.

    python benchmarks/december_em.py --device cpu --threads 2 --steps 2
    python benchmarks/december_em.py --device cuda
"""

from __future__ import annotations

import argparse
import time

import torch

from v1twin import training
from v1twin.config_schema import with_defaults
from v1twin.december.loss import DecemberLoss, DecemberSettings

from paper_scale import INPUT_SHAPE, SENSORIUM_NEURONS, paper_model, timed


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=128, help="images per mouse per step (paper.yaml)")
    parser.add_argument("--steps", type=int, default=3, help="timed repetitions of each part (after one warm-up)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--skip-model", action="store_true", help="time only the DECEMber parts")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model = paper_model(device, {"type": "gaussian", "shifter": True, "regularizer": "adaptive", "gamma": 10.0})
    nu = with_defaults({"variant": "paper"}, "december")["nu"]  # the schema's ν
    settings = DecemberSettings(k=args.k, beta=1e4, nu=nu, kmeans_n_init=1, random_state=0)
    loss = DecemberLoss(settings, list(model.readouts))
    start = time.perf_counter()
    loss.start(model)
    print(f"initialization (alignment + k-means, n_init 1): {time.perf_counter() - start:.1f} s")
    n, dimensions = loss.means.shape[0], loss.means.shape[1]
    print(f"{sum(SENSORIUM_NEURONS)} neurons x {dimensions} dims, K = {n}, device {device}, threads {args.threads}")

    def clustering_loss() -> None:
        model.zero_grad(set_to_none=True)
        loss.loss(model).backward()

    def em() -> None:
        loss.after_step(model)

    loss_seconds = timed(clustering_loss, args.steps, device)
    em_seconds = timed(em, args.steps, device)
    print(f"clustering loss forward + backward: {1e3 * loss_seconds:.1f} ms/step")
    print(f"EM step:                            {1e3 * em_seconds:.1f} ms/step")
    if args.skip_model:
        return
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
    generator = torch.Generator().manual_seed(0)
    batches = {mouse: (torch.randn(args.batch_size, *INPUT_SHAPE, generator=generator).to(device),
                       torch.randn(args.batch_size, 2, generator=generator).to(device),
                       torch.rand(args.batch_size, readout.features.shape[0], generator=generator).to(device))
               for mouse, readout in model.readouts.items()}

    def training_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        for mouse, (inputs, pupil_center, responses) in batches.items():
            scale = training.loss_scale(4500, args.batch_size)
            objective = scale * training.poisson_loss(model(inputs, mouse, pupil_center), responses)
            (objective + model.regularizer(mouse)).backward()
        optimizer.step()

    model.train()
    step_seconds = timed(training_step, args.steps, device)
    overhead = loss_seconds + em_seconds
    print(f"training step ({len(batches)} mice x {args.batch_size} images): {1e3 * step_seconds:.1f} ms/step")
    print(f"DECEMber overhead: {1e3 * overhead:.1f} ms = {100 * overhead / step_seconds:.1f}% of a training step "
          f"(EM alone {100 * em_seconds / step_seconds:.1f}%)")


if __name__ == "__main__":
    main()
