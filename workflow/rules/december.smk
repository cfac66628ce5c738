# DECEMber (D25, METHODS §5): the base variant is pretrained for PE epochs once per seed
# (december_pretrain, shared by every K, β and learning rate), then continued with the clustering
# loss (december_run). Labels of the DECEMber models are compared across seeds and with the k-means /
# GMM clusters of the same variant trained without the loss (cluster.smk), and on simulated data
# with the planted types. The toy example of D25 Fig. 2 is a rule of its own. The runs are the
# stage's plan (common.smk, v1twin.december.plan): the wildcards `run` and `pretrain` are their names.

if DECEMBER:

    rule december_pretrain:
        """The base variant trained for PE epochs without the clustering loss (D25's pretraining)."""
        input:
            caches=[mouse_cache(m) for m in MICE],
            ground_truth=ground_truth_files(),
        output:
            model=f"{DEC_PRETRAIN_DIR}/model.pt",
            metrics=f"{DEC_PRETRAIN_DIR}/metrics.json",
            history=f"{DEC_PRETRAIN_DIR}/training_log.csv",
        params:
            run=lambda wc: asdict(DEC_PRETRAINING[wc.pretrain]),
            image_scale=DATASET["image_scale"],
            mice=MICE,
            device=config["device"],
        log:
            f"{LOGS}/december_pretrain/{{pretrain}}.log",
        benchmark:
            f"{BENCHMARKS}/december_pretrain/{{pretrain}}.tsv"
        conda:
            GPU_ENV
        threads: 1
        resources:
            gpu=1,
            mem_mb=16000,
            runtime=lambda wc, attempt: 360 * attempt,
        wildcard_constraints:
            pretrain=DEC_PRETRAIN_NAMES,
        script:
            "../scripts/december_pretrain.py"

    rule december_run:
        """The pretrained model continued with the DECEMber loss: checkpoint, labels, clusters, metrics."""
        input:
            pretrained=lambda wc: f"{DEC_PRETRAIN_DIR}/model.pt".format(pretrain=DEC_PLAN[wc.run].pretrain),
            caches=[mouse_cache(m) for m in MICE],
            ground_truth=ground_truth_files(),
        output:
            model=f"{DEC_RUN_DIR}/model.pt",
            metrics=f"{DEC_RUN_DIR}/metrics.json",
            history=f"{DEC_RUN_DIR}/training_log.csv",
            clusters=f"{DEC_RUN_DIR}/clusters.npz",
            embedding=f"{DEC_RUN_DIR}/embedding.npz",
        params:
            run=lambda wc: asdict(DEC_PLAN[wc.run]),
            image_scale=DATASET["image_scale"],
            mice=MICE,
            device=config["device"],
        log:
            f"{LOGS}/december_run/{{run}}.log",
        benchmark:
            f"{BENCHMARKS}/december_run/{{run}}.tsv"
        conda:
            GPU_ENV
        threads: 1
        resources:
            gpu=1,
            mem_mb=16000,
            runtime=lambda wc, attempt: 360 * attempt,
        wildcard_constraints:
            run=DEC_RUN_NAMES,
        script:
            "../scripts/december_run.py"

    rule december_tsne:
        """openTSNE map of a DECEMber model's embedding (the neurons of the consistency stage's maps)."""
        input:
            f"{DEC_RUN_DIR}/embedding.npz",
        output:
            f"{DEC_RUN_DIR}/tsne.csv",
        params:
            tsne=CLUSTERING["tsne"],
        log:
            f"{LOGS}/december_tsne/{{run}}.log",
        benchmark:
            f"{BENCHMARKS}/december_tsne/{{run}}.tsv"
        group:
            "model_analysis"
        conda:
            CPU_ENV
        threads: 1
        resources:
            mem_mb=4000,
            runtime=60,
        wildcard_constraints:
            run=DEC_RUN_NAMES,
        script:
            "../scripts/december_tsne.py"

    rule december_toy:
        """D25 Fig. 2's toy example: linear neurons in two nearby weight clusters, DEC vs DECEMber."""
        output:
            DEC_TOY,
        params:
            stimuli=DECEMBER["toy_stimuli"],
            nu=DECEMBER["nu"],
        log:
            f"{LOGS}/december_toy.log",
        benchmark:
            f"{BENCHMARKS}/december_toy.tsv"
        conda:
            CPU_ENV
        threads: 1
        resources:
            mem_mb=4000,
            runtime=30,
        script:
            "../scripts/december_toy.py"

    rule december_run_table:
        """Test measures and EM overhead of every DECEMber run, beside the base variant trained without the loss."""
        input:
            metrics=december_files("metrics.json"),
            baseline=[f"{model_dir(DEC_VARIANT, s)}/metrics.json" for s in variant_seeds(DEC_VARIANT)],
        output:
            DEC_RUNS_TABLE,
        params:
            runs=DEC_RUN_PARAMS,
            baseline_seeds=variant_seeds(DEC_VARIANT),
        log:
            f"{LOGS}/december_run_table.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/december_run_table.py"

    rule december_consistency:
        """ARI, FMI, V-measure across seeds of DECEMber labels, beside k-means and GMM of the base variant."""
        input:
            clusters=december_files("clusters.npz"),
            baseline=ACROSS_SEEDS_TABLE,
        output:
            DEC_CONSISTENCY,
        params:
            runs=DEC_RUN_PARAMS,
            variant=DEC_VARIANT,
            k_values=DECEMBER["k_values"],
        log:
            f"{LOGS}/december_consistency.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/december_consistency.py"


if DECEMBER and SIMULATED:

    rule december_planted_types:
        """ARI of every DECEMber run's labels with the simulator's planted types."""
        input:
            clusters=december_files("clusters.npz"),
            truth=ground_truth_files(),
        output:
            DEC_PLANTED,
        params:
            runs=DEC_RUN_PARAMS,
            mice=MICE,
        log:
            f"{LOGS}/december_planted_types.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/december_planted_types.py"
