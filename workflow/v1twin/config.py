"""Turn the validated workflow config into the concrete list of models to train.

Variants are named model definitions; sweeps expand one variant along one parameter into
variants named `<sweep>-<value>`, or along the product of several parameters (a `grid`) into
variants named `<sweep>-<value 1>-<value 2>`. Keeping this in the package (not in the Snakefile)
makes it unit-testable and lets every rule file agree on the same names.
"""
import copy
import itertools
import posixpath
from pathlib import Path
from typing import Any

import yaml

from v1twin.config_schema import ConfigError, check_against_schema

VIDEO_CORES = ("rotation_equivariant_3d", "rotation_equivariant_factorized")  # the cores of video mice
# Frames of a downloaded Sensorium 2023 mouse's train trials (METHODS §10: 300 at 30 Hz, padded in the files).
SENSORIUM_2023_TRIAL_FRAMES = 300


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


def expand_variants(config: dict, schema: dict | None = None) -> dict[str, dict]:
    """All variants (named ones and sweep-generated ones), each with its seeds.

    Returns name -> {"core", "readout", "training", "seeds", "mice"}; "training" is the global
    training settings overridden by the variant's own, "mice" defaults to `dataset.mice`. With the
    config `schema`, every sweep point is checked as a variant, so a misspelt parameter or a value
    of the wrong type fails when the workflow is parsed, not inside a job.
    """
    variants = {}
    for name, variant in config["variants"].items():
        variants[name] = _resolved(variant, config, variant.get("seeds", config["seeds"]))
    for sweep_name, sweep in config.get("sweeps", {}).items():
        if sweep["base"] not in config["variants"]:
            raise ConfigError(
                f"sweep '{sweep_name}': base variant '{sweep['base']}' is not defined under 'variants' "
                f"(known: {', '.join(config['variants'])})"
            )
        for name, point in sweep_points(sweep_name, sweep).items():
            variant = copy.deepcopy(config["variants"][sweep["base"]])
            for parameter, value in point.items():
                _set_dotted(variant, parameter, value)
            if schema is not None:
                _check_sweep_point(sweep_name, point, variant, schema)
            variants[name] = _resolved(variant, config, sweep.get("seeds", variant.get("seeds", config["seeds"])))
    return variants


def _check_sweep_point(sweep_name: str, point: dict[str, Any], variant: dict, schema: dict) -> None:
    try:
        check_against_schema(variant, schema, "variant")
    except ConfigError as error:
        setting = ", ".join(f"{key} = {value!r}" for key, value in point.items())
        raise ConfigError(f"sweep '{sweep_name}' ({setting}): {error}") from None


def dataset_mice(config: dict) -> list[str]:
    """Every mouse the dataset provides: `dataset.mice`, the simulated `dataset.extra_mice`, then the video mice."""
    return [*config["dataset"]["mice"], *config["dataset"].get("extra_mice", {}), *video_mice(config)]


def video_mice(config: dict) -> list[str]:
    """The video (Sensorium 2023-layout) mice: the simulated `dataset.video_mice`, then the downloaded ones
    of every `dataset.video_downloads` group. Every other mouse is a static (Sensorium 2022-layout) one."""
    dataset = config["dataset"]
    downloaded = [mouse for group in dataset.get("video_downloads", {}).values() for mouse in group["mice"]]
    return [*dataset.get("video_mice", {}), *downloaded]


def download_urls(dataset: dict) -> dict[str, str]:
    """mouse -> the URL of its zip, for every downloaded mouse: the study's mice of a `source: download`
    dataset (its base_url and file_pattern) and each `video_downloads` group's mice (the group's)."""
    groups = list(dataset.get("video_downloads", {}).values())
    if dataset["source"] == "download":
        groups.insert(0, {key: dataset[key] for key in ("base_url", "file_pattern", "mice")})
    return {mouse: posixpath.join(group["base_url"], group["file_pattern"].format(mouse=mouse))
            for group in groups for mouse in group["mice"]}


def is_video_variant(variant: dict, config: dict) -> bool:
    """A resolved variant trains on video mice (`check_references` makes sure they all are, or none)."""
    return bool(set(variant["mice"]) & set(video_mice(config)))


