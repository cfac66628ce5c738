"""Variant expansion: the names and settings every rule file relies on."""
import copy
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from v1twin.config import (
    check_landscape_variants,
    check_references,
    dataset_mice,
    download_urls,
    expand_variants,
    landscape_sweep,
    merge_over,
    mouse_simulation,
    regularization_label,
    simulation_seeds,
    sweep_points,
    sweep_variant_name,
    training_runs,
    video_mice,
    with_bases,
)
from v1twin.config_schema import ConfigError, check_against_schema, load_schema, with_defaults
from v1twin.data import simulate_dynamic
from v1twin.data.simulate import type_counts
from v1twin.identifiability import with_populations

CONFIG = {
    "dataset": {"mice": ["m1", "m2"], "extra_mice": {"control": {"discreteness": 0.0}}},
    "seeds": [1, 2],
    "training": {"lr": 0.005, "batch_size": 64},
    "variants": {
        "fact": {"core": {"type": "cnn"}, "readout": {"type": "factorized", "gamma": 0.01}},
        "gauss": {
            "core": {"type": "cnn"},
            "readout": {"type": "gaussian"},
            "training": {"lr": 0.001},
        },
        "control": {"core": {"type": "cnn"}, "readout": {"type": "gaussian"}, "mice": ["control"]},
    },
    "sweeps": {"fact_gamma": {"base": "fact", "parameter": "readout.gamma", "values": [0.1, 1.0], "seeds": [3]}},
}


def test_named_variants_inherit_and_override_training():
    variants = expand_variants(CONFIG)
    assert variants["fact"]["training"] == {"lr": 0.005, "batch_size": 64}
    assert variants["gauss"]["training"] == {"lr": 0.001, "batch_size": 64}
    assert variants["fact"]["seeds"] == [1, 2]


def test_variants_train_on_the_study_mice_unless_they_name_their_own():
    variants = expand_variants(CONFIG)
    assert variants["fact"]["mice"] == ["m1", "m2"]
    assert variants["control"]["mice"] == ["control"]
    assert variants["fact_gamma-0.1"]["mice"] == ["m1", "m2"]


def test_variant_on_an_unknown_mouse_names_it():
    config = {**CONFIG, "variants": {"v": {"core": {}, "readout": {}, "mice": ["m9"]}}, "sweeps": {}}
    with pytest.raises(ValueError, match="m9"):
        expand_variants(config)


def test_sweep_sets_one_parameter_and_leaves_the_base_untouched():
    variants = expand_variants(CONFIG)
    swept = variants[sweep_variant_name("fact_gamma", 0.1)]
    assert sweep_variant_name("fact_gamma", 0.1) == "fact_gamma-0.1"
    assert swept["readout"] == {"type": "factorized", "gamma": 0.1}
    assert swept["seeds"] == [3]
    assert CONFIG["variants"]["fact"]["readout"]["gamma"] == 0.01


def test_training_runs_lists_every_variant_seed_pair():
    runs = training_runs(expand_variants(CONFIG))
    assert runs == [("fact", 1), ("fact", 2), ("gauss", 1), ("gauss", 2), ("control", 1), ("control", 2),
                    ("fact_gamma-0.1", 3), ("fact_gamma-1.0", 3)]


def test_sweep_of_unknown_base_names_it():
    config = {**CONFIG, "sweeps": {"s": {"base": "nope", "parameter": "readout.gamma", "values": [1]}}}
    with pytest.raises(ValueError, match="'nope'"):
        expand_variants(config)


GRID = {"base": "gauss", "grid": {"readout.gamma": [1.0, 5.0], "readout.adaptive_sigma": [0.1, 1.0]}, "seeds": [1, 2]}


def test_grid_sweep_names_every_point_of_the_product_first_parameter_slowest():
    assert sweep_variant_name("adaptive", 1.0, 0.1) == "adaptive-1.0-0.1"
    assert sweep_points("adaptive", GRID) == {
        "adaptive-1.0-0.1": {"readout.gamma": 1.0, "readout.adaptive_sigma": 0.1},
        "adaptive-1.0-1.0": {"readout.gamma": 1.0, "readout.adaptive_sigma": 1.0},
        "adaptive-5.0-0.1": {"readout.gamma": 5.0, "readout.adaptive_sigma": 0.1},
        "adaptive-5.0-1.0": {"readout.gamma": 5.0, "readout.adaptive_sigma": 1.0},
    }


