# Figures: one rule per figure, so any single figure can be rebuilt alone. Each rule names the
# plotting function (module.function in v1twin.plots); workflow/scripts/plot.py calls it with the
# rule's named inputs and `pdf` (the PNG is written beside it).


FACTORIZED_VARIANTS = [v for v in VARIANTS if VARIANTS[v]["readout"]["type"] == "factorized"]
SWEEPS = config.get("sweeps", {})


if SIMULATED:

    rule figure_population:
        """The simulated population: stimuli, receptive fields by cell type, responses by tier."""
        input:
            mouse=mouse_folder(MICE[0]),
            truth=f"{RESOURCES}/{MICE[0]}.ground_truth.npz",
        output:
            **figure_rule_outputs("population_overview", category="Models and training"),
        params:
            plot="population.population_overview",
            options={},
        log:
            f"{LOGS}/figures/population_overview.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/plot.py"

    ALL_FIGURES.append(figure("population_overview"))


rule figure_performance:
    """R24 Fig. 2A: test performance of every variant, one point per seed."""
    input:
        table=f"{RESULTS}/tables/performance.csv",
    output:
        **figure_rule_outputs("performance", category="Models and training"),
    params:
        plot="training.performance",
        options={"variants": STUDY_VARIANTS},
    log:
        f"{LOGS}/figures/performance.log",
    localrule: True
    conda:
        CPU_ENV
    script:
        "../scripts/plot.py"


rule figure_learning_curves:
    """Validation correlation and learning rate over epochs of every model."""
    input:
        histories=[f"{model_dir(v, s)}/training_log.csv" for v, s in RUNS if v in STUDY_VARIANTS],
    output:
        **figure_rule_outputs("learning_curves", category="Models and training"),
    params:
        plot="training.learning_curves",
        options={},
    log:
        f"{LOGS}/figures/learning_curves.log",
    localrule: True
    conda:
        CPU_ENV
    script:
        "../scripts/plot.py"


rule figure_readout_weights:
    """R24 Fig. 2G: distribution of readout feature weights per variant (first seed)."""
    input:
        models=list(first_seed_models(STUDY_VARIANTS).values()),
    output:
        **figure_rule_outputs("readout_weights", category="Models and training"),
    params:
        plot="training.readout_weights",
        options={"variants": STUDY_VARIANTS},
    log:
        f"{LOGS}/figures/readout_weights.log",
    localrule: True
    conda:
        CPU_ENV
    script:
        "../scripts/plot.py"


ALL_FIGURES.extend(
    [
        f"{RESULTS}/tables/performance.csv",
        figure("performance"),
        figure("learning_curves"),
        figure("readout_weights"),
    ]
)


if FACTORIZED_VARIANTS:

    rule figure_mask_size:
        """R24 Fig. 2H: factorized readout mask size vs feature-weight norm, per neuron."""
        input:
            models=list(first_seed_models(FACTORIZED_VARIANTS).values()),
        output:
            **figure_rule_outputs("mask_size", category="Models and training"),
        params:
            plot="training.mask_size",
            options={"variants": FACTORIZED_VARIANTS},
        log:
            f"{LOGS}/figures/mask_size.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/plot.py"

    ALL_FIGURES.append(figure("mask_size"))


if "factorized_gamma" in SWEEPS:

    rule figure_factorized_selection:
        """R24 Fig. 6: choosing the factorized readout's regularization by validation performance."""
        input:
            table=f"{RESULTS}/tables/performance.csv",
        output:
            **figure_rule_outputs("factorized_selection", category="Models and training"),
        params:
            plot="training.factorized_selection",
            options={"sweep": "factorized_gamma", "values": SWEEPS["factorized_gamma"]["values"]},
        log:
            f"{LOGS}/figures/factorized_selection.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/plot.py"

    ALL_FIGURES.append(figure("factorized_selection"))
