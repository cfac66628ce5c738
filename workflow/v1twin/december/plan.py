"""The runs of the config's `december` section, every setting a job needs resolved once.

D25's protocol (Sec. 4, l. 45-62; METHODS §5). The baseline is the DECEMber variant trained to
convergence by `training_run` (early stopping on validation correlation, the variant's max_epochs),
one model per seed. A `PretrainRun` is the first PE epochs of that very run (same variant, seed, data
and training settings; see `v1twin.december.pretrain`), shared by every K, β ratio and learning rate of
that PE and seed. A `DecemberRun` continues it with the clustering loss until early stopping, with the
baseline's training settings (only the learning rate may be swept) and what is left of its epoch budget:
at most max_epochs − PE epochs, so that no run trains longer than its baseline and a difference between
them is the loss's, not extra training (D25 trains both to early stopping; the cap is our budget). β is
not a setting: each run derives it from its `beta_ratio` and the model loss at its start
(`v1twin.december.pretrain.model_loss_per_step`).

Runs are keyed by their name, the folder under `<results>/december/` and the rules' wildcard; the name is
made from the settings and never parsed back. The main grid is K × β ratio × seed at the main PE and
lr (D25 Fig. 4); the PE sweep varies PE at figure_k and the main ratio (Fig. 5C); the lr sweep is the
grid lr × PE at figure_k (Fig. 5A/B); the retina-style check (Fig. 3) is one setting on its own variant.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from v1twin.december.loss import DecemberSettings
from v1twin.identifiability import populations

ROW_FIELDS = ("variant", "pe", "k", "beta_ratio", "lr", "seed")  # what tells runs apart, as table columns
SETTING_FIELDS = ("pe", "beta_ratio", "lr")  # the main setting; the grids vary these (and K)


def number(value: float) -> str:
    """A number as it appears in paths: shortest form (1000.0 → 1000, 0.005 → 0.005, 1e-05 → 1e-05)."""
    return f"{float(value):g}"


@dataclass(frozen=True)
class PretrainRun:
    """The first PE epochs of the baseline run `models/<variant>/seed<seed>` (D25's pretraining)."""

    variant: str
    pe: int
    seed: int
    mice: list[str]
    model: dict[str, Any]  # the variant's core and readout
    training: dict[str, Any]  # the variant's training settings, unchanged: the replay stops after PE epochs

    @property
    def name(self) -> str:
        return f"{self.variant}/pretrain-pe{self.pe}/seed{self.seed}"


@dataclass(frozen=True)
class DecemberRun:
    """One DECEMber model: variant, pretraining epochs, K, β ratio, learning rate, seed, and the rest of
    what its job needs (ν, k-means restarts, the variant's mice, model and training settings)."""

    variant: str
    pe: int
    k: int
    beta_ratio: float
    lr: float
    seed: int
    nu: float
    kmeans_n_init: int
    mice: list[str]
    model: dict[str, Any]  # the variant's core and readout
    training: dict[str, Any]  # the variant's training settings with this lr and max_epochs − pe

    @property
    def name(self) -> str:
        """The run's folder under <results>/december/, e.g. v/pe3-k6-ratio1-lr0.01/seed1."""
        return (f"{self.variant}/pe{self.pe}-k{self.k}-ratio{number(self.beta_ratio)}-lr{number(self.lr)}"
                f"/seed{self.seed}")

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

    def settings(self, beta: float) -> DecemberSettings:
        """The clustering loss of this run at strength β (ratio × the model loss at its start); the seed
        also seeds its k-means start."""
        return DecemberSettings(k=self.k, beta=beta, nu=self.nu, kmeans_n_init=self.kmeans_n_init,
                                random_state=self.seed)


def main_setting(config: dict, variants: dict[str, dict]) -> dict[str, Any]:
    """The main setting {"pe", "beta_ratio", "lr"} (lr null: the variant's); the grids vary it."""
    section = config["december"]
    lr = section["lr"] or variants[section["variant"]]["training"]["lr"]
    return {"pe": section["pretrain_epochs"], "beta_ratio": section["beta_ratio"], "lr": lr}


def main_seeds(config: dict, variants: dict[str, dict]) -> list[int]:
    """The seeds of the main grid: the section's `seeds`, else the variant's (its converged baselines)."""
    section = config["december"]
    return section.get("seeds") or variants[section["variant"]]["seeds"]


def own_setting(config: dict, variants: dict[str, dict], variant: str) -> dict[str, Any]:
    """The main PE and β ratio with `variant`'s own learning rate: the setting of DECEMber on a model
    other than the section's (the retina-style check, the identifiability populations)."""
    section = config["december"]
    return {"pe": section["pretrain_epochs"], "beta_ratio": section["beta_ratio"],
            "lr": variants[variant]["training"]["lr"]}


def retina_setting(config: dict, variants: dict[str, dict]) -> dict[str, Any] | None:
    """The retina-style check's setting (its variant's lr, the main PE and ratio), None without one."""
    retina = config["december"].get("retina")
    return own_setting(config, variants, retina["variant"]) if retina else None


def plan(config: dict, variants: dict[str, dict]) -> dict[str, DecemberRun]:
    """Every run by name: the main grid (K × β ratio × seed), the PE sweep and the lr × PE grid (at
    figure_k, the main ratio, a sweep's own `seeds` or the main grid's), and the retina-style check
    (its K, every seed of its variant). A run two grids share is one run."""
    section = config["december"]
    variant = section["variant"]
    seeds = main_seeds(config, variants)
    main = main_setting(config, variants)
    figure_k, sweeps = section["figure_k"], section["sweeps"]
    points = [(variant, k, {**main, "beta_ratio": ratio}, seed)
              for k in section["k_values"] for ratio in section["beta_ratios"] for seed in seeds]
    pe_values = sweeps.get("pretrain_epochs", {}).get("values", [main["pe"]])
    if "pretrain_epochs" in sweeps:
        pe_seeds = sweeps["pretrain_epochs"].get("seeds") or seeds
        points += [(variant, figure_k, {**main, "pe": int(pe)}, seed)
                   for pe, seed in itertools.product(pe_values, pe_seeds)]
    if "lr" in sweeps:
        lr_seeds = sweeps["lr"].get("seeds") or seeds
        points += [(variant, figure_k, {**main, "pe": int(pe), "lr": lr}, seed)
                   for lr, pe, seed in itertools.product(sweeps["lr"]["values"], pe_values, lr_seeds)]
    retina = retina_setting(config, variants)
    if retina is not None:
        name = section["retina"]["variant"]
        points += [(name, section["retina"]["k"], retina, seed) for seed in variants[name]["seeds"]]
    runs = [_run(section, variants[name], name, k, setting, seed) for name, k, setting, seed in points]
    return {run.name: run for run in runs}


def _run(section: dict, variant: dict, name: str, k: int, setting: dict[str, Any], seed: int) -> DecemberRun:
    """A run with the baseline's training settings, its lr, and the epochs its pretraining left of max_epochs."""
    max_epochs = variant["training"]["max_epochs"] - setting["pe"]
    training = {**variant["training"], "lr": setting["lr"], "max_epochs": max_epochs}
    return DecemberRun(name, setting["pe"], k, setting["beta_ratio"], setting["lr"], seed, section["nu"],
                       section["kmeans_n_init"], list(variant["mice"]), _model(variant), training)


def population_runs(config: dict, variants: dict[str, dict]) -> dict[str, DecemberRun]:
    """DECEMber on the identifiability populations (`identifiability.december`), by name: every
    population's fit at each K of `december.k_values`, its own setting (`own_setting`), on the section's
    seeds. Apart from `plan`: the stage's tables compare the study's runs; these feed the identifiability
    table. Empty without both sections."""
    section = config.get("identifiability")
    if not config.get("december") or not section or not section.get("december"):
        return {}
    runs = [_run(config["december"], variants[population.variant], population.variant, k,
                 own_setting(config, variants, population.variant), seed)
            for population in populations(section) for k in config["december"]["k_values"]
            for seed in section["seeds"]]
    return {run.name: run for run in runs}


def pretraining(config: dict, variants: dict[str, dict]) -> dict[str, PretrainRun]:
    """The pretraining runs every DECEMber run (the stage's and the populations') starts from, by name."""
    runs = [*plan(config, variants).values(), *population_runs(config, variants).values()]
    return {run.pretrain: PretrainRun(run.variant, run.pe, run.seed, run.mice, run.model,
                                      dict(variants[run.variant]["training"]))
            for run in runs}


def _model(variant: dict) -> dict[str, Any]:
    return {key: variant[key] for key in ("core", "readout")}


def setting_runs(runs: dict[str, DecemberRun], variant: str, setting: dict[str, Any], k: int | None = None,
                 free: str | None = None) -> list[DecemberRun]:
    """The runs of `variant` at `setting` (and K = k when given) except in `free`, sorted by (free, seed)."""
    fixed = {name: value for name, value in setting.items() if name != free}
    chosen = [run for run in runs.values() if run.variant == variant and (k is None or run.k == k)
              and all(getattr(run, name) == value for name, value in fixed.items())]
    return sorted(chosen, key=lambda run: (getattr(run, free) if free else 0, run.k, run.seed))


def variant_runs(runs: dict[str, DecemberRun], variant: str) -> dict[str, DecemberRun]:
    """The runs of one variant, by name."""
    return {name: run for name, run in runs.items() if run.variant == variant}