def _resolved(variant: dict, config: dict, seeds: list[int]) -> dict:
    training = {**config["training"], **variant.get("training", {})}
    mice = list(variant.get("mice", config["dataset"]["mice"]))
    unknown = sorted(set(mice) - set(dataset_mice(config)))
    if unknown:
        raise ConfigError(f"variant mice {unknown} are not in the dataset (known: {', '.join(dataset_mice(config))})")
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
        raise ConfigError(f"landscapes: sweep '{name}' is not defined under 'sweeps' (known: {', '.join(sweeps)})")
    points = sweep_points(name, sweeps[name])
    seeds = variants[next(iter(points))]["seeds"]
    if len(seeds) < 2:
        raise ConfigError(f"landscapes: sweep '{name}' needs at least 2 seeds for ARI across seeds, got {seeds}")
    base = sweeps[name]["base"]
    base_config = {key: variants[base][key] for key in ("core", "readout", "training")}
    return {"base": base, "base_config": base_config, "points": points}


def check_landscape_variants(
    key: str, names: list[str], mice_of: dict[str, list[str]], mice: list[str] | None = None
) -> None:
    """Variants a landscape figure names must be models of the workflow (`mice_of`: model -> its mice),
    fitted to `mice` where given."""
    unknown = [name for name in names if name not in mice_of]
    if unknown:
        raise ConfigError(f"landscapes.{key}: unknown variant(s) {unknown} (known: {', '.join(mice_of)})")
    elsewhere = [name for name in names if mice is not None and mice_of[name] != mice]
    if elsewhere:
        raise ConfigError(f"landscapes.{key}: variant(s) {elsewhere} are not fitted to the mice {mice}")


def regularization_label(readout: dict) -> str:
    """A readout's L1 strength as a panel title, e.g. 'γ = 0.1' ('γ = 0' without a regularizer)."""
    if readout.get("regularizer") == "none":
        return "γ = 0"
    return f"γ = {readout['gamma']:g}"


def study_variants(config: dict, variants: dict[str, dict]) -> list[str]:
    """The named variants trained on the study's mice: the models compared across seeds."""
    return [v for v in config["variants"] if variants[v]["mice"] == config["dataset"]["mice"]]


def pruned_variants(config: dict) -> dict[str, str]:
    """`<variant>-pruned` -> the variant it prunes (config `pruning.variants`)."""
    return {f"{v}-pruned": v for v in config["pruning"]["variants"]}


def finetuned_variants(config: dict) -> dict[str, str]:
    """`<variant>-finetuned` -> the variant: the matched-budget control of each pruned variant."""
    return {f"{v}-finetuned": v for v in config["pruning"]["variants"]}


def check_references(config: dict, variants: dict[str, dict]) -> None:
    """Every cross-reference between config sections, checked once when the workflow is parsed."""
    study = study_variants(config, variants)
    simulated = config["dataset"]["source"] == "simulate"
    _require(len(config["seeds"]) >= 2,
             f"seeds: embedding consistency compares seeds, give at least 2 (got {config['seeds']})")
    _require(simulated or not config["dataset"].get("extra_mice") or "simulation" in config["dataset"],
             "dataset.extra_mice are simulated mice; beside downloaded ones they need a dataset.simulation "
             "section (the simulator's settings)")
    if "simulation" in config["dataset"]:
        _check_simulation(config["dataset"])
    _check_mouse_names(config)
    _check_image_analyses(config, [name for name, variant in variants.items() if is_video_variant(variant, config)])
    video = video_mice(config)
    for name, variant in variants.items():
        _check_readout(name, variant["readout"])
        _check_mouse_kind(name, variant, video)
    _check_video_frames(config)
    _check_padding_frames(config, variants)
    clustering = config["clustering"]
    _require(clustering["figure_k"] in clustering["k_values"],
             f"clustering.figure_k ({clustering['figure_k']}) must be one of "
             f"clustering.k_values {clustering['k_values']}")
    _check_pruning(config["pruning"], variants, study)
    if config.get("transfer"):
        _check_transfer(config["transfer"], dataset_mice(config))
    if config.get("december"):  # DECEMber retrains its variant: a pruned model is not one
        _check_december(config, variants, clustering["k_values"], study)
    _check_landscapes(config, variants, simulated)
    if config.get("regularization_control"):
        _check_regularization_control(config["regularization_control"], variants, clustering["k_values"])


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def mouse_simulation(dataset: dict, mouse: str) -> dict:
    """The simulation keys of one simulated mouse: `dataset.video_simulation` with its `dataset.video_mice`
    overrides for a video mouse, else `dataset.simulation` with its `dataset.extra_mice` overrides."""
    if mouse in dataset.get("video_mice", {}):
        return {**dataset["video_simulation"], **dataset["video_mice"][mouse]}
    return {**dataset["simulation"], **dataset.get("extra_mice", {}).get(mouse, {})}