def test_one_parameter_sweep_is_a_grid_of_one_parameter():
    assert sweep_points("fact_gamma", CONFIG["sweeps"]["fact_gamma"]) == {
        "fact_gamma-0.1": {"readout.gamma": 0.1}, "fact_gamma-1.0": {"readout.gamma": 1.0}}


def test_grid_sweep_sets_every_parameter_and_keeps_the_rest_of_the_base():
    variants = expand_variants({**CONFIG, "sweeps": {"adaptive": GRID}})
    swept = variants["adaptive-5.0-0.1"]
    assert swept["readout"] == {"type": "gaussian", "gamma": 5.0, "adaptive_sigma": 0.1}
    assert swept["training"]["lr"] == 0.001  # the base's own training override
    assert swept["seeds"] == [1, 2]
    assert [name for name in variants if name.startswith("adaptive-")] == list(sweep_points("adaptive", GRID))
    assert CONFIG["variants"]["gauss"]["readout"] == {"type": "gaussian"}


SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


@pytest.mark.parametrize(
    ("sweep", "valid"),
    [
        ({"base": "b", "parameter": "readout.gamma", "values": [1.0]}, True),
        ({"base": "b", "grid": {"readout.gamma": [1.0], "readout.adaptive_sigma": [0.1, 1.0]}}, True),
        ({"base": "b", "grid": {"readout.gamma": [1.0]}, "parameter": "readout.gamma", "values": [1.0]}, False),
        ({"base": "b", "grid": {"gamma": [1.0]}}, False),  # not a dotted core/readout/training key
        ({"base": "b"}, False),
    ],
)
def test_schema_takes_one_parameter_or_a_grid_per_sweep(sweep, valid):
    config = yaml.safe_load((Path(__file__).parent / "config" / "tiny.yaml").read_text())
    config["sweeps"] = {"s": sweep}
    if valid:
        validate(config, str(SCHEMA))
    else:
        with pytest.raises(WorkflowError):
            validate(config, str(SCHEMA))


def test_landscape_sweep_gives_base_and_points_and_refuses_single_seed_sweeps():
    config = {**CONFIG, "sweeps": {"adaptive": GRID, **CONFIG["sweeps"]}}
    variants = expand_variants(config)
    sweep = landscape_sweep(config, "adaptive", variants)
    assert sweep["base"] == "gauss" and sweep["points"] == sweep_points("adaptive", GRID)
    assert sweep["base_config"] == {key: variants["gauss"][key] for key in ("core", "readout", "training")}
    with pytest.raises(ValueError, match="'fact_gamma' needs at least 2 seeds"):
        landscape_sweep(config, "fact_gamma", variants)  # seeds [3]
    with pytest.raises(ValueError, match="'nope' is not defined"):
        landscape_sweep(config, "nope", variants)


def test_check_landscape_variants_names_unknown_and_misplaced_variants():
    mice_of = {"fact": ["m1", "m2"], "control": ["control"]}
    check_landscape_variants("tsne_rows", ["fact"], mice_of, ["m1", "m2"])
    with pytest.raises(ValueError, match="tsne_rows.*'ghost'"):
        check_landscape_variants("tsne_rows", ["fact", "ghost"], mice_of)
    with pytest.raises(ValueError, match="tsne_rows.*'control'.*not fitted"):
        check_landscape_variants("tsne_rows", ["control"], mice_of, ["m1", "m2"])


@pytest.mark.parametrize(
    ("readout", "label"),
    [({"type": "gaussian", "regularizer": "none"}, "γ = 0"),
     ({"type": "gaussian", "regularizer": "l1", "gamma": 10.0}, "γ = 10"),
     ({"type": "factorized", "gamma": 0.003}, "γ = 0.003")],
)
def test_regularization_label(readout, label):
    assert regularization_label(readout) == label


