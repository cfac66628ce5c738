# Embedding consistency (METHODS §4): readout embeddings of every named variant and seed, their
# k-means/GMM clusters, agreement across seeds and k-means reruns, t-SNE maps, and their figures.
# The rules are generic over every model; the tables and figures compare the ANALYSED variants.
# The regularization landscapes (R24 Fig. 3, L25 Figs. 3 and 5) and D25's discrete-vs-continuum test
# follow at the end: they add sweep points and control variants to the across-seeds table.
from v1twin.config import landscape_sweep, regularization_label

CLUSTERING = config["clustering"]
CLUSTER_VARIANTS = ANALYSED
CLUSTER_RUNS = [(v, s) for v in CLUSTER_VARIANTS for s in variant_seeds(v)]
FIRST_SEED = {v: variant_seeds(v)[0] for v in MODEL_VARIANTS}
# One table holds every ARI across seeds: the analysed variants, then every other model trained
# with at least 2 seeds (sweep points, controls on other mice).
SEED_COMPARED = CLUSTER_VARIANTS + [v for v in VARIANTS if v not in CLUSTER_VARIANTS and len(variant_seeds(v)) >= 2]
SEED_COMPARED_RUNS = [(v, s) for v in SEED_COMPARED for s in variant_seeds(v)]


# Path templates; `.format(variant=..., seed=...)` names one file.
EMBEDDING = f"{RESULTS}/embeddings/{{variant}}/seed{{seed}}.npz"
LABELS = f"{RESULTS}/clusters/{{variant}}/seed{{seed}}.npz"
TSNE_MAP = f"{RESULTS}/embeddings/{{variant}}/seed{{seed}}.tsne.csv"
RERUNS = f"{RESULTS}/clusters/{{variant}}/kmeans_reruns.csv"
ACROSS_SEEDS_TABLE = f"{RESULTS}/consistency/clustering_across_seeds.csv"
RERUNS_TABLE = f"{RESULTS}/consistency/kmeans_reruns.csv"
RESPONSE_TABLE = f"{RESULTS}/consistency/response_correlation.csv"
PLANTED_TABLE = f"{RESULTS}/consistency/planted_types.csv"
SEPARABILITY_TABLE = f"{RESULTS}/consistency/planted_type_separability.csv"


# The CPU analysis of a model (its embedding, clusterings, t-SNE map; minutes each) is one group: on a
# cluster its jobs share one sbatch job, and profiles/slurm bundles several models per job.


rule embeddings:
    """Readout features of the model's mice (config order), L2-normalized and rotation-aligned where equivariant."""
    input:
        model=f"{RESULTS}/models/{{variant}}/seed{{seed}}/model.pt",
    output:
        EMBEDDING,
    params:
        mice=lambda wc: variant_mice(wc.variant),
    log:
        f"{LOGS}/embeddings/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/embeddings/{{variant}}/seed{{seed}}.tsv"
    group:
        "model_analysis"
    conda:
        CPU_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../scripts/embeddings.py"


rule cluster_embeddings:
    """k-means and diagonal-GMM labels of one embedding at every K of clustering.k_values."""
    input:
        EMBEDDING,
    output:
        LABELS,
    params:
        k_values=CLUSTERING["k_values"],
        n_init=CLUSTERING["n_init"],
        random_state=CLUSTERING["random_state"],
    log:
        f"{LOGS}/cluster_embeddings/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/cluster_embeddings/{{variant}}/seed{{seed}}.tsv"
    group:
        "model_analysis"
    conda:
        CPU_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
    script:
        "../scripts/cluster.py"


rule kmeans_reruns:
    """R24 A.4: ARI between k-means runs with different random states on the first seed's embedding."""
    input:
        lambda wc: EMBEDDING.format(variant=wc.variant, seed=FIRST_SEED[wc.variant]),
    output:
        RERUNS,
    params:
        k_values=CLUSTERING["k_values"],
        n_init=CLUSTERING["n_init"],
        random_state=CLUSTERING["random_state"],
        reruns=CLUSTERING["reruns"],
    log:
        f"{LOGS}/kmeans_reruns/{{variant}}.log",
    benchmark:
        f"{BENCHMARKS}/kmeans_reruns/{{variant}}.tsv"
    group:
        "model_analysis"
    conda:
        CPU_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
    script:
        "../scripts/kmeans_reruns.py"


