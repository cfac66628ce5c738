# Core transfer and data efficiency (L21, METHODS §8): cores trained on one set of neurons or mice,
# frozen, and new readouts trained on other neurons with varying numbers of images. Every run of
# the three experiments (see v1twin/transfer.py) is one `transfer_run` job; runs that transfer a core
# depend on the run that trained it. Without a `transfer:` config section the stage is left out.

from v1twin.transfer import RUN_SETTINGS, plan_runs

TRANSFER = config.get("transfer")

if TRANSFER:
    TRANSFER_RUNS = {name: run.as_dict() for name, run in plan_runs(TRANSFER, ALL_MICE).runs.items()}
    TRANSFER_DIR = f"{RESULTS}/transfer"
    TRANSFER_TABLE = f"{RESULTS}/tables/transfer.csv"
    # what every run reads of the section; its training overrides are merged over the global training settings
    TRANSFER_RUN_SETTINGS = {
        **{key: TRANSFER[key] for key in RUN_SETTINGS if key != "training"},
        "training": {**config["training"], **TRANSFER.get("training", {})},
    }

    rule transfer_run:
        """One transfer run: a readout (and a core, unless transferred or random) trained on its neurons and images."""
        input:
            caches=lambda wc: [mouse_cache(m) for m in TRANSFER_RUNS[wc.run]["mice"]],
            # model.pt of the run whose core this run transfers (none for end-to-end and random cores)
            core=lambda wc: (
                [f"{TRANSFER_DIR}/{TRANSFER_RUNS[wc.run]['core_run']}/model.pt"]
                if TRANSFER_RUNS[wc.run]["core_run"]
                else []
            ),
        output:
            model=f"{TRANSFER_DIR}/{{run}}/model.pt",
            metrics=f"{TRANSFER_DIR}/{{run}}/metrics.json",
            history=f"{TRANSFER_DIR}/{{run}}/training_log.csv",
        params:
            run=lambda wc: TRANSFER_RUNS[wc.run],
            settings=TRANSFER_RUN_SETTINGS,
            image_scale=DATASET["image_scale"],
            device=config["device"],
        log:
            f"{LOGS}/transfer_run/{{run}}.log",
        benchmark:
            f"{BENCHMARKS}/transfer_run/{{run}}.tsv"
        conda:
            GPU_ENV
        threads: 1
        resources:
            gpu=1,
            mem_mb=16000,
            runtime=lambda wc, attempt: 180 * attempt,
        wildcard_constraints:
            run="|".join(map(re.escape, TRANSFER_RUNS)),
        script:
            "../scripts/transfer_run.py"

    rule transfer_table:
        """Test-tier fraction oracle (and other measures) of every transfer run, one row per figure point."""
        input:
            metrics=[f"{TRANSFER_DIR}/{run}/metrics.json" for run in TRANSFER_RUNS],
        output:
            TRANSFER_TABLE,
        params:
            runs=list(TRANSFER_RUNS),
            settings=TRANSFER,
            mice=ALL_MICE,
        log:
            f"{LOGS}/transfer/transfer_table.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/transfer_table.py"

    rule figure_transfer_readouts:
        """L21 Fig. 3: Gaussian (with and without feature sharing) vs factorized readout, vs images and neurons."""
        input:
            table=TRANSFER_TABLE,
        output:
            **figure_rule_outputs("transfer_readouts", category="Core transfer"),
        params:
            plot="transfer.readouts",
            options={"mouse": TRANSFER["within_mouse"], "sessions": TRANSFER["sessions"]},
        log:
            f"{LOGS}/figures/transfer_readouts.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/plot.py"

    rule figure_transfer_within:
        """L21 Fig. 4: transfer between the core set and the transfer set of neurons of one mouse."""
        input:
            table=TRANSFER_TABLE,
        output:
            **figure_rule_outputs("transfer_within", category="Core transfer"),
        params:
            plot="transfer.within_animal",
            options={"mouse": TRANSFER["within_mouse"]},
        log:
            f"{LOGS}/figures/transfer_within.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/plot.py"

    rule figure_transfer_across:
        """L21 Fig. 5: cores from different training sets transferred to a held-out mouse."""
        input:
            table=TRANSFER_TABLE,
        output:
            **figure_rule_outputs("transfer_across", category="Core transfer"),
        params:
            plot="transfer.across_animal",
            options={"mouse": TRANSFER["held_out_mouse"]},
        log:
            f"{LOGS}/figures/transfer_across.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/plot.py"

    ALL_FIGURES.extend(
        [TRANSFER_TABLE, figure("transfer_readouts"), figure("transfer_within"), figure("transfer_across")]
    )