# ---------------------------------------------------------------- checks before any job


def tiny_config() -> dict:
    return yaml.safe_load((Path(__file__).parent / "config" / "tiny.yaml").read_text())


@pytest.fixture(scope="module")
def schema():
    return load_schema(SCHEMA)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.update(seed=[1]),
         "unknown config key 'seed' at the top level; did you mean 'seeds'? allowed: dataset,"),
        (lambda c: c["variants"]["gaussian_g0"]["readout"].update(gama=1.0),
         "unknown config key 'gama' in variants.gaussian_g0.readout; did you mean 'gamma'?"),
        (lambda c: c["training"].update(lr="fast"), "config key training.lr: 'fast' is not of type 'number'"),
        (lambda c: c.pop("dataset"),
         "config: 'dataset' is a required property. `--configfile FILE` replaces config/config.yaml"),
        (lambda c: c["dataset"]["extra_mice"]["retina_like"].update(type_fraction=[1]),
         "unknown config key 'type_fraction' in dataset.extra_mice.retina_like; did you mean 'type_fractions'?"),
        (lambda c: c["dataset"]["simulation"].update(type_fractions=[1, 0, 2]),
         "config key dataset.simulation.type_fractions.1: 0 is less than or equal to the minimum of 0"),
        (lambda c: c["dataset"]["extra_mice"]["retina_like"].update(unlabelled_types=[-1]),
         "config key dataset.extra_mice.retina_like.unlabelled_types.0: -1 is less than the minimum of 0"),
        (lambda c: c["dataset"]["simulation"].update(unlabelled_types=[0, 0]),
         "config key dataset.simulation.unlabelled_types: [0, 0] has non-unique elements"),
        (lambda c: c["dataset"]["extra_mice"]["retina_like"].update(type_separation=-1.0),
         "config key dataset.extra_mice.retina_like.type_separation: -1.0 is less than the minimum of 0"),
        (lambda c: c["dataset"]["simulation"].update(rf_scatter="wide"),
         "config key dataset.simulation.rf_scatter: 'wide' is not of type 'number'"),
        (lambda c: c["clustering"].update(collapse_fraction=1.5),  # one criterion for sweeps and the control
         "config key clustering.collapse_fraction: 1.5 is greater than or equal to the maximum of 1"),
    ],
)
def test_schema_mistakes_name_the_key_and_what_is_allowed(schema, edit, message):
    config = tiny_config()
    edit(config)
    with pytest.raises(ConfigError) as raised:
        check_against_schema(config, schema)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("sweep", "message"),
    [
        ({"parameter": "readout.gama", "values": [0.1]},
         "sweep 'factorized_gamma' (readout.gama = 0.1): unknown config key 'gama' in readout; did you mean 'gamma'?"),
        ({"parameter": "readout.gamma", "values": ["0.1"]},
         "sweep 'factorized_gamma' (readout.gamma = '0.1'): config key readout.gamma: '0.1' is not of type 'number'"),
    ],
)
def test_every_sweep_point_is_checked_as_a_variant(schema, sweep, message):
    config = tiny_config()
    config["sweeps"]["factorized_gamma"].update(sweep)
    check_against_schema(config, schema)  # the sweep itself is well-formed: only its points are wrong
    with pytest.raises(ConfigError) as raised:
        expand_variants(config, schema)
    assert str(raised.value).startswith(message)