rule tsne:
    """openTSNE map of up to clustering.tsne.neurons_per_mouse neurons per mouse (the same neurons for every variant)."""
    input:
        EMBEDDING,
    output:
        TSNE_MAP,
    params:
        tsne=CLUSTERING["tsne"],
    log:
        f"{LOGS}/tsne/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/tsne/{{variant}}/seed{{seed}}.tsv"
    group:
        "model_analysis"
    conda:
        CPU_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    script:
        "../scripts/tsne.py"


rule clustering_across_seeds:
    """ARI, Fowlkes-Mallows and V-measure over seed pairs (mean, sd) per variant, method and K."""
    input:
        labels=[LABELS.format(variant=v, seed=s) for v, s in SEED_COMPARED_RUNS],
    output:
        ACROSS_SEEDS_TABLE,
    params:
        runs=SEED_COMPARED_RUNS,
    log:
        f"{LOGS}/consistency/clustering_across_seeds.log",
    localrule: True
    conda:
        CPU_ENV
    script:
        "../scripts/consistency.py"


rule kmeans_rerun_table:
    """R24 A.4: k-means rerun ARI (mean, sd over rerun pairs) per variant and K."""
    input:
        pairs=[RERUNS.format(variant=v) for v in CLUSTER_VARIANTS],
    output:
        RERUNS_TABLE,
    params:
        seeds={v: FIRST_SEED[v] for v in CLUSTER_VARIANTS},
    log:
        f"{LOGS}/consistency/kmeans_reruns.log",
    localrule: True
    conda:
        CPU_ENV
    script:
        "../scripts/consistency.py"


rule response_correlation:
    """Per-neuron correlation of two seeds' test-tier predictions, averaged (R24 Table 1, first column)."""
    input:
        models=[model_file(v, s) for v, s in CLUSTER_RUNS],
        caches=[mouse_cache(m) for m in MICE],
    output:
        RESPONSE_TABLE,
    params:
        runs=CLUSTER_RUNS,
        mice=MICE,
        image_scale=DATASET["image_scale"],
    log:
        f"{LOGS}/consistency/response_correlation.log",
    benchmark:
        f"{BENCHMARKS}/response_correlation.tsv"
    conda:
        CPU_ENV
    threads: 1
    resources:
        mem_mb=16000,
        runtime=120,
    script:
        "../scripts/consistency.py"


rule figure_tsne:
    """R24 Fig. 2B-E: t-SNE of each variant's embedding coloured by k-means cluster (and by planted type)."""
    input:
        tsne=[TSNE_MAP.format(variant=v, seed=FIRST_SEED[v]) for v in CLUSTER_VARIANTS],
        labels=[LABELS.format(variant=v, seed=FIRST_SEED[v]) for v in CLUSTER_VARIANTS],
        truth=ground_truth_files(),
    output:
        **figure_rule_outputs("tsne_embeddings", category="Embedding consistency"),
    params:
        plot="clustering.tsne_embeddings",
        options={"variants": CLUSTER_VARIANTS, "k": CLUSTERING["figure_k"], "mice": MICE},
    log:
        f"{LOGS}/figures/tsne_embeddings.log",
    localrule: True
    conda:
        CPU_ENV
    script:
        "../scripts/plot.py"


rule figure_ari_across_seeds:
    """R24 Fig. 2I: agreement of clusterings across seeds vs K per variant, k-means and GMM."""
    input:
        table=ACROSS_SEEDS_TABLE,
    output:
        **figure_rule_outputs("ari_across_seeds", category="Embedding consistency"),
    params:
        plot="clustering.ari_across_seeds",
        options={"variants": CLUSTER_VARIANTS},
    log:
        f"{LOGS}/figures/ari_across_seeds.log",
    localrule: True
    conda:
        CPU_ENV
    script:
        "../scripts/plot.py"


rule figure_kmeans_reruns:
    """R24 A.4: ARI of k-means reruns on one embedding vs K, beside the k-means ARI across seeds."""
    input:
        reruns=RERUNS_TABLE,
        across_seeds=ACROSS_SEEDS_TABLE,
    output:
        **figure_rule_outputs("kmeans_reruns", category="Embedding consistency"),
    params:
        plot="clustering.kmeans_reruns",
        options={"variants": CLUSTER_VARIANTS},
    log:
        f"{LOGS}/figures/kmeans_reruns.log",
    localrule: True
    conda:
        CPU_ENV
    script:
        "../scripts/plot.py"


