# Iterative channel pruning (METHODS §6, R24): a chain of prune_step jobs per variant x seed. Step n
# starts from the step n-1 model (the trained model at step 0), measures the validation correlation
# with each of its remaining features masked, removes the cheapest and fine-tunes: one GPU job per
# step, as the masked passes take seconds beside the fine-tuning. The selected step of each seed
# becomes model <variant>-pruned, analysed downstream like every trained variant.
from v1twin.pruning import core_features, pruning_steps

PRUNING = config.get("pruning", {})
PRUNING_VARIANTS = list(PRUNED.values())

# Features of each pruned variant's core and the steps down to pruning.min_channels.
PRUNING_FEATURES = {v: core_features(VARIANTS[v]["core"]) for v in PRUNING_VARIANTS}
PRUNING_STEPS = {v: pruning_steps(PRUNING_FEATURES[v], PRUNING["min_channels"]) for v in PRUNING_VARIANTS}

if PRUNING_VARIANTS:
    PRUNING_CONSTRAINT = "|".join(map(re.escape, PRUNING_VARIANTS))

    rule prune_step:
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
            training=lambda wc: VARIANTS[wc.variant]["training"],
            fine_tune_epochs=PRUNING["fine_tune_epochs"],
            device=config["device"],
        log:
            f"{LOGS}/prune_step/{{variant}}/seed{{seed}}/step{{step}}.log",
        benchmark:
            f"{BENCHMARKS}/prune_step/{{variant}}/seed{{seed}}/step{{step}}.tsv"
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
            "../scripts/prune_step.py"

    rule pruning_selection:
        """Per-seed curves of validation correlation vs channels, and the count kept (R24 A.5)."""
        input:
            removals=lambda wc: [
                REMOVAL.format(variant=wc.variant, seed=seed, step=step)
                for seed in variant_seeds(wc.variant)
                for step in range(1, PRUNING_STEPS[wc.variant] + 1)
            ],
        output:
            curves=PRUNING_CURVES,
            selection=PRUNING_SELECTION,
        params:
            variant=lambda wc: wc.variant,
            seeds=lambda wc: variant_seeds(wc.variant),
            steps=lambda wc: PRUNING_STEPS[wc.variant],
        log:
            f"{LOGS}/pruning_selection/{{variant}}.log",
        localrule: True
        conda:
            CPU_ENV
        wildcard_constraints:
            variant=PRUNING_CONSTRAINT,
        script:
            "../scripts/prune_select.py"

    rule pruned_model:
        """The selected step's model of one seed as model <variant>-pruned, with its test measures."""
        input:
            selection=PRUNING_SELECTION,
            step_models=lambda wc: [step_model(wc.variant, wc.seed, n) for n in range(PRUNING_STEPS[wc.variant] + 1)],
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
            f"{LOGS}/pruned_model/{{variant}}/seed{{seed}}.log",
        benchmark:
            f"{BENCHMARKS}/pruned_model/{{variant}}/seed{{seed}}.tsv"
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
            "../scripts/prune_export.py"

    rule pruning_table:
        """Every pruned variant's curves in one table, with the selected channel count marked."""
        input:
            curves=[PRUNING_CURVES.format(variant=v) for v in PRUNING_VARIANTS],
            selections=[PRUNING_SELECTION.format(variant=v) for v in PRUNING_VARIANTS],
        output:
            PRUNING_TABLE,
        params:
            variants=PRUNING_VARIANTS,
        log:
            f"{LOGS}/pruning_table.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/prune_table.py"

    rule figure_pruning_curves:
        """R24 Fig. 4A: validation correlation vs features pruned, per variant; the selected count starred."""
        input:
            table=PRUNING_TABLE,
        output:
            **figure_rule_outputs("pruning_curves", category="Channel pruning"),
        params:
            plot="pruning.pruning_curves",
            options={"variants": PRUNING_VARIANTS},
        log:
            f"{LOGS}/figures/pruning_curves.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/plot.py"

    rule figure_pruning_ari:
        """R24 Fig. 4B: k-means ARI across seeds before and after pruning."""
        input:
            table=ACROSS_SEEDS_TABLE,
        output:
            **figure_rule_outputs("pruning_ari", category="Channel pruning"),
        params:
            plot="pruning.pruning_ari",
            options={"pruned": PRUNED},
        log:
            f"{LOGS}/figures/pruning_ari.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/plot.py"

    rule figure_pruning_tradeoff:
        """R24 Fig. 4C: ARI across seeds at clustering.figure_k vs fraction oracle of every analysed variant."""
        input:
            table=ACROSS_SEEDS_TABLE,
            metrics=[f"{model_dir(v, s)}/metrics.json" for v in ANALYSED for s in variant_seeds(v)],
        output:
            **figure_rule_outputs("pruning_tradeoff", category="Channel pruning"),
        params:
            plot="pruning.consistency_tradeoff",
            options={
                "runs": [(v, s) for v in ANALYSED for s in variant_seeds(v)],
                "variants": ANALYSED,
                "pruned": PRUNED,
                "k": CLUSTERING["figure_k"],
            },
        log:
            f"{LOGS}/figures/pruning_tradeoff.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/plot.py"

    ALL_FIGURES.extend([PRUNING_TABLE, figure("pruning_curves"), figure("pruning_ari"), figure("pruning_tradeoff")])