def checked(config: dict, schema: dict) -> dict:
    """The config as the Snakefile checks it: schema, defaults, variants, references."""
    check_against_schema(config, schema)
    validate(config, str(SCHEMA))
    check_references(config, expand_variants(config, schema))
    return config


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["pruning"].update(variants=["gausian_g0"]), "pruning.variants: 'gausian_g0' is not a variant"),
        (lambda c: c["december"].update(variant="ghost"), "december.variant 'ghost' must be a variant"),
        (lambda c: c["december"].update(k_values=[2, 99], figure_k=2), r"december.k_values \[99\] must be among"),
        (lambda c: c["december"].update(figure_k=7), r"december.figure_k \(7\) must be one of"),
        (lambda c: c["december"].update(pretrain_epochs=3),
         r"december: pretraining epochs 3 leave no epoch of december.variant 'gaussian_g0''s max_epochs 3"),
        (lambda c: c["december"]["sweeps"]["pretrain_epochs"].update(values=[1, 5]),
         "december: pretraining epochs 5 leave no epoch of december.variant"),
        (lambda c: c["december"]["retina"].update(variant="ghost"),
         "december.retina.variant: 'ghost' is not a variant"),
        (lambda c: c["clustering"].update(figure_k=99), r"clustering.figure_k \(99\) must be one of"),
        (lambda c: c.update(seeds=[1]), "give at least 2"),
        (lambda c: c["variants"]["gaussian_g0"]["readout"].update(gamma=1.0, regularizer="none"),
         "variant 'gaussian_g0': readout gamma is 1.0 but its regularizer is 'none'"),
        (lambda c: c["landscapes"].update(tsne_rows={"row": ["ghost"]}),
         r"landscapes.tsne_rows: unknown variant\(s\) \['ghost'\]"),
        (lambda c: c["landscapes"].update(adaptive_sweep="factorized_gamma"),
         "'factorized_gamma' needs at least 2 seeds"),
        (lambda c: c["regularization_control"]["rows"].update(discrete=["control_discrete", "ghost"]),
         r"regularization_control.rows.discrete: unknown variant\(s\) \['ghost'\]"),
        (lambda c: c["regularization_control"]["rows"].update(discrete=["control_discrete_l1-10.0",
                                                                         "control_discrete"]),
         r"regularization_control.rows.discrete: list the variants by increasing readout gamma \(got \[10.0, 0.0\]\)"),
        (lambda c: c["regularization_control"]["rows"].update(mixed=["factorized", "gaussian_g0"]),
         "regularization_control.rows.mixed: mixes readout types"),
        (lambda c: c["regularization_control"]["rows"].update(other=["control_discrete", "control_continuum_l1-10.0"]),
         "regularization_control.rows.other: the variants must be fitted to the same mice"),
        (lambda c: c["regularization_control"]["rows"].update(one_seed=["factorized", "factorized_gamma-0.1"]),
         r"regularization_control.rows.one_seed: variant\(s\) \['factorized_gamma-0.1'\] need at least 2 seeds"),
        (lambda c: c["regularization_control"]["rows"].update(adaptive=["gaussian_g0",
                                                                         "adaptive_grid-adaptive-1.0-0.5"]),
         r"Gaussian variant\(s\) \['adaptive_grid-adaptive-1.0-0.5'\] need readout.regularizer: l1"),
        (lambda c: c["regularization_control"].update(k_values=[2, 9]),
         r"regularization_control.k_values \[9\] must be among clustering.k_values"),
        (lambda c: c["regularization_control"].update(figure_k=2, k_values=[3]),
         r"regularization_control.figure_k \(2\) must be one of"),
    ],
)
def test_cross_references_are_checked_once_with_a_clear_message(schema, edit, message):
    config = tiny_config()
    checked(tiny_config(), schema)
    edit(config)
    with pytest.raises(ConfigError, match=message):
        checked(config, schema)


