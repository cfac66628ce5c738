"""Turn the validated workflow config into the concrete list of models to train.

Variants are named model definitions; sweeps expand one variant along one parameter into
variants named `<sweep>-<value>`. Keeping this in the package (not in the Snakefile) makes it
unit-testable and lets every rule file agree on the same names.
"""
import copy
from typing import Any


def sweep_variant_name(sweep: str, value: Any) -> str:
    """Name of the variant a sweep creates for one value, e.g. `factorized_gamma-0.003`."""
    return f"{sweep}-{value}"


def _set_dotted(mapping: dict, dotted_key: str, value: Any) -> None:
    section, key = dotted_key.split(".")
    mapping.setdefault(section, {})[key] = value


def expand_variants(config: dict) -> dict[str, dict]:
    """All variants (named ones and sweep-generated ones), each with its seeds.

    Returns name -> {"core", "readout", "training", "seeds"}; "training" is the global training
    settings overridden by the variant's own.
    """
    variants = {}
    for name, variant in config["variants"].items():
        variants[name] = _resolved(variant, config, config["seeds"])
    for sweep_name, sweep in config.get("sweeps", {}).items():
        if sweep["base"] not in config["variants"]:
            raise ValueError(
                f"sweep '{sweep_name}': base variant '{sweep['base']}' is not defined under 'variants' "
                f"(known: {', '.join(config['variants'])})"
            )
        for value in sweep["values"]:
            variant = copy.deepcopy(config["variants"][sweep["base"]])
            _set_dotted(variant, sweep["parameter"], value)
            name = sweep_variant_name(sweep_name, value)
            variants[name] = _resolved(variant, config, sweep.get("seeds", config["seeds"]))
    return variants


def _resolved(variant: dict, config: dict, seeds: list[int]) -> dict:
    training = {**config["training"], **variant.get("training", {})}
    return {
        "core": copy.deepcopy(variant["core"]),
        "readout": copy.deepcopy(variant["readout"]),
        "training": training,
        "seeds": list(seeds),
    }


def training_runs(variants: dict[str, dict]) -> list[tuple[str, int]]:
    """Every (variant, seed) pair that has to be trained."""
    return [(name, seed) for name, variant in variants.items() for seed in variant["seeds"]]
