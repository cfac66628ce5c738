"""Shared helpers for the rule-level tests: run the real Snakefile on the tiny config.

The suite runs on the CPU even where a GPU is visible (here and in the Snakemake jobs it starts): it
checks determinism and resume bit for bit, which holds on the CPU only; on a GPU, repeated training
runs agree to about 1e-7 relative (measured on an H100), not exactly.
"""
import os
import signal
import subprocess
import sys
from pathlib import Path

os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before torch looks for a GPU

import pytest  # noqa: E402
import torch  # noqa: E402

from v1twin import walltime  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "tests" / "config" / "tiny.yaml"
SNAKEMAKE = Path(sys.executable).with_name("snakemake")


def snakemake_call(workdir: Path, *targets: str, configs: tuple[Path, ...] = (), options: tuple[str, ...] = (),
                   base: Path | None = TINY_CONFIG) -> dict:
    """`args` and `env` for subprocess.run or Popen: the repository's Snakefile in `workdir` on the tiny
    config (plus `configs` merged over it; `base=None` for configs that stand alone).

    Targets come first: `--configfile` takes several values and would swallow them.
    """
    command = [
        str(SNAKEMAKE), *targets, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
        "--cores", "2", *options, "--configfile", *map(str, [base, *configs] if base else configs),
    ]
    return {"args": command, "env": {**os.environ, "OMP_NUM_THREADS": "1"}}


def run_snakemake(workdir: Path, *targets: str, configs: tuple[Path, ...] = (), options: tuple[str, ...] = (),
                  timeout: int = 600, check: bool = True,
                  base: Path | None = TINY_CONFIG) -> subprocess.CompletedProcess:
    """Run Snakemake as `snakemake_call` says; a hard timeout means a test can never hang."""
    call = snakemake_call(workdir, *targets, configs=configs, options=options, base=base)
    result = subprocess.run(**call, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(targets)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}")
    return result


@pytest.fixture(scope="session")
def tiny_workdir(tmp_path_factory) -> Path:
    """A working directory shared by the rule-level tests, so the tiny data is simulated once."""
    return tmp_path_factory.mktemp("tiny_workflow")


@pytest.fixture
def one_thread():
    """Bitwise comparisons need the same thread count throughout; one thread is also the fastest here."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def send_stop_signal(monkeypatch):
    """walltime's SIGUSR1 handler installed for one test; calling the fixture's value sends this
    process the signal that SLURM sends before the time limit. The flag and handler are restored after."""
    monkeypatch.setattr(walltime, "_requested", False)
    previous = signal.getsignal(walltime.SIGNAL)
    walltime.install()
    yield lambda: os.kill(os.getpid(), walltime.SIGNAL)
    signal.signal(walltime.SIGNAL, previous)
