# Training: one job per variant x seed. A killed job resumes from training_state.pt in its folder.


rule train_model:
    """Core + readout model of all mice, early-stopped on validation correlation."""
    input:
        caches=[mouse_cache(m) for m in MICE],
        ground_truth=ground_truth_files(),
    output:
        model=f"{RESULTS}/models/{{variant}}/seed{{seed}}/model.pt",
        metrics=f"{RESULTS}/models/{{variant}}/seed{{seed}}/metrics.json",
        history=f"{RESULTS}/models/{{variant}}/seed{{seed}}/training_log.csv",
    params:
        variant=lambda wc: {key: VARIANTS[wc.variant][key] for key in ("core", "readout")},
        training=lambda wc: VARIANTS[wc.variant]["training"],
        seed=lambda wc: int(wc.seed),
        image_scale=DATASET["image_scale"],
        mice=MICE,
    log:
        f"{LOGS}/train_model/{{variant}}/seed{{seed}}.log",
    conda:
        "../../envs/v1twin.yaml"
    threads: 1
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=360,
    script:
        "../scripts/train_model.py"


rule performance_table:
    """Test-set measures of every trained model, one row per variant x seed x mouse."""
    input:
        metrics=[f"{model_dir(v, s)}/metrics.json" for v, s in RUNS],
    output:
        f"{RESULTS}/tables/performance.csv",
    params:
        runs=RUNS,
    log:
        f"{LOGS}/performance_table.log",
    localrule: True
    conda:
        "../../envs/v1twin.yaml"
    script:
        "../scripts/performance_table.py"
