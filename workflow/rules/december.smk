# DECEMber (D25 Sec. 4, METHODS §5). The converged baseline of a DECEMber variant is its training_run
# models (early-stopped, one per seed). december_pretrain replays the first PE epochs of that very run
# (shared by every K, beta ratio and learning rate), december_run continues it with the clustering loss
# until early stopping (beta = ratio x the model loss at its start), december_baseline fits k-means and
# the diagonal GMM to the converged models' raw embeddings. Tables: DECEMber vs the converged GMM and
# k-means across seeds (D25 Figs. 4-6) and, on simulated data, the retina-style check against planted
# types (Fig. 3). The toy example of D25 Fig. 2 is a rule of its own. The runs are the stage's plan
# (common.smk, v1twin.december.plan): the wildcards `run` and `pretrain` are their names.

if DECEMBER:

    rule december_pretrain:
        """The first PE epochs of the converged baseline run (same variant, seed, data), weights of epoch PE."""
        input:
            caches=lambda wc: [mouse_cache(m) for m in DEC_PRETRAINING[wc.pretrain].mice],
            ground_truth=lambda wc: ground_truth_files(DEC_PRETRAINING[wc.pretrain].mice),
            baseline_history=lambda wc: f"{model_dir(DEC_PRETRAINING[wc.pretrain].variant, DEC_PRETRAINING[wc.pretrain].seed)}/training_log.csv",
        output:
            model=f"{DEC_PRETRAIN_DIR}/model.pt",
            metrics=f"{DEC_PRETRAIN_DIR}/metrics.json",
            history=f"{DEC_PRETRAIN_DIR}/training_log.csv",
        params:
            run=lambda wc: asdict(DEC_PRETRAINING[wc.pretrain]),
            image_scale=DATASET["image_scale"],
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
        """The pretrained model trained on with the DECEMber loss until early stopping: model, labels, clusters, metrics."""
        input:
            pretrained=lambda wc: f"{DEC_PRETRAIN_DIR}/model.pt".format(pretrain=DEC_RUNS[wc.run].pretrain),
            caches=lambda wc: [mouse_cache(m) for m in DEC_RUNS[wc.run].mice],
            ground_truth=lambda wc: ground_truth_files(DEC_RUNS[wc.run].mice),
        output:
            model=f"{DEC_RUN_DIR}/model.pt",
            metrics=f"{DEC_RUN_DIR}/metrics.json",
            history=f"{DEC_RUN_DIR}/training_log.csv",
            clusters=f"{DEC_RUN_DIR}/clusters.npz",
            embedding=f"{DEC_RUN_DIR}/embedding.npz",
        params:
            run=lambda wc: asdict(DEC_RUNS[wc.run]),
            image_scale=DATASET["image_scale"],
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

    rule december_baseline:
        """D25's baseline: k-means and diagonal GMM at every K on the raw embeddings of the variant's converged models."""
        input:
            models=lambda wc: [model_file(wc.variant, s) for s in variant_seeds(wc.variant)],
        output:
            DEC_BASELINE,
        params:
            seeds=lambda wc: variant_seeds(wc.variant),
            mice=lambda wc: variant_mice(wc.variant),
            k_values=lambda wc: DEC_BASELINE_K[wc.variant],
            n_init=CLUSTERING["n_init"],
            random_state=CLUSTERING["random_state"],
        log:
            f"{LOGS}/december_baseline/{{variant}}.log",
        benchmark:
            f"{BENCHMARKS}/december_baseline/{{variant}}.tsv"
        conda:
            CPU_ENV
        threads: 1
        resources:
            mem_mb=8000,
            runtime=120,
        wildcard_constraints:
            variant="|".join(map(re.escape, DEC_VARIANTS)),
        script:
            "../scripts/december_baseline.py"

    rule december_run_table:
        """beta (ratio x initial model loss), test measures and EM overhead of every DECEMber run, beside the converged baselines."""
        input:
            metrics=december_files("metrics.json"),
            baseline=[f"{model_dir(v, s)}/metrics.json" for v in DEC_VARIANTS for s in variant_seeds(v)],
        output:
            DEC_RUNS_TABLE,
        params:
            runs=DEC_RUN_PARAMS,
            baseline_runs=[(v, s) for v in DEC_VARIANTS for s in variant_seeds(v)],
        log:
            f"{LOGS}/december_run_table.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/december_run_table.py"

    rule december_consistency:
        """Agreement across seeds of the DECEMber labels; DECEMber vs the converged GMM and k-means (D25 Figs. 4-6)."""
        input:
            clusters=december_files("clusters.npz"),
            runs=DEC_RUNS_TABLE,
            baseline=DEC_BASELINE.format(variant=DEC_VARIANT),
        output:
            across=DEC_CONSISTENCY,
            vs_baseline=DEC_VS_BASELINE,
        params:
            runs=DEC_RUN_PARAMS,
            variant=DEC_VARIANT,
        log:
            f"{LOGS}/december_consistency.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/december_consistency.py"


if DECEMBER and DEC_RETINA:

    rule december_planted_types:
        """The retina-style check (D25 Fig. 3): DECEMber vs converged GMM and k-means, and its confusion, labelled cells."""
        input:
            clusters=december_files("clusters.npz", DEC_RETINA_RUNS),
            metrics=december_files("metrics.json", DEC_RETINA_RUNS),
            baseline=DEC_BASELINE.format(variant=DEC_RETINA["variant"]),
            baseline_metrics=[
                f"{model_dir(DEC_RETINA['variant'], s)}/metrics.json" for s in variant_seeds(DEC_RETINA["variant"])
            ],
            truth=ground_truth_files(variant_mice(DEC_RETINA["variant"])),
        output:
            table=DEC_PLANTED,
            confusion=DEC_CONFUSION,
        params:
            runs=[asdict(run) for run in DEC_RETINA_RUNS],
        log:
            f"{LOGS}/december_planted_types.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/december_planted_types.py"
