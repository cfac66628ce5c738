# In-silico experiments (METHODS §7; R24 §4, Table 1, Fig. 5, A.7): the optimal Gabor of every neuron
# of every analysed model and seed, tuning experiments built from it, the consistency of the tuning
# indices across seeds and, on simulated data, their agreement with the planted neurons.

INSILICO = config["insilico"]
INSILICO_DIR = f"{RESULTS}/insilico"
INSILICO_RUNS = [(v, s) for v in ANALYSED for s in variant_seeds(v)]

# Path templates; `.format(variant=..., seed=...)` names one file.
OPTIMAL_GABORS = f"{INSILICO_DIR}/{{variant}}/seed{{seed}}/optimal_gabors.csv"
TUNING = f"{INSILICO_DIR}/{{variant}}/seed{{seed}}/tuning.npz"
INSILICO_TABLE = f"{RESULTS}/tables/insilico_consistency.csv"
GROUND_TRUTH_CHECK = f"{INSILICO_DIR}/ground_truth_check.csv"


# Factorized readouts are also searched over locations: hours per model at paper scale.
FACTORIZED_MODELS = {v for v in MODEL_VARIANTS if VARIANTS[base_variant(v)]["readout"]["type"] == "factorized"}
TUNING_FILES = [TUNING.format(variant=v, seed=s) for v, s in INSILICO_RUNS]
FIRST_SEED_TUNING_FILES = [TUNING.format(variant=v, seed=FIRST_SEED[v]) for v in ANALYSED]


rule gabor_search:
    """Optimal Gabor of every neuron (joint argmax over the grid; factorized readouts also over locations)."""
    input:
        model=f"{RESULTS}/models/{{variant}}/seed{{seed}}/model.pt",
    output:
        OPTIMAL_GABORS,
    params:
        grid=INSILICO["grid"],
        location_stride=INSILICO["location_stride"],
        batch_size=INSILICO["batch_size"],
        checkpoint_seconds=INSILICO["checkpoint_seconds"],
        state=lambda wc: f"{INSILICO_DIR}/{wc.variant}/seed{wc.seed}/gabor_search.state.pt",
        device=config["device"],
    log:
        f"{LOGS}/gabor_search/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/gabor_search/{{variant}}/seed{{seed}}.tsv"
    conda:
        GPU_ENV
    threads: 1
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=lambda wc, attempt: (480 if wc.variant in FACTORIZED_MODELS else 60) * attempt,
    script:
        "../scripts/gabor_search.py"


rule tuning_curves:
    """Orientation, phase, surround and cross-orientation experiments from each neuron's optimal Gabor."""
    input:
        model=f"{RESULTS}/models/{{variant}}/seed{{seed}}/model.pt",
        optimal=OPTIMAL_GABORS,
    output:
        TUNING,
    params:
        tuning=INSILICO["tuning"],
        batch_size=INSILICO["batch_size"],
        checkpoint_seconds=INSILICO["checkpoint_seconds"],
        state=lambda wc: f"{INSILICO_DIR}/{wc.variant}/seed{wc.seed}/tuning.state.pt",
        device=config["device"],
    log:
        f"{LOGS}/tuning_curves/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/tuning_curves/{{variant}}/seed{{seed}}.tsv"
    conda:
        GPU_ENV
    threads: 1
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=lambda wc, attempt: (480 if wc.variant in FACTORIZED_MODELS else 60) * attempt,
    script:
        "../scripts/tuning_curves.py"


rule insilico_consistency:
    """R24 Table 1: response correlation and NMAE of each tuning index across seeds, per variant."""
    input:
        tuning=TUNING_FILES,
        response_correlation=RESPONSE_TABLE,
    output:
        INSILICO_TABLE,
    params:
        runs=INSILICO_RUNS,
    log:
        f"{LOGS}/insilico/consistency.log",
    localrule: True
    conda:
        CPU_ENV
    script:
        "../scripts/insilico_table.py"


rule figure_insilico_consistency:
    """R24 Table 1 rendered as a figure."""
    input:
        table=INSILICO_TABLE,
    output:
        **figure_rule_outputs("insilico_consistency", category="In-silico experiments"),
    params:
        plot="insilico.consistency_table",
        options={"variants": ANALYSED},
    log:
        f"{LOGS}/figures/insilico_consistency.log",
    localrule: True
    conda:
        CPU_ENV
    script:
        "../scripts/plot.py"


rule figure_tuning_examples:
    """R24 Fig. 5: tuning curves of example neurons, every variant and seed."""
    input:
        tuning=TUNING_FILES,
    output:
        **figure_rule_outputs("tuning_examples", category="In-silico experiments"),
    params:
        plot="insilico.tuning_examples",
        options={"runs": INSILICO_RUNS, "neurons": INSILICO["figure_neurons"]},
    log:
        f"{LOGS}/figures/tuning_examples.log",
    localrule: True
    conda:
        CPU_ENV
    script:
        "../scripts/plot.py"


rule figure_tuning_indices:
    """R24 Fig. 5: distributions of the tuning indices per variant (first seed)."""
    input:
        tuning=FIRST_SEED_TUNING_FILES,
    output:
        **figure_rule_outputs("tuning_indices", category="In-silico experiments"),
    params:
        plot="insilico.tuning_indices",
        options={"variants": ANALYSED},
    log:
        f"{LOGS}/figures/tuning_indices.log",
    localrule: True
    conda:
        CPU_ENV
    script:
        "../scripts/plot.py"


rule figure_optimal_gabors:
    """R24 A.7: optimal Gabors of example neurons for every variant and seed."""
    input:
        optimal=[OPTIMAL_GABORS.format(variant=v, seed=s) for v, s in INSILICO_RUNS],
    output:
        **figure_rule_outputs("optimal_gabors", category="In-silico experiments"),
    params:
        plot="insilico.optimal_gabors",
        options={"runs": INSILICO_RUNS, "neurons": INSILICO["figure_neurons"]},
    log:
        f"{LOGS}/figures/optimal_gabors.log",
    localrule: True
    conda:
        CPU_ENV
    script:
        "../scripts/plot.py"


ALL_FIGURES.extend(
    [
        INSILICO_TABLE,
        figure("insilico_consistency"),
        figure("tuning_examples"),
        figure("tuning_indices"),
        figure("optimal_gabors"),
    ]
)


if SIMULATED:

    rule insilico_ground_truth:
        """Do the tuning indices recover the planted neurons? (phase invariance, surround, orientation)"""
        input:
            tuning=TUNING_FILES,
            truth=ground_truth_files(),
        output:
            GROUND_TRUTH_CHECK,
        params:
            runs=INSILICO_RUNS,
            mice=MICE,
        log:
            f"{LOGS}/insilico/ground_truth_check.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/insilico_table.py"

    rule figure_insilico_ground_truth:
        """Tuning indices by planted type and recovered vs planted orientation (simulated data)."""
        input:
            check=GROUND_TRUTH_CHECK,
            tuning=FIRST_SEED_TUNING_FILES,
            truth=ground_truth_files(),
        output:
            **figure_rule_outputs("insilico_ground_truth", category="In-silico experiments"),
        params:
            plot="insilico.ground_truth",
            options={"variants": ANALYSED, "mice": MICE},
        log:
            f"{LOGS}/figures/insilico_ground_truth.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/plot.py"

    ALL_FIGURES.extend([GROUND_TRUTH_CHECK, figure("insilico_ground_truth")])
