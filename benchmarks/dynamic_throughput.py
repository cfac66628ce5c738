"""Forward + backward throughput of the paper-size video cores on random data (a benchmark, not a test).

Both forms of the rotation-equivariant dynamic core (METHODS §10): 16 features × 8 rotations, 4 layers,
spatial kernels 13 and 5, temporal kernels 11 and 5, on 36×64 frames with 5 input channels (video, two
behaviour and two pupil-centre channels). Each step: forward in training mode, sum of squares of the
output plus the core regularizer, backward. Prints frames/s (batch × frames per second) per device and the
peak memory: on CUDA the form's own peak allocation, on the CPU the process's peak resident set so far
(run one form per call, `--forms 3d`, for that form's own).

    python benchmarks/dynamic_throughput.py --threads 2
    python benchmarks/dynamic_throughput.py --batch-size 2 --frames 30 --device cpu   # a quicker look
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from v1twin.models.dynamic_cores import RotationEquivariant3dCore, RotationEquivariantFactorizedCore

from paper_scale import benchmark_devices, synchronize

FORMS = {"factorized": RotationEquivariantFactorizedCore, "3d": RotationEquivariant3dCore}
PAPER_CORE = {"channels": 16, "rotations": 8, "layers": 4, "input_kernel": 13, "hidden_kernel": 5,
              "input_kernel_time": 11, "hidden_kernel_time": 5, "gamma_input": 1.0, "gamma_hidden": 0.1,
              "bn_momentum": 0.9, "hermite_basis": "analytic"}
IN_CHANNELS = 5
FRAME_SIZE = (36, 64)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all",
                        help="'all': CPU, and CUDA if available")
    parser.add_argument("--steps", type=int, default=1, help="timed steps (after one warm-up step)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--forms", nargs="+", choices=sorted(FORMS), default=["factorized", "3d"])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    return parser.parse_args()


def training_step(core: torch.nn.Module, videos: torch.Tensor) -> None:
    core.zero_grad(set_to_none=True)
    loss = core(videos).pow(2).mean() + core.regularizer()
    loss.backward()


def benchmark(args: argparse.Namespace, form: str, device: torch.device) -> None:
    torch.manual_seed(0)
    core = FORMS[form](IN_CHANNELS, **PAPER_CORE).to(device).train()
    generator = torch.Generator(device=device).manual_seed(1)
    videos = torch.randn(args.batch_size, IN_CHANNELS, args.frames, *FRAME_SIZE, device=device, generator=generator)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    training_step(core, videos)  # warm-up: allocator, kernel selection
    synchronize(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        training_step(core, videos)
    synchronize(device)
    seconds_per_step = (time.perf_counter() - start) / args.steps
    parameters = sum(p.numel() for p in core.parameters())
    print(f"{device.type:4s} | {form:10s} core, {parameters:,} parameters | batch {args.batch_size} × "
          f"{args.frames} frames: {seconds_per_step:.2f} s/step, "
          f"{args.batch_size * args.frames / seconds_per_step:.1f} frames/s forward+backward, {peak_memory(device)}")


def peak_memory(device: torch.device) -> str:
    if device.type == "cuda":
        return f"peak GPU memory {torch.cuda.max_memory_allocated(device) / 2**30:.2f} GiB"
    return f"peak process RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB"  # ru_maxrss: KiB


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    for device in benchmark_devices(args.device):
        for form in args.forms:
            benchmark(args, form, device)


if __name__ == "__main__":
    main()