def simulation_seeds(config: dict, mouse: str) -> tuple[int, int]:
    """(seed, stimulus seed) of a simulated mouse. The stimulus seed is its simulation's `seed`, so the mice
    of one simulator share their test stimuli; each mouse's own seed is that + 1 + its index among its
    simulator's mice (`mice` then `extra_mice`, or `video_mice`), so that mice added to one simulator (e.g.
    identifiability populations) leave the other simulator's mice as they were."""
    dataset = config["dataset"]
    video = dataset.get("video_mice", {})
    siblings = list(video) if mouse in video else [*dataset["mice"], *dataset.get("extra_mice", {})]
    stimulus_seed = mouse_simulation(dataset, mouse)["seed"]
    return stimulus_seed + 1 + siblings.index(mouse), stimulus_seed


def _check_simulation(dataset: dict) -> None:
    """Per simulated mouse (after its extra_mice overrides): one type fraction per type, unlabelled
    types that exist and leave at least one type labelled, and a type separation the prototypes allow."""
    places = {"dataset.simulation": dataset["simulation"]}
    places.update({f"dataset.extra_mice.{mouse}": mouse_simulation(dataset, mouse) for mouse in dataset["extra_mice"]})
    for where, simulation in places.items():
        n_types, fractions = simulation["n_types"], simulation.get("type_fractions")
        _require(fractions is None or len(fractions) == n_types,
                 f"{where}.type_fractions: {len(fractions or [])} fractions for n_types = {n_types}; "
                 "give one per type")
        unlabelled = simulation.get("unlabelled_types", [])
        beyond = [k for k in unlabelled if k >= n_types]
        _require(not beyond,
                 f"{where}.unlabelled_types: {beyond} are not types (n_types = {n_types}: 0..{n_types - 1})")
        _require(len(set(unlabelled)) < n_types,
                 f"{where}.unlabelled_types: all {n_types} types are unlabelled; leave at least one labelled")
        separation = simulation.get("type_separation")
        if separation is None:
            continue
        from v1twin.data.simulate import design_separation  # scipy's import (1 s) only where it is needed

        largest = design_separation(n_types)
        _require(separation <= largest,
                 f"{where}.type_separation: {separation} is beyond the design's separation for n_types = {n_types} "
                 f"({largest:.2f}), the most the prototypes allow; use at most that")


def _check_mouse_names(config: dict) -> None:
    """Each name is one mouse: rules find a mouse's folder, cache and kind (static or video) by its name."""
    mice = dataset_mice(config)
    repeated = sorted({mouse for mouse in mice if mice.count(mouse) > 1})
    _require(not repeated, f"dataset: mice {repeated} are named more than once among dataset.mice, extra_mice, "
                           "video_mice and video_downloads; give each mouse its own name")


def video_trial_length(dataset: dict, mouse: str) -> int:
    """Frames of a video mouse's train trials: its simulation's `trial_length`, or the real data's."""
    if mouse in dataset.get("video_mice", {}):
        return mouse_simulation(dataset, mouse)["trial_length"]
    return SENSORIUM_2023_TRIAL_FRAMES


def _check_video_frames(config: dict) -> None:
    """The `video` frame counts fit the video mice: a crop no longer than the shortest train trial, a
    burn-in shorter than the crop (the loss needs frames after it), scoring that starts inside a trial."""
    frames = config["video"]
    _require(frames["burn_in_frames"] < frames["crop_frames"],
             f"video.burn_in_frames ({frames['burn_in_frames']}) must be less than video.crop_frames "
             f"({frames['crop_frames']}): the loss counts only the frames of a crop after its burn-in")
    lengths = {mouse: video_trial_length(config["dataset"], mouse) for mouse in video_mice(config)}
    if not lengths:
        return
    shortest = min(lengths, key=lengths.get)
    _require(frames["crop_frames"] <= lengths[shortest],
             f"video.crop_frames ({frames['crop_frames']}) is longer than the {lengths[shortest]}-frame train "
             f"trials of video mouse {shortest!r}; use at most {lengths[shortest]}")
    _require(frames["scored_from"] < lengths[shortest],
             f"video.scored_from ({frames['scored_from']}) must be less than the {lengths[shortest]}-frame trials "
             f"of video mouse {shortest!r}, or no frame is scored")


