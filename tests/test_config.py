"""Variant expansion: the names and settings every rule file relies on."""
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from v1twin.config import (
    check_landscape_variants, expand_variants, landscape_sweep, regularization_label, sweep_points, sweep_variant_name,
    training_runs,
)

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
    [({"type": "gaussian", "regularizer": "none"}, "γ = 0"), ({"type": "gaussian", "regularizer": "l1", "gamma": 10.0}, "γ = 10"),
     ({"type": "factorized", "gamma": 0.003}, "γ = 0.003"), ({"type": "factorized"}, "γ default")],
)
def test_regularization_label(readout, label):
    assert regularization_label(readout) == label