def retina_like(config: dict) -> dict:
    return config["dataset"]["extra_mice"]["retina_like"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: retina_like(c).update(type_fractions=[78, 40, 5, 22]),
         "dataset.extra_mice.retina_like.type_fractions: 4 fractions for n_types = 5; give one per type"),
        (lambda c: c["dataset"]["simulation"].update(type_fractions=[1, 2]),
         "dataset.simulation.type_fractions: 2 fractions for n_types = 3; give one per type"),
        # an extra mouse inherits dataset.simulation's fractions unless it gives its own
        (lambda c: (c["dataset"]["simulation"].update(type_fractions=[1, 2, 3]), retina_like(c).pop("type_fractions")),
         "dataset.extra_mice.retina_like.type_fractions: 3 fractions for n_types = 5; give one per type"),
        (lambda c: retina_like(c).update(unlabelled_types=[4, 5]),
         r"dataset.extra_mice.retina_like.unlabelled_types: \[5\] are not types \(n_types = 5: 0..4\)"),
        (lambda c: c["dataset"]["simulation"].update(unlabelled_types=[0, 1, 2]),
         "dataset.simulation.unlabelled_types: all 3 types are unlabelled; leave at least one labelled"),
        (lambda c: retina_like(c).update(type_separation=40.0),
         r"dataset.extra_mice.retina_like.type_separation: 40.0 is beyond the design's separation for n_types = 5 "
         r"\(16.58\), the most the prototypes allow"),
    ],
)
def test_simulation_keys_are_checked_per_mouse_with_a_one_line_message(schema, edit, message):
    config = tiny_config()
    checked(tiny_config(), schema)
    edit(config)
    with pytest.raises(ConfigError, match=message) as raised:
        checked(config, schema)
    assert "\n" not in str(raised.value)


def test_demo_and_tiny_declare_the_retina_like_mouse_with_exact_counts():
    demo = yaml.safe_load((Path(__file__).parents[1] / "config" / "config.yaml").read_text())
    for config, counts in ((demo, [78, 40, 5, 22, 55]), (tiny_config(), [47, 24, 3, 13, 33])):
        mouse = {**config["dataset"]["simulation"], **retina_like(config)}
        assert type_counts(mouse["neurons"], mouse["type_fractions"]).tolist() == counts
        assert mouse["unlabelled_types"] == [4] and mouse["discreteness"] == 1.0
        assert sum(counts[:4]) == (145 if config is demo else 87)


def test_merge_over_merges_mappings_replaces_lists_and_removes_nulls():
    base = {"variants": {"a": {"core": {"type": "cnn"}}, "b": {}}, "seeds": [1, 2, 3], "training": {"lr": 1.0}}
    override = {"variants": {"a": {"core": {"channels": 4}}, "b": None}, "seeds": [7], "extra": 1}
    assert merge_over(base, override) == {
        "variants": {"a": {"core": {"type": "cnn", "channels": 4}}}, "seeds": [7], "training": {"lr": 1.0}, "extra": 1}
    assert base["variants"]["b"] == {}  # the base is not changed


def test_bases_chain_from_the_workflow_folder_and_refuse_cycles(tmp_path):
    (tmp_path / "grand.yaml").write_text("seeds: [1]\ntraining: {lr: 1.0, batch_size: 8}\n")
    (tmp_path / "parent.yaml").write_text("base: grand.yaml\ntraining: {lr: 2.0}\n")
    config = with_bases({"base": "parent.yaml", "training": {"batch_size": 4}}, tmp_path)
    assert config == {"seeds": [1], "training": {"lr": 2.0, "batch_size": 4}}
    (tmp_path / "loop.yaml").write_text("base: loop.yaml\n")
    with pytest.raises(ConfigError, match="named twice"):
        with_bases({"base": "loop.yaml"}, tmp_path)
    with pytest.raises(ConfigError, match="cannot read"):
        with_bases({"base": "missing.yaml"}, tmp_path)


# ---------------------------------------------------------------------------------------------
# Video (Sensorium 2023-layout) mice

REPO = Path(__file__).resolve().parents[1]
VIDEO_CORE = {"type": "rotation_equivariant_factorized", "channels": 2, "rotations": 4, "layers": 1,
              "input_kernel": 3, "input_kernel_time": 3}


def resolved(path: Path) -> dict:
    """A config file as the Snakefile resolves it (bases, defaults, identifiability populations), checked."""
    config = with_populations(with_defaults(with_bases(yaml.safe_load(path.read_text()), REPO)))
    check_references(config, expand_variants(config, load_schema(SCHEMA)))
    return config


def with_video_variant(config: dict) -> dict:
    """The tiny config with a video variant on its video mouse v1."""
    config["variants"]["vid"] = {"core": dict(VIDEO_CORE), "readout": {"type": "gaussian"}, "mice": ["v1"]}
    return config


