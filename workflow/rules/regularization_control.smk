# Can readout regularization fake cell types? (L25 Fig. 3 with a continuum control; package
# v1twin.regularization_control.) Each row of the config is one population's variants in increasing L1
# gamma; each model (every seed) is measured against matched nulls without clusters, then one table
# adds agreement across seeds and flags collapsed runs. The models, embeddings, labels and t-SNE maps
# come from training.smk and clustering.smk.

if REG_CONTROL:

    rule regularization_control_measures:
        """One model's silhouettes beside its matched nulls, readout sparsity, planted-type ARI and performance."""
        input:
            embedding=EMBEDDING,
            labels=LABELS,
            metrics=f"{RESULTS}/models/{{variant}}/seed{{seed}}/metrics.json",
            truth=lambda wc: ground_truth_files(variant_mice(wc.variant)) if SIMULATED else [],
        output:
            REG_CONTROL_MEASURES,
        params:
            run=lambda wc: asdict(REG_CONTROL_RUN[(wc.variant, int(wc.seed))]),
            mice=lambda wc: variant_mice(wc.variant),
            settings={
                **{
                    key: REG_CONTROL[key]
                    for key in ("k_values", "null_draws", "silhouette_sample", "weight_threshold")
                },
                "n_init": CLUSTERING["n_init"],
                "random_state": CLUSTERING["random_state"],
            },
        log:
            f"{LOGS}/regularization_control_measures/{{variant}}/seed{{seed}}.log",
        benchmark:
            f"{BENCHMARKS}/regularization_control_measures/{{variant}}/seed{{seed}}.tsv"
        group:
            "model_analysis"
        conda:
            CPU_ENV
        threads: 1
        resources:
            mem_mb=4000,
            runtime=120,
        wildcard_constraints:
            variant="|".join(map(re.escape, {run.variant for run in REG_CONTROL_RUNS})),
        script:
            "../scripts/regularization_control_measures.py"

    rule regularization_control_table:
        """Per row, gamma and K: means over seeds, collapsed seeds, ARI across seeds (all pairs, non-collapsed pairs)."""
        input:
            measures=[REG_CONTROL_MEASURES.format(variant=run.variant, seed=run.seed) for run in REG_CONTROL_RUNS],
            labels=[LABELS.format(variant=run.variant, seed=run.seed) for run in REG_CONTROL_RUNS],
        output:
            runs=REG_CONTROL_RUNS_TABLE,
            summary=REG_CONTROL_TABLE,
        params:
            runs=[asdict(run) for run in REG_CONTROL_RUNS],
            collapse_fraction=CLUSTERING["collapse_fraction"],
        log:
            f"{LOGS}/regularization_control_table.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/regularization_control_table.py"