ALL_FIGURES.extend(
    [
        ACROSS_SEEDS_TABLE,
        RERUNS_TABLE,
        RESPONSE_TABLE,
        figure("tsne_embeddings"),
        figure("ari_across_seeds"),
        figure("kmeans_reruns"),
    ]
)


if SIMULATED:

    rule planted_type_table:
        """ARI of every seed's clustering with the simulator's planted cell types."""
        input:
            labels=[LABELS.format(variant=v, seed=s) for v, s in CLUSTER_RUNS],
            truth=ground_truth_files(),
        output:
            PLANTED_TABLE,
        params:
            runs=CLUSTER_RUNS,
            mice=MICE,
        log:
            f"{LOGS}/consistency/planted_types.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/consistency.py"

    rule figure_planted_types:
        """ARI with the planted cell types vs K per variant (simulated data): does it peak at the true K?"""
        input:
            table=PLANTED_TABLE,
        output:
            **figure_rule_outputs("ari_planted_types", category="Embedding consistency"),
        params:
            plot="clustering.ari_planted_types",
            options={"variants": CLUSTER_VARIANTS, "n_types": DATASET["simulation"]["n_types"]},
        log:
            f"{LOGS}/figures/ari_planted_types.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/plot.py"

    rule planted_type_separability:
        """Why the planted types do or do not form clusters: their linear decodability from each embedding
        and the share of within-type variance that follows the random orientation and phase."""
        input:
            embeddings=[EMBEDDING.format(variant=v, seed=s) for v, s in CLUSTER_RUNS],
            truth=ground_truth_files(),
        output:
            SEPARABILITY_TABLE,
        params:
            runs=CLUSTER_RUNS,
            mice=MICE,
            seed=CLUSTERING["random_state"],
        log:
            f"{LOGS}/consistency/planted_type_separability.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/consistency.py"

    rule figure_planted_type_separability:
        """Decoding accuracy of the planted types vs their ARI at the true K, and what spreads each type."""
        input:
            separability=SEPARABILITY_TABLE,
            planted=PLANTED_TABLE,
        output:
            **figure_rule_outputs("planted_type_separability", category="Embedding consistency"),
        params:
            plot="clustering.planted_type_separability",
            options={"variants": CLUSTER_VARIANTS, "n_types": DATASET["simulation"]["n_types"]},
        log:
            f"{LOGS}/figures/planted_type_separability.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/plot.py"

    ALL_FIGURES.extend(
        [PLANTED_TABLE, figure("ari_planted_types"), SEPARABILITY_TABLE, figure("planted_type_separability")]
    )


# ----------------------------------------------------------------------------------------------
# Regularization landscapes and D25's discrete-vs-continuum test (config `landscapes`)

LANDSCAPES = config.get("landscapes", {})
SWEEPS_TABLE = f"{RESULTS}/consistency/sweeps.csv"
BETA_TABLE = f"{RESULTS}/consistency/adaptive_beta.csv"
ADAPTIVE_SWEEP = LANDSCAPES.get("adaptive_sweep")
CORE_SWEEPS = LANDSCAPES.get("core_sweeps", [])
# The sweeps of the sweep table: name -> {"base": variant, "points": {variant: {parameter: value}}}.
TABLED_SWEEPS = {
    name: landscape_sweep(config, name, VARIANTS) for name in ([ADAPTIVE_SWEEP] if ADAPTIVE_SWEEP else []) + CORE_SWEEPS
}
# Every training run of the tabled sweeps' bases and points (their test measures give the performance).
SWEEP_RUNS = list(
    dict.fromkeys(
        (v, s) for sweep in TABLED_SWEEPS.values() for v in [sweep["base"], *sweep["points"]] for s in variant_seeds(v)
    )
)

if TABLED_SWEEPS:

    rule sweep_table:
        """ARI across seeds (per method and K) and fraction oracle of every point of the landscape sweeps."""
        input:
            across_seeds=ACROSS_SEEDS_TABLE,
            metrics=[f"{model_dir(v, s)}/metrics.json" for v, s in SWEEP_RUNS],
        output:
            SWEEPS_TABLE,
        params:
            sweeps=TABLED_SWEEPS,
            runs=SWEEP_RUNS,
        log:
            f"{LOGS}/consistency/sweeps.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/consistency.py"

    ALL_FIGURES.append(SWEEPS_TABLE)


