"""Training throughput and peak memory of a V1 model on random data (a benchmark, not a test).

Default: the paper-size rotation-equivariant model (16 features × 8 rotations, 4 layers, 36×64 input
with 4 channels, Gaussian readout with shifter, ~8,000 neurons). Each step: Poisson loss
Σ(ŷ − y·log(ŷ + 1e-8)) + regularizer, backward, Adam. Prints images/s and peak memory per device.

    python benchmarks/train_throughput.py --steps 3
    python benchmarks/train_throughput.py --demo --threads 1 --profile 15   # the demo's step, profiled

`--demo` is the demo's model and step (config/config.yaml: 4 features × 8 rotations, 3 layers, kernels 9
and 5, 18×32 input, Gaussian readout with shifter and position network, 500 neurons, batch 16);
`--profile N` prints the N operators with the most self CPU time (torch.profiler) over the timed steps.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import time

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from v1twin.models import MouseInfo, V1Model, build_model

from paper_scale import INPUT_SHAPE, benchmark_devices, synchronize

MOUSE = "benchmark_mouse"
DEMO = {"core": "rotation_equivariant", "channels": 4, "layers": 3, "input_kernel": 9, "hidden_kernel": 5,
        "neurons": 500, "batch_size": 16, "input_shape": (4, 18, 32), "position_network": True}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all",
                        help="'all': CPU, and CUDA if available")
    parser.add_argument("--steps", type=int, default=5, help="timed training steps (after one warm-up step)")
    parser.add_argument("--batch-size", type=int, default=None, help="default: 64 (--demo: the demo's)")
    parser.add_argument("--neurons", type=int, default=8000)
    parser.add_argument("--core", choices=["rotation_equivariant", "cnn"], default="rotation_equivariant")
    parser.add_argument("--channels", type=int, default=16, help="features (per rotation for the equivariant core)")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--demo", action="store_true", help="the demo's model and batch (overrides the sizes)")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print the N costliest operators")
    args = parser.parse_args()
    settings = DEMO if args.demo else {"input_kernel": 13, "hidden_kernel": 5, "input_shape": INPUT_SHAPE,
                                       "position_network": False}
    for key, value in settings.items():
        if key != "batch_size" or args.batch_size is None:
            setattr(args, key, value)
    args.batch_size = args.batch_size or 64
    return args


def make_model(args: argparse.Namespace) -> V1Model:
    rng = np.random.default_rng(0)
    info = MouseInfo(args.neurons, rng.uniform(0, 1000, (args.neurons, 3)), rng.uniform(0.5, 2.0, args.neurons))
    config = {
        "core": {"type": args.core, "channels": args.channels, "layers": args.layers,
                 "input_kernel": args.input_kernel, "hidden_kernel": args.hidden_kernel},
        "readout": {"type": "gaussian", "shifter": True, "position_network": args.position_network},
    }
    return build_model(config, {MOUSE: info}, args.input_shape)


def training_step(model: V1Model, optimizer: torch.optim.Optimizer, batch: tuple[torch.Tensor, ...]) -> float:
    inputs, pupil_center, responses = batch
    optimizer.zero_grad(set_to_none=True)
    predictions = model(inputs, MOUSE, pupil_center)
    loss = (predictions - responses * torch.log(predictions + 1e-8)).sum() + model.regularizer(MOUSE)
    loss.backward()
    optimizer.step()
    return loss.item()


def peak_memory_mib(device: torch.device) -> float:
    """CUDA: peak allocated tensor memory; CPU: the process's peak resident set (Linux reports KiB)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10


def benchmark(args: argparse.Namespace, device: torch.device) -> None:
    torch.manual_seed(0)
    model = make_model(args).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
    generator = torch.Generator(device=device).manual_seed(1)
    batch = (
        torch.randn(args.batch_size, *args.input_shape, device=device, generator=generator),
        torch.randn(args.batch_size, 2, device=device, generator=generator),
        torch.rand(args.batch_size, args.neurons, device=device, generator=generator) * 2,
    )
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    training_step(model, optimizer, batch)  # warm-up: allocator, kernel selection
    synchronize(device)
    profiling = profile(activities=[ProfilerActivity.CPU]) if args.profile else contextlib.nullcontext()
    with profiling as profiler:
        start = time.perf_counter()
        for _ in range(args.steps):
            loss = training_step(model, optimizer, batch)
        synchronize(device)
        seconds_per_step = (time.perf_counter() - start) / args.steps
    parameters = sum(p.numel() for p in model.parameters())
    print(
        f"{device.type:4s} | {args.core} {model.core.output_channels} ch × {args.layers} layers, "
        f"{args.neurons} neurons, {parameters:,} parameters | batch {args.batch_size}: "
        f"{seconds_per_step * 1000:.0f} ms/step, {args.batch_size / seconds_per_step:.1f} images/s, "
        f"peak memory {peak_memory_mib(device):.0f} MiB, final loss {loss:.4g}"
    )
    if args.profile:  # timed with the profiler's overhead: compare ms/step only between unprofiled runs
        print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.profile))


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    for device in benchmark_devices(args.device):
        benchmark(args, device)


if __name__ == "__main__":
    main()