def test_video_simulation_defaults_are_the_video_simulators():
    settings = with_defaults({}, "video_simulation")
    assert settings.pop("seed") == 2023
    assert settings == {key: simulate_dynamic.DEFAULTS[key] for key in settings}
    assert simulate_dynamic.dynamic_params(settings) == simulate_dynamic.dynamic_params({})


def test_dynamic_cores_default_to_l25s_paper_core():
    for kind in ("rotation_equivariant_3d", "rotation_equivariant_factorized"):
        assert with_defaults({"type": kind}, "core") == {
            "type": kind, "channels": 16, "rotations": 8, "layers": 4, "input_kernel": 13, "hidden_kernel": 5,
            "input_kernel_time": 11, "hidden_kernel_time": 5, "gamma_input": 6.3831, "gamma_hidden": 0.0,
            "bn_momentum": 0.9, "hermite_basis": "analytic"}
    with pytest.raises(ConfigError, match="unknown config key 'final_batchnorm_affine'"):
        with_defaults({"type": "rotation_equivariant_3d", "final_batchnorm_affine": True}, "core")


def test_simulated_video_mice_follow_the_static_mice_with_their_own_settings_and_seeds(schema):
    config = checked(with_video_variant(tiny_config()), schema)
    dataset = config["dataset"]
    assert video_mice(config) == ["v1"] and dataset_mice(config)[-1] == "v1"
    settings = mouse_simulation(dataset, "v1")
    assert settings["trial_length"] == 20 and settings["neurons"] == 12 and "n_validation" not in settings
    simulate_dynamic.dynamic_params(settings)  # the resolved settings are the video simulator's
    assert simulation_seeds(config, "v1") == (11 + 1 + 0, 11)  # the first video mouse
    assert simulation_seeds(config, "m2") == (7 + 1 + 1, 7)  # the static mice keep their seeds
    more_static = copy.deepcopy(config)
    more_static["dataset"]["extra_mice"]["m9"] = {}
    assert simulation_seeds(more_static, "v1") == simulation_seeds(config, "v1")  # a static mouse more: v1 as it was
    assert config["video"] == {"scored_from": 5, "crop_frames": 12, "burn_in_frames": 3}


def test_paper_config_downloads_the_ten_sensorium_2023_mice_from_their_gin_repositories():
    config = resolved(REPO / "config" / "paper.yaml")
    urls = download_urls(config["dataset"])
    older = "https://gin.g-node.org/pollytur/Sensorium2023Data/raw/master/dynamic{}-Video-8744edeac3b4d1ce16b680916b5267ce.zip"
    newer = ("https://gin.g-node.org/pollytur/sensorium_2023_dataset/raw/master/"
             "dynamic{}-Video-9b4f6a1a067fe51e15306b9628efea20.zip")
    expected = {**{m: older.format(m) for m in ("29156-11-10", "29228-2-10", "29234-6-9", "29513-3-5", "29514-2-9")},
                **{m: newer.format(m) for m in ("29515-10-12", "29623-4-9", "29647-19-8", "29712-5-9", "29755-2-8")}}
    assert {mouse: urls[mouse] for mouse in video_mice(config)} == expected
    assert urls["26872-17-20"] == ("https://gin.g-node.org/cajal/Sensorium2022/raw/master/"
                                   "static26872-17-20-GrayImageNet-94c6ff995dac583098847cfecd43e7b6.zip")
    assert len(urls) == 7 + 10
    # the 2023 starter kit's crops; the loss from one receptive field of L25's core (11 + 3 x 4 frames) on
    assert config["video"] == {"scored_from": 50, "crop_frames": 50, "burn_in_frames": 22}


def test_demo_video_frames_fit_its_video_mouse():
    config = resolved(REPO / "config" / "config.yaml")
    length = mouse_simulation(config["dataset"], "vid1")["trial_length"]
    assert video_mice(config) == ["vid1"]
    assert config["video"]["scored_from"] <= length / 3 and config["video"]["crop_frames"] <= length