if ADAPTIVE_SWEEP:
    ADAPTIVE_POINTS = list(TABLED_SWEEPS[ADAPTIVE_SWEEP]["points"])
    ADAPTIVE_MICE = variant_mice(ADAPTIVE_POINTS[0])

    rule adaptive_beta:
        """Per neuron of each adaptive sweep point (first seed): learned β, test correlation, oracle, planted type."""
        input:
            models=[model_file(v, FIRST_SEED[v]) for v in ADAPTIVE_POINTS],
            caches=[mouse_cache(m) for m in ADAPTIVE_MICE],
            truth=ground_truth_files(ADAPTIVE_MICE),
        output:
            BETA_TABLE,
        params:
            variants=ADAPTIVE_POINTS,
            mice=ADAPTIVE_MICE,
            image_scale=DATASET["image_scale"],
        log:
            f"{LOGS}/consistency/adaptive_beta.log",
        benchmark:
            f"{BENCHMARKS}/adaptive_beta.tsv"
        conda:
            CPU_ENV
        threads: 1
        resources:
            mem_mb=16000,
            runtime=120,
        script:
            "../scripts/consistency.py"

    rule figure_adaptive_regularization:
        """R24 Fig. 3: ARI across seeds and performance vs γ per σ of the adaptive regularizer, and the learned β."""
        input:
            sweeps=SWEEPS_TABLE,
            beta=BETA_TABLE,
            truth=ground_truth_files(ADAPTIVE_MICE),
        output:
            **figure_rule_outputs("adaptive_regularization", category="Embedding consistency"),
        params:
            plot="clustering.adaptive_regularization",
            options={"sweep": ADAPTIVE_SWEEP, "k": CLUSTERING["figure_k"]},
        log:
            f"{LOGS}/figures/adaptive_regularization.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/plot.py"

    ALL_FIGURES.extend([BETA_TABLE, figure("adaptive_regularization")])


if CORE_SWEEPS:

    rule figure_core_regularization:
        """L25 Fig. 5: ARI across seeds and performance vs the strength of each core regularizer."""
        input:
            sweeps=SWEEPS_TABLE,
        output:
            **figure_rule_outputs("core_regularization", category="Embedding consistency"),
        params:
            plot="clustering.core_regularization",
            options={"sweep_names": CORE_SWEEPS, "k": CLUSTERING["figure_k"]},
        log:
            f"{LOGS}/figures/core_regularization.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/plot.py"

    ALL_FIGURES.append(figure("core_regularization"))


if LANDSCAPES.get("tsne_rows"):
    TSNE_ROWS = LANDSCAPES["tsne_rows"]
    TSNE_ROW_VARIANTS = [v for row in TSNE_ROWS.values() for v in row]

    rule figure_tsne_landscape:
        """L25 Fig. 3: t-SNE maps by readout (rows) and regularization strength (columns), with performance."""
        input:
            tsne=[TSNE_MAP.format(variant=v, seed=FIRST_SEED[v]) for v in TSNE_ROW_VARIANTS],
            labels=[LABELS.format(variant=v, seed=FIRST_SEED[v]) for v in TSNE_ROW_VARIANTS],
            truth=ground_truth_files(),
            performance=f"{RESULTS}/tables/performance.csv",
        output:
            **figure_rule_outputs("tsne_landscape", category="Embedding consistency"),
        params:
            plot="clustering.tsne_landscape",
            options={
                "rows": TSNE_ROWS,
                "titles": {v: regularization_label(VARIANTS[base_variant(v)]["readout"]) for v in TSNE_ROW_VARIANTS},
                "k": CLUSTERING["figure_k"],
                "mice": MICE,
            },
        log:
            f"{LOGS}/figures/tsne_landscape.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/plot.py"

    ALL_FIGURES.append(figure("tsne_landscape"))


if LANDSCAPES.get("controls"):
    CONTROLS = LANDSCAPES["controls"]
    DISCRETE_MOUSE = variant_mice(CONTROLS["discrete"])[0]
    DISCRETE_TYPES = {**DATASET["simulation"], **DATASET.get("extra_mice", {}).get(DISCRETE_MOUSE, {})}["n_types"]

    rule figure_discreteness_test:
        """D25: ARI across seeds vs K for a population with types and a continuum of the same size."""
        input:
            table=ACROSS_SEEDS_TABLE,
        output:
            **figure_rule_outputs("discreteness_test", category="Embedding consistency"),
        params:
            plot="clustering.discreteness_test",
            options={**CONTROLS, "n_types": DISCRETE_TYPES},
        log:
            f"{LOGS}/figures/discreteness_test.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/plot.py"

    ALL_FIGURES.append(figure("discreteness_test"))
