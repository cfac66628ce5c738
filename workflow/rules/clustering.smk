# Embedding consistency (METHODS §4): readout embeddings of every named variant and seed, their
# k-means/GMM clusters, agreement across seeds and k-means reruns, t-SNE maps (their figures: figures.smk).
# The rules are generic over every model; the tables and figures compare the ANALYSED variants.
# The regularization landscapes (R24 Fig. 3, L25 Figs. 3 and 5) and D25's discrete-vs-continuum test
# follow at the end: they add sweep points and control variants to the across-seeds table.

CLUSTER_RUNS = [(v, s) for v in CLUSTER_VARIANTS for s in variant_seeds(v)]
# One table holds every ARI across seeds: the analysed variants, then every other model trained
# with at least 2 seeds (sweep points, controls on other mice); the identifiability populations have
# their own table (identifiability.smk).
SEED_COMPARED = CLUSTER_VARIANTS + [
    v for v in VARIANTS if v not in CLUSTER_VARIANTS and len(variant_seeds(v)) >= 2 and v not in POPULATION_VARIANTS
]
SEED_COMPARED_RUNS = [(v, s) for v in SEED_COMPARED for s in variant_seeds(v)]


# The CPU analysis of a model (its embedding, clusterings, t-SNE map; minutes each) is one group: on a
# cluster its jobs share one sbatch job, and profiles/slurm bundles several models per job.


rule clustering_labels:
    """A model's readout embedding (features of its mice in config order, L2-normalized and rotation-aligned
    where equivariant) and its k-means and diagonal-GMM labels at every K of clustering.k_values: one
    process per model, as every model is clustered."""
    input:
        model=f"{RESULTS}/models/{{variant}}/seed{{seed}}/model.pt",
    output:
        embedding=EMBEDDING,
        labels=LABELS,
    params:
        mice=lambda wc: variant_mice(wc.variant),
        k_values=CLUSTERING["k_values"],
        n_init=CLUSTERING["n_init"],
        random_state=CLUSTERING["random_state"],
    log:
        f"{LOGS}/clustering_labels/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/clustering_labels/{{variant}}/seed{{seed}}.tsv"
    group:
        "model_analysis"
    conda:
        CPU_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
    script:
        "../scripts/clustering_labels.py"


rule clustering_kmeans_reruns:
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
        f"{LOGS}/clustering_kmeans_reruns/{{variant}}.log",
    benchmark:
        f"{BENCHMARKS}/clustering_kmeans_reruns/{{variant}}.tsv"
    group:
        "model_analysis"
    conda:
        CPU_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=240,
    script:
        "../scripts/clustering_kmeans_reruns.py"


rule clustering_tsne:
    """openTSNE map of up to clustering.tsne.neurons_per_mouse neurons per mouse (the same neurons for every variant)."""
    input:
        EMBEDDING,
    output:
        TSNE_MAP,
    params:
        tsne=CLUSTERING["tsne"],
    log:
        f"{LOGS}/clustering_tsne/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/clustering_tsne/{{variant}}/seed{{seed}}.tsv"
    group:
        "model_analysis"
    conda:
        CPU_ENV
    threads: 1
    resources:
        mem_mb=4000,
        runtime=60,
    script:
        "../scripts/clustering_tsne.py"


rule clustering_across_seeds:
    """ARI, Fowlkes-Mallows and V-measure over seed pairs (mean, sd) per variant, method and K."""
    input:
        labels=[LABELS.format(variant=v, seed=s) for v, s in SEED_COMPARED_RUNS],
    output:
        ACROSS_SEEDS_TABLE,
    params:
        runs=SEED_COMPARED_RUNS,
    log:
        f"{LOGS}/clustering_across_seeds.log",
    localrule: True
    conda:
        CPU_ENV
    script:
        "../scripts/clustering_across_seeds.py"


rule clustering_kmeans_rerun_table:
    """R24 A.4: k-means rerun ARI (mean, sd over rerun pairs) per variant and K."""
    input:
        pairs=[RERUNS.format(variant=v) for v in CLUSTER_VARIANTS],
    output:
        RERUNS_TABLE,
    params:
        seeds={v: FIRST_SEED[v] for v in CLUSTER_VARIANTS},
    log:
        f"{LOGS}/clustering_kmeans_rerun_table.log",
    localrule: True
    conda:
        CPU_ENV
    script:
        "../scripts/clustering_kmeans_rerun_table.py"


rule clustering_response_correlation:
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
        f"{LOGS}/clustering_response_correlation.log",
    benchmark:
        f"{BENCHMARKS}/clustering_response_correlation.tsv"
    conda:
        CPU_ENV
    threads: 1
    resources:
        mem_mb=16000,
        runtime=120,
    script:
        "../scripts/clustering_response_correlation.py"


# The planted types of the analysed models (on simulated study mice) and of the video landscape's (on
# simulated video mice), in one table.
PLANTED_POPULATIONS = [(CLUSTER_RUNS, MICE)] if SIMULATED else []
if VIDEO_TRUTH:
    PLANTED_POPULATIONS.append(([(v, s) for v in VIDEO_ROW_VARIANTS for s in variant_seeds(v)], VIDEO_ROW_MICE))
PLANTED_RUNS = [run for runs, _ in PLANTED_POPULATIONS for run in runs]
PLANTED_MICE = [mouse for _, mice in PLANTED_POPULATIONS for mouse in mice]

if PLANTED_RUNS:

    rule clustering_planted_types:
        """ARI of every seed's clustering with the simulator's planted cell types."""
        input:
            labels=[LABELS.format(variant=v, seed=s) for v, s in PLANTED_RUNS],
            truth=ground_truth_files(PLANTED_MICE),
        output:
            PLANTED_TABLE,
        params:
            runs=PLANTED_RUNS,
            mice=PLANTED_MICE,
        log:
            f"{LOGS}/clustering_planted_types.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/clustering_planted_types.py"


if SIMULATED:

    rule clustering_separability:
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
            f"{LOGS}/clustering_separability.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/clustering_separability.py"


# ----------------------------------------------------------------------------------------------
# Regularization landscapes and D25's discrete-vs-continuum test (config `landscapes`)

# Every training run of the tabled sweeps' bases and points (their test measures give the performance).
SWEEP_RUNS = list(
    dict.fromkeys(
        (v, s) for sweep in TABLED_SWEEPS.values() for v in [sweep["base"], *sweep["points"]] for s in variant_seeds(v)
    )
)

if TABLED_SWEEPS:

    rule clustering_sweeps:
        """ARI across seeds (per method and K) and fraction oracle of every point of the landscape sweeps."""
        input:
            across_seeds=ACROSS_SEEDS_TABLE,
            metrics=[f"{model_dir(v, s)}/metrics.json" for v, s in SWEEP_RUNS],
        output:
            SWEEPS_TABLE,
        params:
            sweeps=TABLED_SWEEPS,
            runs=SWEEP_RUNS,
            collapse_fraction=CLUSTERING["collapse_fraction"],
        log:
            f"{LOGS}/clustering_sweeps.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/clustering_sweeps.py"


if ADAPTIVE_SWEEP:

    rule clustering_adaptive_beta:
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
            f"{LOGS}/clustering_adaptive_beta.log",
        benchmark:
            f"{BENCHMARKS}/clustering_adaptive_beta.tsv"
        conda:
            CPU_ENV
        threads: 1
        resources:
            mem_mb=16000,
            runtime=120,
        script:
            "../scripts/clustering_adaptive_beta.py"