def temporal_receptive_field(core: dict) -> int:
    """Frames a video core's output at frame t depends on (t and the ones before): the input layer's
    temporal kernel plus each hidden layer's less one."""
    return core["input_kernel_time"] + (core["layers"] - 1) * (core["hidden_kernel_time"] - 1)


def _check_padding_frames(config: dict, variants: dict[str, dict]) -> None:
    """No scored frame sees the causal core's zero padding before a crop or trial: the 2023 starter kit's
    cores convolve time without padding, so its loss and scores start a receptive field into the clip."""
    frames = config["video"]
    for name, variant in variants.items():
        if not is_video_variant(variant, config):
            continue
        padded = temporal_receptive_field(variant["core"]) - 1
        for key in ("burn_in_frames", "scored_from"):
            _require(frames[key] >= padded,
                     f"video.{key} ({frames[key]}) is shorter than variant {name!r}'s temporal receptive field "
                     f"less one ({padded} frames): its first frames would see the zero padding; use at least {padded}")


def _check_mouse_kind(name: str, variant: dict, video: list[str]) -> None:
    """A variant's mice are all static or all video, and its model fits them: a video core with a Gaussian
    readout (read out frame by frame) for video mice, a static core for static ones."""
    moving = [mouse for mouse in variant["mice"] if mouse in video]
    still = [mouse for mouse in variant["mice"] if mouse not in video]
    _require(not (moving and still), f"variant {name!r}: mice mix static {still} and video {moving}; "
                                     "a variant's mice are all static or all video")
    core, readout = variant["core"]["type"], variant["readout"]["type"]
    if moving:
        _require(core in VIDEO_CORES, f"variant {name!r} trains on video mice {moving}: core.type must be one of "
                                      f"{', '.join(VIDEO_CORES)}, got {core!r}")
        _require(readout == "gaussian", f"variant {name!r} trains on video mice {moving}: readout.type must be "
                                        f"gaussian (read out frame by frame), got {readout!r}")
    else:
        _require(core not in VIDEO_CORES, f"variant {name!r} trains on static mice: core.type {core!r} is a video "
                                          "core; use cnn or rotation_equivariant")


def _check_image_analyses(config: dict, video_variants: list[str]) -> None:
    """The analyses of static image models (pruning, DECEMber, core transfer, the regularization control,
    identifiability) name no video variant or mouse. (In-silico experiments and the read-position check
    take the study's variants, whose `dataset.mice` are static.)"""
    named = {"pruning.variants": config["pruning"]["variants"]}
    named.update({key: [name] for key, name in _december_models(config).items()})
    for row, names in config.get("regularization_control", {}).get("rows", {}).items():
        named[f"regularization_control.rows.{row}"] = names
    if config.get("identifiability"):
        named["identifiability.variant"] = [config["identifiability"]["variant"]]
    for where, names in named.items():
        video = [name for name in names if name in video_variants]
        _require(not video, f"{where}: {video} train on video mice; this analysis is for static (image) models only")
    transfer = config.get("transfer")
    if transfer:
        mice = [transfer["within_mouse"], transfer["held_out_mouse"],
                *(mouse for core_set in transfer["core_sets"].values() for mouse in core_set["mice"])]
        video = sorted(set(mice) & set(video_mice(config)))
        _require(not video, f"transfer: video mice {video}; core transfer is for static (image) mice only")
        _require(transfer["core"]["type"] not in VIDEO_CORES,
                 f"transfer.core.type {transfer['core']['type']!r} is a video core; core transfer uses static cores")


def _check_readout(name: str, readout: dict) -> None:
    """A Gaussian readout's γ acts only through a regularizer: a γ without one is a silent no-op."""
    if readout["type"] == "gaussian" and readout["regularizer"] == "none":
        _require(not readout.get("gamma"), f"variant {name!r}: readout gamma is {readout.get('gamma')} but its "
                                           "regularizer is 'none'; set readout.regularizer to 'l1' or 'adaptive'")


