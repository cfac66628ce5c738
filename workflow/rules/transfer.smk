# Core transfer and data efficiency (L21, METHODS §8): cores trained on one set of neurons or mice,
# frozen, and new readouts trained on other neurons with varying numbers of images. Every run of
# the three experiments (see v1twin/transfer.py) is one `transfer_run` job; runs that transfer a core
# depend on the run that trained it. Without a `transfer:` config section the stage is left out.

if TRANSFER:

    rule transfer_run:
        """One transfer run: a readout (and a core, unless transferred or random) trained on its neurons and images."""
        input:
            caches=lambda wc: [mouse_cache(m) for m in TRANSFER_JOBS[wc.run]["run"]["mice"]],
            # model.pt of the run whose core this run transfers (none for end-to-end and random cores)
            core=lambda wc: (
                [f"{TRANSFER_DIR}/{TRANSFER_JOBS[wc.run]['run']['core_run']}/model.pt"]
                if TRANSFER_JOBS[wc.run]["run"]["core_run"]
                else []
            ),
        output:
            model=f"{TRANSFER_DIR}/{{run}}/model.pt",
            metrics=f"{TRANSFER_DIR}/{{run}}/metrics.json",
            history=f"{TRANSFER_DIR}/{{run}}/training_log.csv",
        params:
            run=lambda wc: TRANSFER_JOBS[wc.run]["run"],
            settings=lambda wc: TRANSFER_JOBS[wc.run]["settings"],
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
            run=TRANSFER_CONSTRAINT,
        script:
            "../scripts/transfer_run.py"

    rule transfer_table:
        """Test-tier fraction oracle (and other measures) of every transfer run, one row per figure point."""
        input:
            metrics=[f"{TRANSFER_DIR}/{run}/metrics.json" for run in TRANSFER_JOBS],
        output:
            TRANSFER_TABLE,
        params:
            runs=list(TRANSFER_JOBS),
            settings=TRANSFER,
        log:
            f"{LOGS}/transfer_table.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/transfer_table.py"
