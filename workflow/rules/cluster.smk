# Embedding consistency (METHODS §4): readout embeddings of every named variant and seed, their
# k-means/GMM clusters, agreement across seeds and k-means reruns, t-SNE maps, and their figures.
# Sweep variants are left out: they exist to choose hyperparameters, not to compare embeddings.

CLUSTERING = config["clustering"]
CLUSTER_VARIANTS = list(config["variants"])
CLUSTER_RUNS = [(v, s) for v in CLUSTER_VARIANTS for s in VARIANTS[v]["seeds"]]
FIRST_SEED = {v: VARIANTS[v]["seeds"][0] for v in CLUSTER_VARIANTS}

if len(config["seeds"]) < 2:
    raise ValueError(f"embedding consistency compares seeds: `seeds` needs at least 2 entries, got {config['seeds']}")
if CLUSTERING["figure_k"] not in CLUSTERING["k_values"]:
    raise ValueError(
        f"clustering.figure_k ({CLUSTERING['figure_k']}) must be one of clustering.k_values {CLUSTERING['k_values']}"
    )


# Path templates; `.format(variant=..., seed=...)` names one file.
EMBEDDING = f"{RESULTS}/embeddings/{{variant}}/seed{{seed}}.npz"
LABELS = f"{RESULTS}/clusters/{{variant}}/seed{{seed}}.npz"
TSNE_MAP = f"{RESULTS}/embeddings/{{variant}}/seed{{seed}}.tsne.csv"
RERUNS = f"{RESULTS}/clusters/{{variant}}/kmeans_reruns.csv"
ACROSS_SEEDS_TABLE = f"{RESULTS}/consistency/clustering_across_seeds.csv"
RERUNS_TABLE = f"{RESULTS}/consistency/kmeans_reruns.csv"
RESPONSE_TABLE = f"{RESULTS}/consistency/response_correlation.csv"
PLANTED_TABLE = f"{RESULTS}/consistency/planted_types.csv"


rule embeddings:
    """Readout features of all mice (config order), L2-normalized and rotation-aligned where equivariant."""
    input:
        model=f"{RESULTS}/models/{{variant}}/seed{{seed}}/model.pt",
    output:
        EMBEDDING,
    params:
        mice=MICE,
    log:
        f"{LOGS}/embeddings/{{variant}}/seed{{seed}}.log",
    conda:
        "../../envs/v1twin.yaml"
    threads: 1
    resources:
        mem_mb=8000,
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
    conda:
        "../../envs/v1twin.yaml"
    threads: 1
    resources:
        mem_mb=8000,
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
    conda:
        "../../envs/v1twin.yaml"
    threads: 1
    resources:
        mem_mb=8000,
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
    conda:
        "../../envs/v1twin.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    script:
        "../scripts/tsne.py"


rule clustering_across_seeds:
    """ARI, Fowlkes-Mallows and V-measure over seed pairs (mean, sd) per variant, method and K."""
    input:
        labels=[LABELS.format(variant=v, seed=s) for v, s in CLUSTER_RUNS],
    output:
        ACROSS_SEEDS_TABLE,
    params:
        runs=CLUSTER_RUNS,
    log:
        f"{LOGS}/consistency/clustering_across_seeds.log",
    localrule: True
    conda:
        "../../envs/v1twin.yaml"
    script:
        "../scripts/consistency.py"


rule kmeans_rerun_table:
    """R24 A.4: k-means rerun ARI (mean, sd over rerun pairs) per variant and K."""
    input:
        pairs=[RERUNS.format(variant=v) for v in CLUSTER_VARIANTS],
    output:
        RERUNS_TABLE,
    params:
        seeds=FIRST_SEED,
    log:
        f"{LOGS}/consistency/kmeans_reruns.log",
    localrule: True
    conda:
        "../../envs/v1twin.yaml"
    script:
        "../scripts/consistency.py"


rule response_correlation:
    """Per-neuron correlation of two seeds' test-tier predictions, averaged (R24 Table 1, first column)."""
    input:
        models=[f"{model_dir(v, s)}/model.pt" for v, s in CLUSTER_RUNS],
        caches=[mouse_cache(m) for m in MICE],
    output:
        RESPONSE_TABLE,
    params:
        runs=CLUSTER_RUNS,
        mice=MICE,
        image_scale=DATASET["image_scale"],
    log:
        f"{LOGS}/consistency/response_correlation.log",
    conda:
        "../../envs/v1twin.yaml"
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
        **figure_rule_outputs("tsne_embeddings"),
    params:
        plot="clustering.tsne_embeddings",
        options={"variants": CLUSTER_VARIANTS, "k": CLUSTERING["figure_k"], "mice": MICE},
    log:
        f"{LOGS}/figures/tsne_embeddings.log",
    localrule: True
    conda:
        "../../envs/v1twin.yaml"
    script:
        "../scripts/plot.py"


rule figure_ari_across_seeds:
    """R24 Fig. 2I: agreement of clusterings across seeds vs K per variant, k-means and GMM."""
    input:
        table=ACROSS_SEEDS_TABLE,
    output:
        **figure_rule_outputs("ari_across_seeds"),
    params:
        plot="clustering.ari_across_seeds",
        options={"variants": CLUSTER_VARIANTS},
    log:
        f"{LOGS}/figures/ari_across_seeds.log",
    localrule: True
    conda:
        "../../envs/v1twin.yaml"
    script:
        "../scripts/plot.py"


rule figure_kmeans_reruns:
    """R24 A.4: ARI of k-means reruns on one embedding vs K, beside the k-means ARI across seeds."""
    input:
        reruns=RERUNS_TABLE,
        across_seeds=ACROSS_SEEDS_TABLE,
    output:
        **figure_rule_outputs("kmeans_reruns"),
    params:
        plot="clustering.kmeans_reruns",
        options={"variants": CLUSTER_VARIANTS},
    log:
        f"{LOGS}/figures/kmeans_reruns.log",
    localrule: True
    conda:
        "../../envs/v1twin.yaml"
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
            "../../envs/v1twin.yaml"
        script:
            "../scripts/consistency.py"

    rule figure_planted_types:
        """ARI with the planted cell types vs K per variant (simulated data): does it peak at the true K?"""
        input:
            table=PLANTED_TABLE,
        output:
            **figure_rule_outputs("ari_planted_types"),
        params:
            plot="clustering.ari_planted_types",
            options={"variants": CLUSTER_VARIANTS, "n_types": DATASET["simulation"]["n_types"]},
        log:
            f"{LOGS}/figures/ari_planted_types.log",
        localrule: True
        conda:
            "../../envs/v1twin.yaml"
        script:
            "../scripts/plot.py"

    ALL_FIGURES.extend([PLANTED_TABLE, figure("ari_planted_types")])
