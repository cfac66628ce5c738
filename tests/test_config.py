"""Variant expansion: the names and settings every rule file relies on."""
import pytest

from v1twin.config import expand_variants, sweep_variant_name, training_runs

CONFIG = {
    "seeds": [1, 2],
    "training": {"lr": 0.005, "batch_size": 64},
    "variants": {
        "fact": {"core": {"type": "cnn"}, "readout": {"type": "factorized", "gamma": 0.01}},
        "gauss": {
            "core": {"type": "cnn"},
            "readout": {"type": "gaussian"},
            "training": {"lr": 0.001},
        },
    },
    "sweeps": {"fact_gamma": {"base": "fact", "parameter": "readout.gamma", "values": [0.1, 1.0], "seeds": [3]}},
}


def test_named_variants_inherit_and_override_training():
    variants = expand_variants(CONFIG)
    assert variants["fact"]["training"] == {"lr": 0.005, "batch_size": 64}
    assert variants["gauss"]["training"] == {"lr": 0.001, "batch_size": 64}
    assert variants["fact"]["seeds"] == [1, 2]


def test_sweep_sets_one_parameter_and_leaves_the_base_untouched():
    variants = expand_variants(CONFIG)
    swept = variants[sweep_variant_name("fact_gamma", 0.1)]
    assert sweep_variant_name("fact_gamma", 0.1) == "fact_gamma-0.1"
    assert swept["readout"] == {"type": "factorized", "gamma": 0.1}
    assert swept["seeds"] == [3]
    assert CONFIG["variants"]["fact"]["readout"]["gamma"] == 0.01


def test_training_runs_lists_every_variant_seed_pair():
    runs = training_runs(expand_variants(CONFIG))
    assert runs == [("fact", 1), ("fact", 2), ("gauss", 1), ("gauss", 2), ("fact_gamma-0.1", 3), ("fact_gamma-1.0", 3)]


def test_sweep_of_unknown_base_names_it():
    config = {**CONFIG, "sweeps": {"s": {"base": "nope", "parameter": "readout.gamma", "values": [1]}}}
    with pytest.raises(ValueError, match="'nope'"):
        expand_variants(config)
