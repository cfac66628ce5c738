"""Turn the validated workflow config into the concrete list of models to train.

Variants are named model definitions; sweeps expand one variant along one parameter into
variants named `<sweep>-<value>`, or along the product of several parameters (a `grid`) into
variants named `<sweep>-<value 1>-<value 2>`. Keeping this in the package (not in the Snakefile)
makes it unit-testable and lets every rule file agree on the same names.
"""
import copy
import itertools
from typing import Any


def sweep_variant_name(sweep: str, *values: Any) -> str:
    """Name of the variant a sweep creates for one point, e.g. `factorized_gamma-0.003`, `adaptive-1.0-0.1`."""
    return "-".join([sweep, *map(str, values)])


def sweep_grid(sweep: dict) -> dict[str, list]:
    """parameter -> values of a sweep: its `grid`, or its single `parameter` with its `values`."""
    if "grid" in sweep:
        return dict(sweep["grid"])
    return {sweep["parameter"]: list(sweep["values"])}


def sweep_points(sweep_name: str, sweep: dict) -> dict[str, dict[str, Any]]:
    """Every variant a sweep creates -> its parameter values, over the product of the grid's values
    (the first parameter varies slowest)."""
    grid = sweep_grid(sweep)
    return {
        sweep_variant_name(sweep_name, *values): dict(zip(grid, values))
        for values in itertools.product(*grid.values())
    }


def _set_dotted(mapping: dict, dotted_key: str, value: Any) -> None:
    section, key = dotted_key.split(".")
    mapping.setdefault(section, {})[key] = value


def expand_variants(config: dict) -> dict[str, dict]:
    """All variants (named ones and sweep-generated ones), each with its seeds.

    Returns name -> {"core", "readout", "training", "seeds", "mice"}; "training" is the global
    training settings overridden by the variant's own, "mice" defaults to `dataset.mice`.
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
        for name, point in sweep_points(sweep_name, sweep).items():
            variant = copy.deepcopy(config["variants"][sweep["base"]])
            for parameter, value in point.items():
                _set_dotted(variant, parameter, value)
            variants[name] = _resolved(variant, config, sweep.get("seeds", config["seeds"]))
    return variants


def dataset_mice(config: dict) -> list[str]:
    """Every mouse the dataset provides: `dataset.mice` and then the simulated `dataset.extra_mice`."""
    return [*config["dataset"]["mice"], *config["dataset"].get("extra_mice", {})]


def _resolved(variant: dict, config: dict, seeds: list[int]) -> dict:
    training = {**config["training"], **variant.get("training", {})}
    mice = list(variant.get("mice", config["dataset"]["mice"]))
    unknown = sorted(set(mice) - set(dataset_mice(config)))
    if unknown:
        raise ValueError(f"variant mice {unknown} are not in the dataset (known: {', '.join(dataset_mice(config))})")
    return {
        "core": copy.deepcopy(variant["core"]),
        "readout": copy.deepcopy(variant["readout"]),
        "training": training,
        "seeds": list(seeds),
        "mice": mice,
    }


def training_runs(variants: dict[str, dict]) -> list[tuple[str, int]]:
    """Every (variant, seed) pair that has to be trained."""
    return [(name, seed) for name, variant in variants.items() for seed in variant["seeds"]]


def landscape_sweep(config: dict, name: str, variants: dict[str, dict]) -> dict:
    """{"base", "base_config", "points"} of a sweep a landscape figure shows (config `landscapes`);
    "base_config" is the base variant's {core, readout, training}.

    The sweep must exist, and its points need at least 2 seeds: the figures plot ARI across seeds.
    """
    sweeps = config.get("sweeps", {})
    if name not in sweeps:
        raise ValueError(f"landscapes: sweep '{name}' is not defined under 'sweeps' (known: {', '.join(sweeps)})")
    points = sweep_points(name, sweeps[name])
    seeds = variants[next(iter(points))]["seeds"]
    if len(seeds) < 2:
        raise ValueError(f"landscapes: sweep '{name}' needs at least 2 seeds for ARI across seeds, got {seeds}")
    base = sweeps[name]["base"]
    base_config = {key: variants[base][key] for key in ("core", "readout", "training")}
    return {"base": base, "base_config": base_config, "points": points}


def check_landscape_variants(key: str, names: list[str], mice_of: dict[str, list[str]], mice: list[str] | None = None) -> None:
    """Variants a landscape figure names must be models of the workflow (`mice_of`: model -> its mice),
    fitted to `mice` where given."""
    unknown = [name for name in names if name not in mice_of]
    if unknown:
        raise ValueError(f"landscapes.{key}: unknown variant(s) {unknown} (known: {', '.join(mice_of)})")
    elsewhere = [name for name in names if mice is not None and mice_of[name] != mice]
    if elsewhere:
        raise ValueError(f"landscapes.{key}: variant(s) {elsewhere} are not fitted to the mice {mice}")


def regularization_label(readout: dict) -> str:
    """A readout's L1 strength as a panel title, e.g. 'γ = 0.1' ('γ = 0' without a regularizer)."""
    if readout.get("regularizer") == "none":
        return "γ = 0"
    return f"γ = {readout['gamma']:g}" if "gamma" in readout else "γ default"
