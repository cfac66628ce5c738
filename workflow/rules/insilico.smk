# In-silico experiments (METHODS §7; R24 §4, Table 1, Fig. 5, A.7): the optimal Gabor of every neuron
# of every analysed model and seed, tuning experiments built from it, the consistency of the tuning
# indices across seeds and, on simulated data, their agreement with the planted neurons.

# Factorized readouts are also searched over locations: hours per model at paper scale.
FACTORIZED_MODELS = {v for v in MODEL_VARIANTS if VARIANTS[base_variant(v)]["readout"]["type"] == "factorized"}


rule insilico_gabor_search:
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
        f"{LOGS}/insilico_gabor_search/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/insilico_gabor_search/{{variant}}/seed{{seed}}.tsv"
    conda:
        GPU_ENV
    threads: 1
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=lambda wc, attempt: (480 if wc.variant in FACTORIZED_MODELS else 60) * attempt,
    script:
        "../scripts/insilico_gabor_search.py"


rule insilico_tuning:
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
        f"{LOGS}/insilico_tuning/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/insilico_tuning/{{variant}}/seed{{seed}}.tsv"
    conda:
        GPU_ENV
    threads: 1
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=lambda wc, attempt: (480 if wc.variant in FACTORIZED_MODELS else 60) * attempt,
    script:
        "../scripts/insilico_tuning.py"


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
        f"{LOGS}/insilico_consistency.log",
    localrule: True
    conda:
        CPU_ENV
    script:
        "../scripts/insilico_consistency.py"


if SIMULATED:

    rule insilico_truth:
        """The same Gabor search and tuning experiments on the simulator's own noise-free neurons of one mouse."""
        input:
            truth=f"{RESOURCES}/{{mouse}}.ground_truth.npz",
            cache=mouse_cache("{mouse}"),
        output:
            optimal=TRUTH_OPTIMAL,
            tuning=TRUTH_TUNING,
        params:
            grid=INSILICO["grid"],
            tuning=INSILICO["tuning"],
            location_stride=INSILICO["location_stride"],
            batch_size=INSILICO["batch_size"],
            image_scale=DATASET["image_scale"],
        log:
            f"{LOGS}/insilico_truth/{{mouse}}.log",
        benchmark:
            f"{BENCHMARKS}/insilico_truth/{{mouse}}.tsv"
        conda:
            CPU_ENV
        threads: 1
        resources:
            mem_mb=4000,
            runtime=60,
        script:
            "../scripts/insilico_truth.py"

    rule insilico_ground_truth:
        """Do the tuning indices recover the planted neurons, and what do the true neurons give? (phase
        invariance, surround, orientation, optima on the grid's edge)"""
        input:
            tuning=TUNING_FILES,
            optimal=[OPTIMAL_GABORS.format(variant=v, seed=s) for v, s in INSILICO_RUNS],
            truth_tuning=TRUTH_TUNING_FILES,
            truth_optimal=TRUTH_OPTIMAL_FILES,
            truth=ground_truth_files(),
        output:
            GROUND_TRUTH_CHECK,
        params:
            runs=INSILICO_RUNS,
            mice=MICE,
            grid=INSILICO["grid"],
        log:
            f"{LOGS}/insilico_ground_truth.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/insilico_ground_truth.py"
