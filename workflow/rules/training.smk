# Training: one job per variant x seed. A killed job resumes from training_state.pt in its folder.


rule training_run:
    """Core + readout model of the variant's mice, early-stopped on validation correlation."""
    input:
        caches=lambda wc: [mouse_cache(m) for m in variant_mice(wc.variant)],
        ground_truth=lambda wc: ground_truth_files(variant_mice(wc.variant)),
    output:
        model=f"{RESULTS}/models/{{variant}}/seed{{seed}}/model.pt",
        metrics=f"{RESULTS}/models/{{variant}}/seed{{seed}}/metrics.json",
        history=f"{RESULTS}/models/{{variant}}/seed{{seed}}/training_log.csv",
    params:
        variant=lambda wc: {key: VARIANTS[wc.variant][key] for key in ("core", "readout")},
        training=lambda wc: VARIANTS[wc.variant]["training"],
        seed=lambda wc: int(wc.seed),
        image_scale=DATASET["image_scale"],
        mice=lambda wc: variant_mice(wc.variant),
        device=config["device"],
        video=config["video"],  # crops and scored frames of video mice (ignored for static ones)
    log:
        f"{LOGS}/training_run/{{variant}}/seed{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/training_run/{{variant}}/seed{{seed}}.tsv"
    conda:
        GPU_ENV
    threads: 1
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=lambda wc, attempt: 360 * attempt,  # minutes; a retry resumes from the checkpoint, with more time
    wildcard_constraints:
        variant="|".join(map(re.escape, VARIANTS)),
    script:
        "../scripts/training_run.py"


rule training_performance:
    """Test-set measures of every trained model, one row per variant x seed x mouse."""
    input:
        metrics=[f"{model_dir(v, s)}/metrics.json" for v, s in RUNS],
    output:
        PERFORMANCE_TABLE,
    params:
        runs=RUNS,
    log:
        f"{LOGS}/training_performance.log",
    localrule: True
    conda:
        CPU_ENV
    script:
        "../scripts/training_performance.py"


if SIMULATED:

    rule training_read_positions:
        """Gaussian read positions of every study model against the simulator's true RF centres: the
        mean offset per seed with and without the shifter, and the shifter's slope against the true gain."""
        input:
            models=[model_file(v, s) for v, s in READ_POSITION_RUNS],
            caches=[mouse_cache(m) for m in MICE],
            truth=ground_truth_files(),
        output:
            table=READ_POSITIONS_TABLE,
            neurons=READ_POSITIONS_NEURONS,
        params:
            runs=READ_POSITION_RUNS,
            mice=MICE,
            image_scale=DATASET["image_scale"],
        log:
            f"{LOGS}/training_read_positions.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/training_read_positions.py"