def _check_pruning(pruning: dict, variants: dict[str, dict], study: list[str]) -> None:
    """Pruned variants are study variants, and each core has more features than pruning keeps."""
    for variant in pruning["variants"]:
        _require(variant in study, f"pruning.variants: {variant!r} is not a variant trained on the study's mice "
                                   f"(known: {', '.join(study)})")
        features = variants[variant]["core"]["channels"]  # per rotation for the equivariant core
        _require(pruning["min_channels"] < features,
                 f"pruning.min_channels must be between 1 and {features - 1} (the core of {variant!r} has "
                 f"{features} features), got {pruning['min_channels']}")


def _check_transfer(transfer: dict, mice: list[str]) -> None:
    """The transfer mice are dataset mice, and no transferred core has seen the held-out mouse."""
    for key in ("within_mouse", "held_out_mouse"):
        _require(transfer[key] in mice, f"transfer.{key} {transfer[key]!r} is not a dataset mouse ({', '.join(mice)})")
    held_out = transfer["held_out_mouse"]
    _require(held_out != transfer["within_mouse"], "transfer.held_out_mouse must differ from transfer.within_mouse")
    for name, core_set in transfer["core_sets"].items():
        unknown = sorted(set(core_set["mice"]) - set(mice))
        _require(not unknown, f"transfer.core_sets.{name}: mice {unknown} are not dataset mice")
        _require(held_out not in core_set["mice"], f"transfer.core_sets.{name} contains the held-out mouse {held_out}")


def _check_december(config: dict, variants: dict[str, dict], clustering_k: list[int], study: list[str]) -> None:
    december = config["december"]
    _require(december["variant"] in study,
             f"december.variant {december['variant']!r} must be a variant on the study's mice "
             f"(known: {', '.join(study)})")
    _check_december_budget(config, variants)
    missing = sorted(set(december["k_values"]) - set(clustering_k))
    _require(not missing, f"december.k_values {missing} must be among clustering.k_values (the GMM baseline)")
    _require(december["figure_k"] in december["k_values"],
             f"december.figure_k ({december['figure_k']}) must be one of december.k_values {december['k_values']}")


def _december_models(config: dict) -> dict[str, str]:
    """Config key -> a variant DECEMber starts from: its own, the retina-style check's and, with
    identifiability.december, the identifiability populations' (none without a december section)."""
    december = config.get("december")
    if not december:
        return {}
    models = {"december.variant": december["variant"]}
    if "retina" in december:
        models["december.retina.variant"] = december["retina"]["variant"]
    if config.get("identifiability", {}).get("december"):
        models["identifiability.variant"] = config["identifiability"]["variant"]
    return models


def _check_december_budget(config: dict, variants: dict[str, dict]) -> None:
    """Pretraining and the loss phase share their variant's max_epochs (v1twin.december.plan): every PE
    must leave the loss at least one epoch."""
    december = config["december"]
    pe_values = [december["pretrain_epochs"], *december["sweeps"].get("pretrain_epochs", {}).get("values", [])]
    for key, name in _december_models(config).items():
        _require(name in variants, f"{key}: {name!r} is not a variant (known: {', '.join(variants)})")
        max_epochs = variants[name]["training"]["max_epochs"]
        _require(max(pe_values) < max_epochs,
                 f"december: pretraining epochs {max(pe_values)} leave no epoch of {key} {name!r}'s "
                 f"max_epochs {max_epochs} for the clustering loss (PE + loss epochs share that budget)")


