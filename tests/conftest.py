"""Shared helpers for the rule-level tests: run the real Snakefile on the tiny config.

The suite runs on the CPU even where a GPU is visible (here and in the Snakemake jobs it starts): it
checks determinism and resume bit for bit, which holds on the CPU only; on a GPU, repeated training
runs agree to about 1e-7 relative (measured on an H100), not exactly.
"""
import functools
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before torch looks for a GPU

import pytest  # noqa: E402
import torch  # noqa: E402

from v1twin import walltime  # noqa: E402
from v1twin.figures import plot_function  # noqa: E402

from helpers import REPO, TINY_CONFIG  # noqa: E402

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


# ---------------------------------------------------------------------------------------------
# Results of the tiny config, and its figures drawn as their rules draw them

TINY_DATASET = "tiny"  # dataset.name of the tiny config


def tiny_results(workdir: Path, *targets: str, figures: Iterable[str] = (), configs: tuple[Path, ...] = ()) -> Path:
    """Build `targets` (paths under results/tiny/) and the registry's `figures` (by name) with the real workflow
    on the tiny config (plus `configs`) in `workdir`; returns results/tiny there. Each rule-level test module's
    `results` fixture is one call of this on the shared tiny_workdir."""
    results = Path("results") / TINY_DATASET
    run_snakemake(workdir, *(str(results / target) for target in targets),
                  *(str(results / "figures" / f"{name}.pdf") for name in figures), configs=configs)
    return workdir / results


# Parses the Snakefile (nothing runs) and writes the figure registry of workflow/rules/figures.smk as JSON.
_REGISTRY_SCRIPT = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, ResourceSettings
snakefile, workdir, output, *configs = sys.argv[1:]
with SnakemakeApi() as api:
    workflow = api.workflow(resource_settings=ResourceSettings(cores=1), snakefile=Path(snakefile),
                            workdir=Path(workdir), config_settings=ConfigSettings(configfiles=list(map(Path, configs))))
    figures = workflow._workflow.globals["FIGURES"]
    entries = {f.name: {"plot": f.plot, "inputs": f.inputs, "options": f.options} for f in figures}
    Path(output).write_text(json.dumps(entries))
"""


@functools.cache
def figure_registry(workdir: Path, configs: tuple[Path, ...] = ()) -> dict[str, dict]:
    """name -> {"plot", "inputs", "options"} of every figure the workflow declares on the tiny config (plus
    `configs`), read from the parsed Snakefile in a subprocess (parsing changes the working directory)."""
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "registry.json"
        arguments = [str(REPO / "Snakefile"), str(workdir), str(output), *map(str, [TINY_CONFIG, *configs])]
        result = subprocess.run([sys.executable, "-c", _REGISTRY_SCRIPT, *arguments], capture_output=True, text=True,
                                timeout=120)
        if result.returncode != 0:
            raise AssertionError(f"reading the figure registry failed:\n{result.stderr[-8000:]}")
        return json.loads(output.read_text())


@dataclass(frozen=True)
class DrawnFigure:
    figure: Any  # the matplotlib Figure the plot function returned
    inputs: dict[str, str | list[str]]  # the rule's named inputs, as paths in the working directory
    options: dict[str, Any]  # the rule's options


def draw_figure(workdir: Path, name: str, pdf: Path, configs: tuple[Path, ...] = ()) -> DrawnFigure:
    """Figure `name` drawn into `pdf` as rule figure_<name> draws it: the registry's plot function called with
    the registry's inputs (which must exist in `workdir`) and options."""
    entry = figure_registry(workdir, configs)[name]
    inputs = {key: [str(workdir / path) for path in value] if isinstance(value, list) else str(workdir / value)
              for key, value in entry["inputs"].items()}
    figure = plot_function(entry["plot"])(**inputs, pdf=str(pdf), **entry["options"])
    return DrawnFigure(figure, inputs, entry["options"])
