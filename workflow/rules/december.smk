# DECEMber (D25, METHODS §5): the base variant is pretrained for PE epochs once per seed
# (december_pretrain, shared by every K, β and learning rate), then continued with the clustering
# loss (december). Labels of the DECEMber models are compared across seeds and with the k-means /
# GMM clusters of the same variant trained without the loss (cluster.smk), and on simulated data
# with the planted types. The toy example of D25 Fig. 2 is a rule of its own.
from v1twin.december import december_runs, find_run, main_runs, main_setting, sweep_runs

DECEMBER = config.get("december")

if DECEMBER:
    DEC_VARIANT = DECEMBER["variant"]
    DEC_TRAINING = VARIANTS[DEC_VARIANT]["training"]
    DEC_RUNS = december_runs(DECEMBER, variant_seeds(DEC_VARIANT), DEC_TRAINING["lr"])
    DEC_MAIN = main_setting(DECEMBER, DEC_TRAINING["lr"])
    DEC_SEEDS = DECEMBER.get("seeds") or variant_seeds(DEC_VARIANT)
    DEC_FIGURE_K = DECEMBER["figure_k"]
    DEC_CONFUSION_RUNS = main_runs(DEC_RUNS, DEC_MAIN, DEC_FIGURE_K)
    DEC_BETA_RUNS = sweep_runs(DEC_RUNS, DEC_MAIN, "beta", DEC_FIGURE_K, DEC_SEEDS[0])
    DEC_RUN_OF_FOLDER = {run.folder(RESULTS): run for run in DEC_RUNS}
    DEC_RUN_PARAMS = [
        {"variant": r.variant, "pe": r.pe, "k": r.k, "beta": r.beta, "lr": r.lr, "seed": r.seed} for r in DEC_RUNS
    ]
    NUMBER = r"[0-9][0-9.e+-]*"

    DEC_RUN_DIR = f"{RESULTS}/december/{{variant}}/pe{{pe}}-k{{k}}-beta{{beta}}-lr{{lr}}/seed{{seed}}"
    DEC_PRETRAIN_DIR = f"{RESULTS}/december/{{variant}}/pretrain-pe{{pe}}/seed{{seed}}"
    DEC_TOY = f"{RESULTS}/december/toy.npz"
    DEC_RUNS_TABLE = f"{RESULTS}/tables/december_runs.csv"
    DEC_CONSISTENCY = f"{RESULTS}/consistency/december_across_seeds.csv"
    DEC_PLANTED = f"{RESULTS}/consistency/december_planted_types.csv"

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
            variant=lambda wc: {key: VARIANTS[wc.variant][key] for key in ("core", "readout")},
            training=lambda wc: {**VARIANTS[wc.variant]["training"], "max_epochs": int(wc.pe)},
            seed=lambda wc: int(wc.seed),
            image_scale=DATASET["image_scale"],
            mice=MICE,
            device=config["device"],
        log:
            f"{LOGS}/december_pretrain/{{variant}}/pe{{pe}}-seed{{seed}}.log",
        benchmark:
            f"{BENCHMARKS}/december_pretrain/{{variant}}/pe{{pe}}-seed{{seed}}.tsv"
        conda:
            GPU_ENV
        threads: 1
        resources:
            gpu=1,
            mem_mb=16000,
            runtime=lambda wc, attempt: 360 * attempt,
        wildcard_constraints:
            variant=re.escape(DEC_VARIANT),
            pe=r"\d+",
        script:
            "../scripts/train_model.py"

    rule december:
        """The pretrained model continued with the DECEMber loss: checkpoint, labels, clusters, metrics."""
        input:
            pretrained=f"{DEC_PRETRAIN_DIR}/model.pt",
            caches=[mouse_cache(m) for m in MICE],
            ground_truth=ground_truth_files(),
        output:
            model=f"{DEC_RUN_DIR}/model.pt",
            metrics=f"{DEC_RUN_DIR}/metrics.json",
            history=f"{DEC_RUN_DIR}/training_log.csv",
            clusters=f"{DEC_RUN_DIR}/clusters.npz",
            embedding=f"{DEC_RUN_DIR}/embedding.npz",
        params:
            variant=lambda wc: {key: VARIANTS[wc.variant][key] for key in ("core", "readout")},
            run=lambda wc: find_run(DEC_RUN_OF_FOLDER, DEC_RUN_DIR.format(**wc)),
            training={**DEC_TRAINING, "max_epochs": DECEMBER["epochs"]},
            mixture={"nu": DECEMBER["nu"], "kmeans_n_init": DECEMBER["kmeans_n_init"]},
            image_scale=DATASET["image_scale"],
            mice=MICE,
            device=config["device"],
        log:
            f"{LOGS}/december/{{variant}}/pe{{pe}}-k{{k}}-beta{{beta}}-lr{{lr}}-seed{{seed}}.log",
        benchmark:
            f"{BENCHMARKS}/december/{{variant}}/pe{{pe}}-k{{k}}-beta{{beta}}-lr{{lr}}-seed{{seed}}.tsv"
        conda:
            GPU_ENV
        threads: 1
        resources:
            gpu=1,
            mem_mb=16000,
            runtime=lambda wc, attempt: 360 * attempt,
        wildcard_constraints:
            variant=re.escape(DEC_VARIANT),
            pe=r"\d+",
            k=r"\d+",
            beta=NUMBER,
            lr=NUMBER,
        script:
            "../scripts/december.py"

    rule december_tsne:
        """openTSNE map of a DECEMber model's embedding (the neurons of the consistency stage's maps)."""
        input:
            f"{DEC_RUN_DIR}/embedding.npz",
        output:
            f"{DEC_RUN_DIR}/tsne.csv",
        params:
            tsne=CLUSTERING["tsne"],
        log:
            f"{LOGS}/december_tsne/{{variant}}/pe{{pe}}-k{{k}}-beta{{beta}}-lr{{lr}}-seed{{seed}}.log",
        benchmark:
            f"{BENCHMARKS}/december_tsne/{{variant}}/pe{{pe}}-k{{k}}-beta{{beta}}-lr{{lr}}-seed{{seed}}.tsv"
        group:
            "model_analysis"
        conda:
            CPU_ENV
        threads: 1
        resources:
            mem_mb=4000,
            runtime=60,
        wildcard_constraints:
            variant=re.escape(DEC_VARIANT),
            pe=r"\d+",
            k=r"\d+",
            beta=NUMBER,
            lr=NUMBER,
        script:
            "../scripts/tsne.py"

    rule december_toy:
        """D25 Fig. 2's toy example: linear neurons in two nearby weight clusters, DEC vs DECEMber."""
        output:
            DEC_TOY,
        params:
            stimuli=DECEMBER["toy_stimuli"],
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
            metrics=[f"{run.folder(RESULTS)}/metrics.json" for run in DEC_RUNS],
            baseline=[f"{model_dir(DEC_VARIANT, s)}/metrics.json" for s in variant_seeds(DEC_VARIANT)],
        output:
            DEC_RUNS_TABLE,
        params:
            runs=DEC_RUN_PARAMS,
            baseline_seeds=variant_seeds(DEC_VARIANT),
        log:
            f"{LOGS}/december_tables/runs.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/december_tables.py"

    rule december_consistency:
        """ARI, FMI, V-measure across seeds of DECEMber labels, beside k-means and GMM of the base variant."""
        input:
            clusters=[f"{run.folder(RESULTS)}/clusters.npz" for run in DEC_RUNS],
            baseline=ACROSS_SEEDS_TABLE,
        output:
            DEC_CONSISTENCY,
        params:
            runs=DEC_RUN_PARAMS,
            variant=DEC_VARIANT,
            k_values=DECEMBER["k_values"],
        log:
            f"{LOGS}/december_tables/consistency.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/december_tables.py"

    rule figure_december_toy:
        """D25 Fig. 2: vanilla DEC vs DECEMber on two nearby clusters of linear neurons (2000 / 500)."""
        input:
            toy=DEC_TOY,
        output:
            **figure_rule_outputs("december_toy", category="DECEMber"),
        params:
            plot="december.toy",
            options={},
        log:
            f"{LOGS}/figures/december_toy.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/plot.py"

    rule figure_december_beta:
        """D25 Fig. 4: t-SNE of the embedding over β, test correlation vs β, ARI across seeds vs K (DECEMber vs GMM)."""
        input:
            tsne=[f"{run.folder(RESULTS)}/tsne.csv" for run in DEC_BETA_RUNS],
            clusters=[f"{run.folder(RESULTS)}/clusters.npz" for run in DEC_BETA_RUNS],
            runs=DEC_RUNS_TABLE,
            consistency=DEC_CONSISTENCY,
        output:
            **figure_rule_outputs("december_beta", category="DECEMber"),
        params:
            plot="december.beta_figure",
            options={"betas": [r.beta for r in DEC_BETA_RUNS], "main": DEC_MAIN, "k": DEC_FIGURE_K},
        log:
            f"{LOGS}/figures/december_beta.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/plot.py"

    rule figure_december_sweeps:
        """D25 Fig. 5: agreement across seeds and test correlation vs pretraining epochs and vs learning rate."""
        input:
            runs=DEC_RUNS_TABLE,
            consistency=DEC_CONSISTENCY,
        output:
            **figure_rule_outputs("december_sweeps", category="DECEMber"),
        params:
            plot="december.sweeps_figure",
            options={"main": DEC_MAIN, "k": DEC_FIGURE_K},
        log:
            f"{LOGS}/figures/december_sweeps.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/plot.py"

    rule figure_december_agreement:
        """D25 B.5: ARI, Fowlkes–Mallows and V-measure across seeds vs K, DECEMber vs k-means and GMM."""
        input:
            consistency=DEC_CONSISTENCY,
        output:
            **figure_rule_outputs("december_agreement", category="DECEMber"),
        params:
            plot="december.agreement_figure",
            options={"main": DEC_MAIN},
        log:
            f"{LOGS}/figures/december_agreement.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/plot.py"

    ALL_FIGURES.extend(
        [
            DEC_RUNS_TABLE,
            DEC_CONSISTENCY,
            figure("december_toy"),
            figure("december_beta"),
            figure("december_sweeps"),
            figure("december_agreement"),
        ]
    )
    if SIMULATED:

        rule december_planted_types:
            """ARI of every DECEMber run's labels with the simulator's planted types."""
            input:
                clusters=[f"{run.folder(RESULTS)}/clusters.npz" for run in DEC_RUNS],
                truth=ground_truth_files(),
            output:
                DEC_PLANTED,
            params:
                runs=DEC_RUN_PARAMS,
                mice=MICE,
            log:
                f"{LOGS}/december_tables/planted_types.log",
            localrule: True
            conda:
                CPU_ENV
            script:
                "../scripts/december_tables.py"

        rule figure_december_confusion:
            """DECEMber clusters vs planted types (the analogue of D25's retina Fig. 3), every seed, K = figure_k."""
            input:
                clusters=[f"{run.folder(RESULTS)}/clusters.npz" for run in DEC_CONFUSION_RUNS],
                truth=ground_truth_files(),
                planted=DEC_PLANTED,
                baseline=PLANTED_TABLE,
            output:
                **figure_rule_outputs("december_confusion", category="DECEMber"),
            params:
                plot="december.confusion_figure",
                options={
                    "seeds": [r.seed for r in DEC_CONFUSION_RUNS],
                    "mice": MICE,
                    "main": DEC_MAIN,
                    "variant": DEC_VARIANT,
                },
            log:
                f"{LOGS}/figures/december_confusion.log",
            localrule: True
            conda:
                CPU_ENV
            script:
                "../scripts/plot.py"

        ALL_FIGURES.extend([DEC_PLANTED, figure("december_confusion")])