def _check_landscapes(config: dict, variants: dict[str, dict], simulated: bool) -> None:
    landscapes = config.get("landscapes", {})
    mice_of = {name: variant["mice"] for name, variant in variants.items()}
    mice_of.update({pruned: variants[base]["mice"] for pruned, base in pruned_variants(config).items()})
    sweeps = (([landscapes["adaptive_sweep"]] if "adaptive_sweep" in landscapes else [])
              + landscapes.get("core_sweeps", []))
    for name in sweeps:
        landscape_sweep(config, name, variants)
    if "adaptive_sweep" in landscapes:
        points = sweep_points(landscapes["adaptive_sweep"], config["sweeps"][landscapes["adaptive_sweep"]])
        not_adaptive = [v for v in points if variants[v]["readout"].get("regularizer") != "adaptive"]
        _require(not not_adaptive,
                 f"landscapes.adaptive_sweep: variant(s) {not_adaptive} have no adaptive readout regularizer")
    if "tsne_rows" in landscapes:
        rows = [v for row in landscapes["tsne_rows"].values() for v in row]
        check_landscape_variants("tsne_rows", rows, mice_of, config["dataset"]["mice"])
    if "video_rows" in landscapes:
        rows = [v for row in landscapes["video_rows"].values() for v in row]
        check_landscape_variants("video_rows", rows, mice_of, mice_of[rows[0]] if rows[0] in mice_of else None)
        static = [v for v in rows if v not in variants or not is_video_variant(variants[v], config)]
        _require(not static, f"landscapes.video_rows: variant(s) {static} are not video variants (their mice are "
                             f"static); L25 Fig. 4 compares video cores")
    if "controls" in landscapes:
        _require(simulated, "landscapes.controls compare simulated populations; they need dataset.source: simulate")
        check_landscape_variants("controls", list(landscapes["controls"].values()), mice_of)


def _check_regularization_control(control: dict, variants: dict[str, dict], cluster_k: list[int]) -> None:
    """Each row: known variants of one readout type with an L1 strength, in increasing γ, fitted to one
    mouse set, with at least 2 seeds (ARI across seeds); the silhouettes' K are clustered K values."""
    where = "regularization_control"
    missing = [k for k in control["k_values"] if k not in cluster_k]
    _require(not missing, f"{where}.k_values {missing} must be among clustering.k_values {cluster_k} "
                          "(the tables show ARI across seeds at the same K)")
    _require(control["figure_k"] in control["k_values"],
             f"{where}.figure_k ({control['figure_k']}) must be one of {where}.k_values {control['k_values']}")
    for row, names in control["rows"].items():
        unknown = [name for name in names if name not in variants]
        _require(not unknown, f"{where}.rows.{row}: unknown variant(s) {unknown} (known: {', '.join(variants)})")
        readouts = [variants[name]["readout"] for name in names]
        not_l1 = [name for name, readout in zip(names, readouts)
                  if readout["type"] == "gaussian" and readout["regularizer"] != "l1"]
        _require(not not_l1, f"{where}.rows.{row}: Gaussian variant(s) {not_l1} need readout.regularizer: l1")
        _require(len({readout["type"] for readout in readouts}) == 1,
                 f"{where}.rows.{row}: mixes readout types {[r['type'] for r in readouts]}; one type per row")
        gammas = [readout["gamma"] for readout in readouts]
        _require(gammas == sorted(gammas) and len(set(gammas)) == len(gammas),
                 f"{where}.rows.{row}: list the variants by increasing readout gamma (got {gammas})")
        _require(len({tuple(variants[name]["mice"]) for name in names}) == 1,
                 f"{where}.rows.{row}: the variants must be fitted to the same mice")
        few = [name for name in names if len(variants[name]["seeds"]) < 2]
        _require(not few, f"{where}.rows.{row}: variant(s) {few} need at least 2 seeds for ARI across seeds")


def with_bases(config: dict, basedir: Path) -> dict:
    """The config with its `base:` chain resolved: each file's keys override its base's (see `merge_over`).

    A relative base path is read from the workflow's folder, so `base: config/paper.yaml` always means
    the repository's paper config, wherever Snakemake runs.
    """
    config, seen = dict(config), []
    while "base" in config:
        path = Path(config.pop("base"))
        path = path if path.is_absolute() else Path(basedir) / path
        if path in seen:
            raise ConfigError(f"base: {path} is named twice in the chain {[str(p) for p in seen]}")
        seen.append(path)
        try:
            base = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as error:
            raise ConfigError(f"base: cannot read {path} ({error})") from error
        if not isinstance(base, dict):
            raise ConfigError(f"base: {path} is not a YAML mapping")
        config = merge_over(base, config)
    return config


def merge_over(base: dict, override: dict) -> dict:
    """`override` over `base`: mappings (e.g. `variants`) merge key by key, any other value (lists too)
    replaces the base's, and a null removes the key (e.g. `variants: {factorized: null}`)."""
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_over(merged[key], value)
        else:
            merged[key] = value
    return merged