def test_crop_longer_than_the_real_trials_is_refused():
    config = with_populations(with_defaults(with_bases(yaml.safe_load((REPO / "config" / "paper.yaml").read_text()),
                                                       REPO)))
    config["video"]["crop_frames"] = 301
    with pytest.raises(ConfigError, match="video.crop_frames \\(301\\) is longer than the 300-frame train trials "
                                          "of video mouse '29156-11-10'; use at most 300"):
        check_references(config, expand_variants(config, load_schema(SCHEMA)))


def _video(config: dict) -> dict:
    return config["variants"]["vid"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: _video(c).update(mice=["v1", "m1"]),
         r"variant 'vid': mice mix static \['m1'\] and video \['v1'\]; a variant's mice are all static or all video"),
        (lambda c: _video(c).update(core={"type": "cnn"}),
         r"variant 'vid' trains on video mice \['v1'\]: core.type must be one of rotation_equivariant_3d, "
         r"rotation_equivariant_factorized, got 'cnn'"),
        (lambda c: _video(c).update(readout={"type": "factorized"}),
         r"variant 'vid' trains on video mice \['v1'\]: readout.type must be gaussian"),
        (lambda c: c["variants"]["gaussian_g0"].update(core={"type": "rotation_equivariant_3d"}),
         "variant 'gaussian_g0' trains on static mice: core.type 'rotation_equivariant_3d' is a video core"),
        (lambda c: c["video"].update(crop_frames=21),
         r"video.crop_frames \(21\) is longer than the 20-frame train trials of video mouse 'v1'; use at most 20"),
        (lambda c: c["video"].update(burn_in_frames=12),
         r"video.burn_in_frames \(12\) must be less than video.crop_frames \(12\)"),
        (lambda c: c["video"].update(scored_from=20),
         r"video.scored_from \(20\) must be less than the 20-frame trials of video mouse 'v1'"),
        (lambda c: c["video"].update(burn_in_frames=1),
         r"video.burn_in_frames \(1\) is shorter than variant 'video_3d''s temporal receptive field less one "
         r"\(3 frames\): its first frames would see the zero padding; use at least 3"),
        (lambda c: c["video"].update(scored_from=2), r"video.scored_from \(2\) is shorter than variant 'video_3d''s"),
        (lambda c: c["dataset"]["video_mice"].update(m1={}),
         r"dataset: mice \['m1'\] are named more than once"),
        (lambda c: c["pruning"].update(variants=["vid"]),
         r"pruning.variants: \['vid'\] train on video mice; this analysis is for static \(image\) models only"),
        (lambda c: c["december"].update(variant="vid"), r"december.variant: \['vid'\] train on video mice"),
        (lambda c: c["december"]["retina"].update(variant="vid"), r"december.retina.variant: \['vid'\] train on"),
        (lambda c: c["regularization_control"]["rows"].update(discrete=["vid", "control_discrete"]),
         r"regularization_control.rows.discrete: \['vid'\] train on video mice"),
        (lambda c: c["identifiability"].update(variant="vid"), r"identifiability.variant: \['vid'\] train on"),
        (lambda c: c["landscapes"].update(video_rows={"static": ["gaussian_g0"]}),
         r"landscapes.video_rows: variant\(s\) \['gaussian_g0'\] are not video variants"),
        (lambda c: c["landscapes"]["video_rows"].update(factorized=["video_factorized_g0", "gaussian_g0"]),
         r"landscapes.video_rows: variant\(s\) \['gaussian_g0'\] are not fitted to the mice \['v1'\]"),
        (lambda c: c["transfer"].update(held_out_mouse="v1"),
         r"transfer: video mice \['v1'\]; core transfer is for static \(image\) mice only"),
        (lambda c: c["transfer"].update(core={"type": "rotation_equivariant_3d"}),
         "transfer.core.type 'rotation_equivariant_3d' is a video core"),
    ],
)
def test_video_mistakes_are_refused_before_any_job_with_the_key(schema, edit, message):
    checked(with_video_variant(tiny_config()), schema)
    config = with_video_variant(tiny_config())
    edit(config)
    with pytest.raises(ConfigError, match=message) as raised:
        checked(config, schema)
    assert "\n" not in str(raised.value)
