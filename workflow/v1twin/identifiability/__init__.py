"""Identifiability (METHODS §11): how far apart must planted types be for clustering to find them?

The papers read "no discrete types" from an across-seed ARI curve without a peak at any K (R24, D25).
That inference is only as strong as the methods' power, which the simulator can measure: populations
whose type prototypes lie `type_separation` within-type spreads apart (down to 0, one type) and a
continuum, each fitted with one model on several seeds and clustered for every K. Per population and
method: the ARI with the planted types at the true K, the ARI across seeds over K, and whether that
curve peaks at the true K by a stated criterion (`tables.peak`).

This module is the plan (light, imported when the workflow is parsed): the populations are simulated
mice added to `dataset.extra_mice` and the fits variants added to `variants` (`with_populations`), so
the data, training and clustering rules treat them as any other. `tables` computes the results.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

from v1twin.config_schema import ConfigError

CONTINUUM = "continuum"
MOUSE_PREFIX = "identifiability_"
VARIANT_PREFIX = "identifiability-"


@dataclass(frozen=True)
class Population:
    """One simulated population of the analysis and the model fitted to it."""

    label: str  # the separation as written in names ("4", "0.5") or "continuum"
    separation: float | None  # within-type spreads between the nearest prototypes; None: the continuum
    mouse: str
    variant: str
    simulation: dict  # dataset.extra_mice overrides of this mouse


def _label(separation: float) -> str:
    return f"{separation:g}"


def populations(section: dict) -> list[Population]:
    """The populations of the config section `identifiability`, in separation order, then the continuum."""
    found = []
    for separation in sorted(section["separations"], reverse=True):
        label = _label(separation)
        found.append(Population(label, float(separation), MOUSE_PREFIX + label.replace(".", "p"),
                                VARIANT_PREFIX + label, {**section["population"], "type_separation": separation}))
    if section["continuum"]:
        found.append(Population(CONTINUUM, None, MOUSE_PREFIX + CONTINUUM, VARIANT_PREFIX + CONTINUUM,
                                {**section["population"], "discreteness": 0.0}))
    return found


def with_populations(config: dict) -> dict:
    """The config with every population as a simulated mouse and its fit as a variant (the configured
    `identifiability.variant` on that mouse, on the section's seeds); unchanged without the section."""
    section = config.get("identifiability")
    if not section:
        return config
    if "simulation" not in config["dataset"]:
        raise ConfigError("identifiability: its populations are simulated mice; it needs a dataset.simulation "
                          "section (the simulator's settings), also beside downloaded mice")
    if section["variant"] not in config["variants"]:
        raise ConfigError(f"identifiability.variant: {section['variant']!r} is not defined under 'variants' "
                          f"(known: {', '.join(config['variants'])})")
    _check_section(config, section)
    config = copy.deepcopy(config)
    mice, variants = config["dataset"]["extra_mice"], config["variants"]
    for population in populations(section):
        for where, names, name in (("dataset.extra_mice", mice, population.mouse),
                                   ("variants", variants, population.variant)):
            if name in names:
                raise ConfigError(f"{where}.{name}: the name is the identifiability analysis's; rename it")
        mice[population.mouse] = population.simulation
        fit = copy.deepcopy(variants[section["variant"]])
        variants[population.variant] = {**fit, "mice": [population.mouse], "seeds": section["seeds"]}
    return config


def true_k(config: dict) -> int:
    """The planted K of every population: its n_types."""
    return {**config["dataset"]["simulation"], **config["identifiability"]["population"]}["n_types"]


def population_description(config: dict) -> str:
    """The populations' size for a figure title, e.g. '150 neurons, 6 types, 1 mouse each'."""
    simulation = {**config["dataset"]["simulation"], **config["identifiability"]["population"]}
    return f"{simulation['neurons']} neurons, {simulation['n_types']} types, one mouse each"


def _check_section(config: dict, section: dict) -> None:
    """Separations the prototypes allow, and a true K inside the tested K (a peak needs both neighbours)."""
    from v1twin.data.simulate import design_separation  # scipy's import (1 s) only where it is needed

    k, k_values = true_k(config), sorted(config["clustering"]["k_values"])
    largest = design_separation(k)
    beyond = [s for s in section["separations"] if s > largest]
    if beyond:
        raise ConfigError(f"identifiability.separations: {beyond} are beyond the design's separation for "
                          f"n_types = {k} ({largest:.2f}), the most the prototypes allow")
    if k not in k_values[1:-1]:
        raise ConfigError(f"identifiability: the planted K ({k}, n_types) must be an inner value of "
                          f"clustering.k_values {k_values}, so that a peak there has a neighbour on each side")
    if section.get("december"):
        if not config.get("december"):
            raise ConfigError("identifiability.december: DECEMber on the populations needs a `december:` section "
                              "(its K values, PE, beta ratio)")
        december_k = sorted(config["december"]["k_values"])
        if k not in december_k[1:-1]:
            raise ConfigError(f"identifiability.december: the planted K ({k}, n_types) must be an inner value of "
                              f"december.k_values {december_k}, so that a peak there has a neighbour on each side")


def population_params(populations_: list[Population]) -> list[dict]:
    """The populations as rule params (plain dicts)."""
    return [asdict(population) for population in populations_]


def from_params(params: list[dict]) -> list[Population]:
    return [Population(**population) for population in params]
