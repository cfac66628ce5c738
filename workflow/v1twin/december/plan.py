"""The runs of the config's `december` section, every setting a job needs resolved once.

A run is one DECEMber model: the base variant pretrained for PE epochs (a `PretrainRun`, shared by
every K, β and learning rate of that PE and seed), then trained on with the loss. Runs are keyed by
their name, the folder under `<results>/december/` and the rules' wildcard; the name is made from the
settings and never parsed back. The main grid is every K × seed at one setting (PE, β, lr); a sweep
varies one of them at `figure_k`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from v1twin.december.loss import DecemberSettings

SWEEP_KEYS = {"beta": "beta", "pretrain_epochs": "pe", "lr": "lr"}  # config sweep name -> DecemberRun field
ROW_FIELDS = ("variant", "pe", "k", "beta", "lr", "seed")  # what tells runs apart, as table columns


def number(value: float) -> str:
    """A number as it appears in paths: shortest form (1000.0 → 1000, 0.005 → 0.005, 1e-05 → 1e-05)."""
    return f"{float(value):g}"


@dataclass(frozen=True)
class PretrainRun:
    """The base variant trained for PE epochs without the clustering loss (D25's pretraining)."""

    variant: str
    pe: int
    seed: int
    model: dict[str, Any]  # the variant's core and readout
    training: dict[str, Any]  # the variant's training settings, max_epochs = PE

    @property
    def name(self) -> str:
        return f"{self.variant}/pretrain-pe{self.pe}/seed{self.seed}"


@dataclass(frozen=True)
class DecemberRun:
    """One DECEMber model: base variant, pretraining epochs, K, β, learning rate, seed, and the rest of
    what its job needs (ν, k-means restarts, the variant's model and training settings)."""

    variant: str
    pe: int
    k: int
    beta: float
    lr: float
    seed: int
    nu: float
    kmeans_n_init: int
    model: dict[str, Any]  # the variant's core and readout
    training: dict[str, Any]  # the variant's training settings with DECEMber's epochs and lr

    @property
    def name(self) -> str:
        """The run's folder under <results>/december/, e.g. v/pe3-k6-beta1000-lr0.01/seed1."""
        return f"{self.variant}/pe{self.pe}-k{self.k}-beta{number(self.beta)}-lr{number(self.lr)}/seed{self.seed}"

    @property
    def pretrain(self) -> str:
        """The name of the pretraining run it starts from."""
        return f"{self.variant}/pretrain-pe{self.pe}/seed{self.seed}"

    def folder(self, results: str) -> str:
        """The run's output folder under the dataset's results folder."""
        return f"{results}/december/{self.name}"

    def row(self) -> dict[str, Any]:
        """The settings that tell runs apart, as table columns."""
        return {field: getattr(self, field) for field in ROW_FIELDS}

    def settings(self) -> DecemberSettings:
        """The clustering loss of this run; the seed also seeds its k-means start."""
        return DecemberSettings(k=self.k, beta=self.beta, nu=self.nu, kmeans_n_init=self.kmeans_n_init,
                                random_state=self.seed)


def main_setting(config: dict, variants: dict[str, dict]) -> dict[str, Any]:
    """The main grid's {"pe", "beta", "lr"} (lr null: the base variant's); a sweep varies one of them."""
    section = config["december"]
    lr = section["lr"] or variants[section["variant"]]["training"]["lr"]
    return {"pe": section["pretrain_epochs"], "beta": section["beta"], "lr": lr}


def main_seeds(config: dict, variants: dict[str, dict]) -> list[int]:
    """The seeds of the main grid: the section's `seeds`, else the base variant's."""
    section = config["december"]
    return section.get("seeds") or variants[section["variant"]]["seeds"]


def plan(config: dict, variants: dict[str, dict]) -> dict[str, DecemberRun]:
    """Every run of the main grid (each K, all seeds) and of the sweeps (at figure_k, a sweep's own
    `seeds` or the main grid's), by name."""
    section = config["december"]
    seeds = main_seeds(config, variants)
    main = main_setting(config, variants)
    points = [(k, main, seed) for k in section["k_values"] for seed in seeds]
    for name, sweep in section["sweeps"].items():
        values = itertools.product(sweep["values"], sweep.get("seeds") or seeds)
        points += [(section["figure_k"], {**main, SWEEP_KEYS[name]: value}, seed) for value, seed in values]
    runs = [_run(section, variants, k, setting, seed) for k, setting, seed in points]
    return {run.name: run for run in runs}  # a run of the main grid that a sweep repeats is one run


def _run(section: dict, variants: dict[str, dict], k: int, setting: dict[str, Any], seed: int) -> DecemberRun:
    variant = variants[section["variant"]]
    return DecemberRun(section["variant"], setting["pe"], k, setting["beta"], setting["lr"], seed, section["nu"],
                       section["kmeans_n_init"], _model(variant),
                       _training(variant, lr=setting["lr"], max_epochs=section["epochs"]))


def pretraining(config: dict, variants: dict[str, dict]) -> dict[str, PretrainRun]:
    """The pretraining runs the DECEMber runs start from, by name."""
    variant = variants[config["december"]["variant"]]
    return {run.pretrain: PretrainRun(run.variant, run.pe, run.seed, _model(variant),
                                      _training(variant, max_epochs=run.pe))
            for run in plan(config, variants).values()}


def _model(variant: dict) -> dict[str, Any]:
    return {key: variant[key] for key in ("core", "readout")}


def _training(variant: dict, **overrides: Any) -> dict[str, Any]:
    """The variant's training settings with a DECEMber stage's changes: the one place they are merged."""
    return {**variant["training"], **overrides}


def main_runs(runs: dict[str, DecemberRun], main: dict[str, Any], k: int) -> list[DecemberRun]:
    """The runs of the main setting at K = k (every seed)."""
    return [run for run in runs.values()
            if run.k == k and all(getattr(run, key) == value for key, value in main.items())]


def sweep_runs(runs: dict[str, DecemberRun], main: dict[str, Any], key: str, k: int, seed: int) -> list[DecemberRun]:
    """The runs of one seed at K = k that differ from the main setting in `key` only, sorted by it."""
    fixed = {name: value for name, value in main.items() if name != key}
    chosen = [run for run in runs.values() if run.k == k and run.seed == seed
              and all(getattr(run, name) == value for name, value in fixed.items())]
    return sorted(chosen, key=lambda run: getattr(run, key))
