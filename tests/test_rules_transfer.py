"""Rule-level tests of the transfer stage, run by Snakemake on the tiny config."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from v1twin import model_run
from v1twin.transfer import split_neurons

from conftest import run_snakemake

pytestmark = pytest.mark.slow

TRANSFER = "results/tiny/transfer"
CONDITION = f"{TRANSFER}/within/best-core/images240/seed1"  # the tiny config has one image count: all 240
CORE = f"{TRANSFER}/cores/m1-core-set/images240/seed1"
FIGURES = ["transfer_readouts", "transfer_within", "transfer_across"]


def test_a_frozen_core_condition_trains_a_readout_on_the_transfer_set(tiny_workdir):
    run_snakemake(tiny_workdir, f"{CONDITION}/metrics.json")
    metrics = json.loads((tiny_workdir / CONDITION / "metrics.json").read_text())
    assert metrics["n_neurons_used"] == 20 and metrics["images_used"] == 240
    assert 0 < metrics["mean"]["oracle"] <= 1 and np.isfinite(metrics["mean"]["fraction_oracle"])

    transfer = model_run.read_model_file(tiny_workdir / CONDITION / "model.pt")
    core = model_run.read_model_file(tiny_workdir / CORE / "model.pt")
    for key, value in core["state_dict"].items():  # weights and BatchNorm statistics, bitwise
        if key.startswith("core."):
            assert torch.equal(transfer["state_dict"][key], value), key
    core_set, transfer_set = split_neurons(40, 0.5, seed=0)
    np.testing.assert_array_equal(transfer["extras"]["unit_ids"]["m1"], transfer_set + 1)  # tiny unit ids 1..40
    np.testing.assert_array_equal(core["extras"]["unit_ids"]["m1"], core_set + 1)
    assert not (tiny_workdir / CONDITION / "training_state.pt").exists()


def test_table_and_figures_cover_every_condition(tiny_workdir):
    targets = ["results/tiny/tables/transfer.csv", *(f"results/tiny/figures/{name}.pdf" for name in FIGURES)]
    run_snakemake(tiny_workdir, *targets)
    table = pd.read_csv(tiny_workdir / "results" / "tiny" / "tables" / "transfer.csv")
    conditions = {experiment: set(rows["condition"]) for experiment, rows in table.groupby("experiment")}
    assert conditions["within"] == {"direct", "best-core/diff-readout", "diff-core/best-readout", "random core"}
    assert conditions["across"] == {
        "direct",
        "core: m1-core-set",
        "random core",
        "core: m1-core-set, no position network",
    }
    assert conditions["readouts"] == {"gaussian", "gaussian + feature sharing", "factorized"}
    assert table["fraction_oracle"].notna().all()
    # every point for both seeds; one model's budget is B = 1 epoch x 240 trials / batch 32 = 8 steps: the
    # readouts take B, every arm of the within and across figures 2B (a frozen core's B + its readout's B)
    assert all(
        seeds == [1, 2] for seeds in table.groupby(["experiment", "condition", "n_images"])["seed"].apply(sorted)
    )
    steps = table.groupby("experiment")["total_steps"].agg(["min", "max"])
    assert steps.loc[["readouts", "within", "across"]].values.tolist() == [[8, 8], [16, 16], [16, 16]]
    for name in FIGURES:
        for suffix in (".pdf", ".png"):
            assert (tiny_workdir / "results" / "tiny" / "figures" / f"{name}{suffix}").stat().st_size > 1000
