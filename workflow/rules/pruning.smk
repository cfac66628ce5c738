# Iterative channel pruning (METHODS §6, R24): a chain of pruning_step jobs per variant x seed. Step n
# starts from the step n-1 model (the trained model at step 0), measures the validation correlation
# with each of its remaining features masked, removes the cheapest and fine-tunes: one GPU job per
# step, as the masked passes take seconds beside the fine-tuning. The selected step of each seed
# becomes model <variant>-pruned, analysed downstream like every trained variant. Its matched-budget
# control, model <variant>-finetuned (pruning_control), fine-tunes the trained model as long without
# removing a feature: the pruned model's gain over it is the method's, not the extra training's.

PRUNING_RUNS = [(v, s) for v in PRUNING_VARIANTS for s in variant_seeds(v)]


if PRUNING_VARIANTS:

    rule pruning_step:
        """Mask each remaining feature of the previous step's model in turn, remove the cheapest, fine-tune."""
        input:
            model=lambda wc: step_model(wc.variant, wc.seed, int(wc.step) - 1),
            caches=lambda wc: [mouse_cache(m) for m in variant_mice(wc.variant)],
        output:
            model=STEP_MODEL,
            removal=REMOVAL,
            history=f"{STEP_DIR}/training_log.csv",
        params:
            mice=lambda wc: variant_mice(wc.variant),
            image_scale=DATASET["image_scale"],
            seed=lambda wc: int(wc.seed),
            step=lambda wc: int(wc.step),
            training=lambda wc: PRUNING_PLAN[wc.variant]["training"],
            device=config["device"],
        log:
            f"{LOGS}/pruning_step/{{variant}}/seed{{seed}}/step{{step}}.log",
        benchmark:
            f"{BENCHMARKS}/pruning_step/{{variant}}/seed{{seed}}/step{{step}}.tsv"
        conda:
            GPU_ENV
        threads: 1
        resources:
            gpu=1,
            mem_mb=16000,
            runtime=lambda wc, attempt: 360 * attempt,
        wildcard_constraints:
            variant=PRUNING_CONSTRAINT,
            step=r"[1-9]\d*",
        script:
            "../scripts/pruning_step.py"

    rule pruning_selection:
        """Per-seed curves of validation correlation vs channels, and the count kept (R24 A.5)."""
        input:
            removals=lambda wc: [
                path for seed in variant_seeds(wc.variant) for path in pruning_removals(wc.variant, seed)
            ],
        output:
            curves=PRUNING_CURVES,
            selection=PRUNING_SELECTION,
        params:
            variant=lambda wc: wc.variant,
            seeds=lambda wc: variant_seeds(wc.variant),
            steps=lambda wc: PRUNING_PLAN[wc.variant]["steps"],
        log:
            f"{LOGS}/pruning_selection/{{variant}}.log",
        localrule: True
        conda:
            CPU_ENV
        wildcard_constraints:
            variant=PRUNING_CONSTRAINT,
        script:
            "../scripts/pruning_selection.py"

    rule pruning_model:
        """The selected step's model of one seed as model <variant>-pruned, with its test measures."""
        input:
            selection=PRUNING_SELECTION,
            removals=lambda wc: pruning_removals(wc.variant, wc.seed),
            step_models=lambda wc: [
                step_model(wc.variant, wc.seed, n) for n in range(PRUNING_PLAN[wc.variant]["steps"] + 1)
            ],
            caches=lambda wc: [mouse_cache(m) for m in variant_mice(wc.variant)],
            ground_truth=lambda wc: ground_truth_files(variant_mice(wc.variant)),
        output:
            model=f"{RESULTS}/models/{{variant}}-pruned/seed{{seed}}/model.pt",
            metrics=f"{RESULTS}/models/{{variant}}-pruned/seed{{seed}}/metrics.json",
        params:
            mice=lambda wc: variant_mice(wc.variant),
            image_scale=DATASET["image_scale"],
            device=config["device"],
        log:
            f"{LOGS}/pruning_model/{{variant}}/seed{{seed}}.log",
        benchmark:
            f"{BENCHMARKS}/pruning_model/{{variant}}/seed{{seed}}.tsv"
        conda:
            GPU_ENV
        threads: 1
        resources:
            gpu=1,
            mem_mb=16000,
            runtime=lambda wc, attempt: 30 * attempt,
        wildcard_constraints:
            variant=PRUNING_CONSTRAINT,
        script:
            "../scripts/pruning_model.py"

    rule pruning_control:
        """Matched-budget control: the trained model fine-tuned in the selected pruned model's rounds and
        epochs, no feature removed, as model <variant>-finetuned with its test measures."""
        input:
            model=lambda wc: model_file(wc.variant, wc.seed),
            selection=PRUNING_SELECTION,
            removals=lambda wc: pruning_removals(wc.variant, wc.seed),
            caches=lambda wc: [mouse_cache(m) for m in variant_mice(wc.variant)],
            ground_truth=lambda wc: ground_truth_files(variant_mice(wc.variant)),
        output:
            model=f"{RESULTS}/models/{{variant}}-finetuned/seed{{seed}}/model.pt",
            metrics=f"{RESULTS}/models/{{variant}}-finetuned/seed{{seed}}/metrics.json",
            history=f"{RESULTS}/models/{{variant}}-finetuned/seed{{seed}}/training_log.csv",
        params:
            mice=lambda wc: variant_mice(wc.variant),
            image_scale=DATASET["image_scale"],
            seed=lambda wc: int(wc.seed),
            training=lambda wc: PRUNING_PLAN[wc.variant]["training"],
            device=config["device"],
        log:
            f"{LOGS}/pruning_control/{{variant}}/seed{{seed}}.log",
        benchmark:
            f"{BENCHMARKS}/pruning_control/{{variant}}/seed{{seed}}.tsv"
        conda:
            GPU_ENV
        threads: 1
        resources:
            gpu=1,
            mem_mb=16000,
            # as training_run: at most steps x fine_tune_epochs epochs (paper: 300); a retry resumes its rounds
            runtime=lambda wc, attempt: 360 * attempt,
        wildcard_constraints:
            variant=PRUNING_CONSTRAINT,
        script:
            "../scripts/pruning_control.py"

    rule pruning_table:
        """Every pruned variant's curves in one table, with the selected channel count marked; and its
        trained, pruned and fine-tuned-only models side by side."""
        input:
            curves=[PRUNING_CURVES.format(variant=v) for v in PRUNING_VARIANTS],
            selections=[PRUNING_SELECTION.format(variant=v) for v in PRUNING_VARIANTS],
            trained=[f"{model_dir(v, s)}/metrics.json" for v, s in PRUNING_RUNS],
            pruned=[f"{model_dir(f'{v}-pruned', s)}/metrics.json" for v, s in PRUNING_RUNS],
            finetuned=[f"{model_dir(f'{v}-finetuned', s)}/metrics.json" for v, s in PRUNING_RUNS],
        output:
            curves=PRUNING_TABLE,
            models=PRUNING_MODELS_TABLE,
        params:
            variants=PRUNING_VARIANTS,
            runs=PRUNING_RUNS,
        log:
            f"{LOGS}/pruning_table.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/pruning_table.py"
