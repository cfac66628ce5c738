# Figures: the registry of every figure and reported table of the study, then one rule per figure.
# To add a figure, add one `Figure` below (name, what it shows, the plotting function `module.function`
# in v1twin.plots, its named inputs and options, its report category) and its caption
# workflow/report/<name>.rst: the loop at the end makes rule `figure_<name>`, which calls the function
# through workflow/scripts/figures.py, and `all_figures` (Snakefile) requests it. Each figure and table
# is declared under the condition (config section, simulated data) that makes its inputs exist.
from v1twin.config import regularization_label, sweep_points
from v1twin.figures import Figure

# Filled here only, stage by stage: the figures, and the tables `all_figures` requests beside them.
FIGURES = []
TABLES = []


# ----------------------------------------------------------------------------------------------
# Models and training (training.smk)

TRAINING_FIGURES = "Models and training"
FACTORIZED_VARIANTS = [v for v in VARIANTS if VARIANTS[v]["readout"]["type"] == "factorized"]
SWEEPS = config.get("sweeps", {})
# In the learning curves, each run's [family, group]: its row of panels and its colour. A training_run model
# belongs to the first of: the study's variants, the video landscape's, the regularization control, the
# identifiability populations, a sweep (its group), the rest.
TRAINING_FAMILY = {v: ["variants on other populations", v] for v in VARIANTS}
TRAINING_FAMILY.update({v: ["sweep points", name] for name, sweep in SWEEPS.items() for v in sweep_points(name, sweep)})
TRAINING_FAMILY.update({p.variant: ["identifiability populations", p.variant] for p in POPULATIONS})
TRAINING_FAMILY.update({run.variant: ["regularization control", run.variant] for run in REG_CONTROL_RUNS})
TRAINING_FAMILY.update({v: ["video models", v] for v in VIDEO_ROW_VARIANTS})
TRAINING_FAMILY.update({v: ["trained variants", v] for v in STUDY_VARIANTS})
# Every training history the workflow writes -> [family, group].
LEARNING_RUNS = {
    **{f"{model_dir(v, s)}/training_log.csv": TRAINING_FAMILY[v] for v, s in RUNS},
    **{
        f"{DEC_PRETRAIN_DIR.format(pretrain=name)}/training_log.csv": ["DECEMber pretraining (replays)", run.variant]
        for name, run in DEC_PRETRAINING.items()
    },
    **{
        f"{run.folder(RESULTS)}/training_log.csv": ["DECEMber", f"{run.variant}, lr {run.lr:g}"]
        for run in DEC_RUNS.values()
    },
    **{
        f"{STEP_DIR.format(variant=v, seed=s, step=n)}/training_log.csv": ["pruning fine-tunes", f"{v}, step {n}"]
        for v in PRUNING_VARIANTS
        for s in variant_seeds(v)
        for n in range(1, PRUNING_PLAN[v]["steps"] + 1)
    },
    **{
        f"{TRANSFER_DIR}/{name}/training_log.csv": ["transfer", f"core {job['run']['core']}"]
        for name, job in TRANSFER_JOBS.items()
    },
}

TABLES += [PERFORMANCE_TABLE]
FIGURES += [
    Figure(
        name="performance",
        description="R24 Fig. 2A: test performance of every variant, one point per seed.",
        plot="training.performance",
        inputs={"table": PERFORMANCE_TABLE},
        options={"variants": STUDY_VARIANTS},
        category=TRAINING_FIGURES,
    ),
    Figure(
        name="learning_curves",
        description="Validation correlation and learning rate over epochs of every trained model, a row per family of runs.",
        plot="training.learning_curves",
        inputs={"histories": list(LEARNING_RUNS)},
        options={"runs": list(LEARNING_RUNS.values())},
        category=TRAINING_FIGURES,
    ),
    Figure(
        name="readout_weights",
        description="R24 Fig. 2G: distribution of readout feature weights per variant (first seed).",
        plot="training.readout_weights",
        inputs={"models": [model_file(v, FIRST_SEED[v]) for v in STUDY_VARIANTS]},
        options={"variants": STUDY_VARIANTS},
        category=TRAINING_FIGURES,
    ),
]
if SIMULATED:
    FIGURES += [
        Figure(
            name="population_overview",
            description="The simulated population: stimuli, receptive fields by cell type, responses by tier.",
            plot="population.population_overview",
            inputs={"mouse": mouse_folder(MICE[0]), "truth": f"{RESOURCES}/{MICE[0]}.ground_truth.npz"},
            category=TRAINING_FIGURES,
        )
    ]
if SIMULATED and READ_POSITION_VARIANTS:
    TABLES += [READ_POSITIONS_TABLE]
    FIGURES += [
        Figure(
            name="read_positions",
            description="Gaussian read positions vs the true RF centres: offset per seed with and without the shifter.",
            plot="read_positions.read_positions",
            inputs={"table": READ_POSITIONS_TABLE, "neurons": READ_POSITIONS_NEURONS},
            options={
                "variants": READ_POSITION_VARIANTS,
                "first_seeds": {v: FIRST_SEED[v] for v in READ_POSITION_VARIANTS},
            },
            category=TRAINING_FIGURES,
        )
    ]
if FACTORIZED_VARIANTS:
    FIGURES += [
        Figure(
            name="mask_size",
            description="R24 Fig. 2H: factorized readout mask size vs feature-weight norm, per neuron.",
            plot="training.mask_size",
            inputs={"models": [model_file(v, FIRST_SEED[v]) for v in FACTORIZED_VARIANTS]},
            options={"variants": FACTORIZED_VARIANTS},
            category=TRAINING_FIGURES,
        )
    ]
if "factorized_gamma" in SWEEPS:
    FIGURES += [
        Figure(
            name="factorized_selection",
            description="R24 Fig. 6: choosing the factorized readout's regularization by validation performance.",
            plot="training.factorized_selection",
            inputs={"table": PERFORMANCE_TABLE},
            options={
                "sweep": "factorized_gamma",
                "base": SWEEPS["factorized_gamma"]["base"],
                "points": {
                    SWEEPS["factorized_gamma"]["base"]: VARIANTS[SWEEPS["factorized_gamma"]["base"]]["readout"][
                        "gamma"
                    ],
                    **{
                        v: p["readout.gamma"]
                        for v, p in sweep_points("factorized_gamma", SWEEPS["factorized_gamma"]).items()
                    },
                },
            },
            category=TRAINING_FIGURES,
        )
    ]


# ----------------------------------------------------------------------------------------------
# Embedding consistency (clustering.smk), regularization landscapes and the discrete-vs-continuum test

CONSISTENCY_FIGURES = "Embedding consistency"
FIRST_SEED_TSNE = [TSNE_MAP.format(variant=v, seed=FIRST_SEED[v]) for v in CLUSTER_VARIANTS]
FIRST_SEED_LABELS = [LABELS.format(variant=v, seed=FIRST_SEED[v]) for v in CLUSTER_VARIANTS]

TABLES += [ACROSS_SEEDS_TABLE, RERUNS_TABLE, RESPONSE_TABLE]
FIGURES += [
    Figure(
        name="tsne_embeddings",
        description="R24 Fig. 2B-E: t-SNE of each variant's embedding coloured by k-means cluster (and by planted type).",
        plot="clustering.tsne_embeddings",
        inputs={"tsne": FIRST_SEED_TSNE, "labels": FIRST_SEED_LABELS, "truth": ground_truth_files()},
        options={"variants": CLUSTER_VARIANTS, "k": CLUSTERING["figure_k"], "mice": MICE},
        category=CONSISTENCY_FIGURES,
    ),
    Figure(
        name="ari_across_seeds",
        description="R24 Fig. 2I: agreement of clusterings across seeds vs K per variant, k-means and GMM.",
        plot="clustering.ari_across_seeds",
        inputs={"table": ACROSS_SEEDS_TABLE},
        options={"variants": CLUSTER_VARIANTS},
        category=CONSISTENCY_FIGURES,
    ),
    Figure(
        name="kmeans_reruns",
        description="R24 A.4: ARI of k-means reruns on one embedding vs K, beside the k-means ARI across seeds.",
        plot="clustering.kmeans_reruns",
        inputs={"reruns": RERUNS_TABLE, "across_seeds": ACROSS_SEEDS_TABLE},
        options={"variants": CLUSTER_VARIANTS},
        category=CONSISTENCY_FIGURES,
    ),
]
if SIMULATED:
    TABLES += [PLANTED_TABLE, SEPARABILITY_TABLE]
    FIGURES += [
        Figure(
            name="ari_planted_types",
            description="ARI with the planted cell types vs K per variant (simulated data): does it peak at the true K?",
            plot="clustering.ari_planted_types",
            inputs={"table": PLANTED_TABLE},
            options={"variants": CLUSTER_VARIANTS, "n_types": DATASET["simulation"]["n_types"]},
            category=CONSISTENCY_FIGURES,
        ),
        Figure(
            name="planted_type_separability",
            description="Decoding accuracy of the planted types vs their ARI at the true K, and what spreads each type.",
            plot="clustering.planted_type_separability",
            inputs={"separability": SEPARABILITY_TABLE, "planted": PLANTED_TABLE},
            options={"variants": CLUSTER_VARIANTS, "n_types": DATASET["simulation"]["n_types"]},
            category=CONSISTENCY_FIGURES,
        ),
    ]
if TABLED_SWEEPS:
    TABLES += [SWEEPS_TABLE]
if ADAPTIVE_SWEEP:
    TABLES += [BETA_TABLE]
    FIGURES += [
        Figure(
            name="adaptive_regularization",
            description="R24 Fig. 3: ARI across seeds and performance vs γ per σ of the adaptive regularizer, and the learned β.",
            plot="clustering.adaptive_regularization",
            inputs={"sweeps": SWEEPS_TABLE, "beta": BETA_TABLE, "truth": ground_truth_files(ADAPTIVE_MICE)},
            options={"sweep": ADAPTIVE_SWEEP, "k": CLUSTERING["figure_k"]},
            category=CONSISTENCY_FIGURES,
        )
    ]
if CORE_SWEEPS:
    FIGURES += [
        Figure(
            name="core_regularization",
            description="L25 Fig. 5: ARI across seeds and performance vs the strength of each core regularizer.",
            plot="clustering.core_regularization",
            inputs={"sweeps": SWEEPS_TABLE},
            options={"sweep_names": CORE_SWEEPS, "k": CLUSTERING["figure_k"]},
            category=CONSISTENCY_FIGURES,
        )
    ]
if LANDSCAPES.get("tsne_rows"):
    TSNE_ROWS = LANDSCAPES["tsne_rows"]
    TSNE_ROW_VARIANTS = [v for row in TSNE_ROWS.values() for v in row]
    FIGURES += [
        Figure(
            name="tsne_landscape",
            description="L25 Fig. 3: t-SNE maps by readout (rows) and regularization strength (columns), with performance.",
            plot="clustering.tsne_landscape",
            inputs={
                "tsne": [TSNE_MAP.format(variant=v, seed=FIRST_SEED[v]) for v in TSNE_ROW_VARIANTS],
                "labels": [LABELS.format(variant=v, seed=FIRST_SEED[v]) for v in TSNE_ROW_VARIANTS],
                "truth": ground_truth_files(),
                "performance": PERFORMANCE_TABLE,
            },
            options={
                "rows": TSNE_ROWS,
                "titles": {v: regularization_label(VARIANTS[base_variant(v)]["readout"]) for v in TSNE_ROW_VARIANTS},
                "k": CLUSTERING["figure_k"],
                "mice": MICE,
            },
            category=CONSISTENCY_FIGURES,
        )
    ]
if VIDEO_ROWS:
    FIGURES += [
        Figure(
            name="tsne_landscape_video",
            description="L25 Fig. 4 A-D: t-SNE maps of the video models by core (rows) and readout regularization (columns), with ρ_st.",
            plot="clustering.tsne_landscape",
            inputs={
                "tsne": [TSNE_MAP.format(variant=v, seed=FIRST_SEED[v]) for v in VIDEO_ROW_VARIANTS],
                "labels": [LABELS.format(variant=v, seed=FIRST_SEED[v]) for v in VIDEO_ROW_VARIANTS],
                "truth": VIDEO_TRUTH,
                "performance": PERFORMANCE_TABLE,
            },
            options={
                "rows": VIDEO_ROWS,
                "titles": {v: regularization_label(VARIANTS[v]["readout"]) for v in VIDEO_ROW_VARIANTS},
                "k": CLUSTERING["figure_k"],
                "mice": VIDEO_ROW_MICE,
                "measure": "single_trial_correlation",
                "figure": "L25 Fig. 4",
            },
            category=CONSISTENCY_FIGURES,
        ),
        Figure(
            name="performance_video",
            description="L25 Fig. 4 E: test performance of the video models (ρ_st over the scored frames), one point per seed.",
            plot="training.performance",
            inputs={"table": PERFORMANCE_TABLE},
            options={"variants": VIDEO_ROW_VARIANTS, "figure": "L25 Fig. 4E"},
            category=CONSISTENCY_FIGURES,
        ),
    ]
    if VIDEO_TRUTH:
        FIGURES += [
            Figure(
                name="ari_planted_types_video",
                description="ARI with the planted cell types vs K per video model (simulated video mice).",
                plot="clustering.ari_planted_types",
                inputs={"table": PLANTED_TABLE},
                options={
                    "variants": VIDEO_ROW_VARIANTS,
                    "n_types": VIDEO_TYPES,
                },
                category=CONSISTENCY_FIGURES,
            )
        ]
if LANDSCAPES.get("controls"):
    CONTROLS = LANDSCAPES["controls"]
    DISCRETE_MOUSE = variant_mice(CONTROLS["discrete"])[0]
    DISCRETE_TYPES = {**DATASET["simulation"], **DATASET.get("extra_mice", {}).get(DISCRETE_MOUSE, {})}["n_types"]
    FIGURES += [
        Figure(
            name="discreteness_test",
            description="D25: ARI across seeds vs K for a population with types and a continuum of the same size.",
            plot="clustering.discreteness_test",
            inputs={"table": ACROSS_SEEDS_TABLE},
            options={**CONTROLS, "n_types": DISCRETE_TYPES},
            category=CONSISTENCY_FIGURES,
        )
    ]


# ----------------------------------------------------------------------------------------------
# Can readout regularization fake cell types? (regularization_control.smk)

if REG_CONTROL:
    REG_CONTROL_ROWS = REG_CONTROL["rows"]
    REG_CONTROL_VARIANTS = [v for row in REG_CONTROL_ROWS.values() for v in row]
    REG_CONTROL_MICE = list(dict.fromkeys(m for v in REG_CONTROL_VARIANTS for m in variant_mice(v)))
    TABLES += [REG_CONTROL_RUNS_TABLE, REG_CONTROL_TABLE]
    FIGURES += [
        Figure(
            name="regularization_control",
            description="L25 Fig. 3 with a continuum control: t-SNE by population and L1 γ, silhouette vs matched nulls, ARI across seeds.",
            plot="regularization_control.control_figure",
            inputs={
                "tsne": [TSNE_MAP.format(variant=v, seed=FIRST_SEED[v]) for v in REG_CONTROL_VARIANTS],
                "labels": [LABELS.format(variant=v, seed=FIRST_SEED[v]) for v in REG_CONTROL_VARIANTS],
                "summary": REG_CONTROL_TABLE,
                "runs": REG_CONTROL_RUNS_TABLE,
                "truth": ground_truth_files(REG_CONTROL_MICE) if SIMULATED else [],
            },
            options={
                "rows": REG_CONTROL_ROWS,
                "row_mice": {row: variant_mice(names[0]) for row, names in REG_CONTROL_ROWS.items()},
                "truth_mice": REG_CONTROL_MICE if SIMULATED else [],
                "k": REG_CONTROL["figure_k"],
            },
            category=CONSISTENCY_FIGURES,
        )
    ]


# ----------------------------------------------------------------------------------------------
# Identifiability: how far apart must types be for clustering to find them? (identifiability.smk)

if POPULATIONS:
    TABLES += [IDENTIFIABILITY_TABLE, IDENTIFIABILITY_CURVES]
    FIGURES += [
        Figure(
            name="identifiability",
            description="ARI with the planted types and across seeds vs type separation; whether ARI peaks at the true K.",
            plot="identifiability.identifiability_figure",
            inputs={"summary": IDENTIFIABILITY_TABLE, "curves": IDENTIFIABILITY_CURVES},
            options={
                "variant": IDENTIFIABILITY["variant"],
                "population": identifiability.population_description(config),
                "margin": IDENTIFIABILITY["peak_margin"],
                "references": IDENTIFIABILITY["reference_levels"],
            },
            category=CONSISTENCY_FIGURES,
        )
    ]


# ----------------------------------------------------------------------------------------------
# Channel pruning (pruning.smk)

if PRUNING_VARIANTS:
    PRUNING_FIGURES = "Channel pruning"
    TABLES += [PRUNING_TABLE, PRUNING_MODELS_TABLE]
    FIGURES += [
        Figure(
            name="pruning_curves",
            description="R24 Fig. 4A: validation correlation vs features pruned, per variant; the selected count starred.",
            plot="pruning.pruning_curves",
            inputs={"table": PRUNING_TABLE},
            options={"variants": PRUNING_VARIANTS},
            category=PRUNING_FIGURES,
        ),
        Figure(
            name="pruning_ari",
            description="R24 Fig. 4B: k-means ARI across seeds before and after pruning, and after fine-tuning alone (control).",
            plot="pruning.pruning_ari",
            inputs={"table": ACROSS_SEEDS_TABLE},
            options={"pruned": PRUNED, "finetuned": FINETUNED},
            category=PRUNING_FIGURES,
        ),
        Figure(
            name="pruning_tradeoff",
            description="R24 Fig. 4C: ARI across seeds at clustering.figure_k vs fraction oracle of every analysed variant and pruning control.",
            plot="pruning.consistency_tradeoff",
            inputs={
                "table": ACROSS_SEEDS_TABLE,
                "metrics": [f"{model_dir(v, s)}/metrics.json" for v, s in CLUSTER_RUNS],
            },
            options={
                "runs": CLUSTER_RUNS,
                "variants": CLUSTER_VARIANTS,
                "pruned": PRUNED,
                "finetuned": FINETUNED,
                "k": CLUSTERING["figure_k"],
            },
            category=PRUNING_FIGURES,
        ),
    ]


# ----------------------------------------------------------------------------------------------
# DECEMber (december.smk)

if DECEMBER:
    DECEMBER_FIGURES = "DECEMber"
    TABLES += [DEC_RUNS_TABLE, DEC_CONSISTENCY, DEC_VS_BASELINE]
    FIGURES += [
        Figure(
            name="december_toy",
            description="D25 Fig. 2: vanilla DEC vs DECEMber on two nearby clusters of linear neurons (2000 / 500).",
            plot="december.toy",
            inputs={"toy": DEC_TOY},
            category=DECEMBER_FIGURES,
        ),
        Figure(
            name="december_beta",
            description="D25 Fig. 4: t-SNE by β, test correlation vs β, ARI across seeds vs K per β against the converged GMM and k-means.",
            plot="december.beta_figure",
            inputs={
                "tsne": [f"{run.folder(RESULTS)}/tsne.csv" for run in DEC_BETA_RUNS],
                "clusters": [f"{run.folder(RESULTS)}/clusters.npz" for run in DEC_BETA_RUNS],
                "runs": DEC_RUNS_TABLE,
                "vs_baseline": DEC_VS_BASELINE,
            },
            options={
                "ratios": [r.beta_ratio for r in DEC_BETA_RUNS],
                "main": DEC_MAIN,
                "k": DEC_FIGURE_K,
                "variant": DEC_VARIANT,
            },
            category=DECEMBER_FIGURES,
        ),
        Figure(
            name="december_sweeps",
            description="D25 Figs. 5-6: validation and test correlation and ARI across seeds over learning rate x PE; ARI and test correlation vs PE.",
            plot="december.sweeps_figure",
            inputs={"runs": DEC_RUNS_TABLE, "vs_baseline": DEC_VS_BASELINE},
            options={"main": DEC_MAIN, "k": DEC_FIGURE_K, "variant": DEC_VARIANT},
            category=DECEMBER_FIGURES,
        ),
        Figure(
            name="december_agreement",
            description="D25 B.5: ARI, Fowlkes–Mallows and V-measure across seeds vs K, DECEMber vs the converged k-means and GMM.",
            plot="december.agreement_figure",
            inputs={"vs_baseline": DEC_VS_BASELINE},
            options={"main": DEC_MAIN},
            category=DECEMBER_FIGURES,
        ),
    ]
    if DEC_RETINA:
        TABLES += [DEC_PLANTED, DEC_CONFUSION]
        FIGURES += [
            Figure(
                name="december_confusion",
                description="Retina-style check (D25 Fig. 3) on a simulated stand-in: DECEMber's confusion with the planted types, ARI vs the converged GMM and k-means.",
                plot="december.confusion_figure",
                inputs={"planted": DEC_PLANTED, "confusion": DEC_CONFUSION},
                options={"variant": DEC_RETINA["variant"]},
                category=DECEMBER_FIGURES,
            )
        ]


# ----------------------------------------------------------------------------------------------
# In-silico experiments (insilico.smk)

INSILICO_FIGURES = "In-silico experiments"

TABLES += [INSILICO_TABLE]
FIGURES += [
    Figure(
        name="insilico_consistency",
        description="R24 Table 1 rendered as a figure.",
        plot="insilico.consistency_table",
        inputs={"table": INSILICO_TABLE},
        options={"variants": ANALYSED},
        category=INSILICO_FIGURES,
    ),
    Figure(
        name="tuning_examples",
        description="R24 Fig. 5: tuning curves of example neurons, every variant and seed (and the true neuron's).",
        plot="insilico.tuning_examples",
        inputs={"tuning": TUNING_FILES, "truth": TRUTH_TUNING_FILES},
        options={"runs": INSILICO_RUNS, "neurons": INSILICO["figure_neurons"]},
        category=INSILICO_FIGURES,
    ),
    Figure(
        name="tuning_indices",
        description="R24 Fig. 5: distributions of the tuning indices per variant (first seed) and of the true neurons.",
        plot="insilico.tuning_indices",
        inputs={"tuning": FIRST_SEED_TUNING_FILES, "truth": TRUTH_TUNING_FILES},
        options={"variants": ANALYSED},
        category=INSILICO_FIGURES,
    ),
    Figure(
        name="optimal_gabors",
        description="R24 A.7: optimal Gabors of example neurons for every variant and seed (and the true neuron's).",
        plot="insilico.optimal_gabors",
        inputs={
            "optimal": [OPTIMAL_GABORS.format(variant=v, seed=s) for v, s in INSILICO_RUNS],
            "truth": TRUTH_OPTIMAL_FILES,
        },
        options={"runs": INSILICO_RUNS, "neurons": INSILICO["figure_neurons"]},
        category=INSILICO_FIGURES,
    ),
]
if SIMULATED:
    TABLES += [GROUND_TRUTH_CHECK]
    FIGURES += [
        Figure(
            name="insilico_ground_truth",
            description="Tuning indices by planted type, of the models and of the true neurons (simulated data).",
            plot="insilico.ground_truth",
            inputs={
                "check": GROUND_TRUTH_CHECK,
                "tuning": FIRST_SEED_TUNING_FILES,
                "truth": ground_truth_files(),
                "truth_tuning": TRUTH_TUNING_FILES,
            },
            options={"variants": ANALYSED, "mice": MICE},
            category=INSILICO_FIGURES,
        )
    ]


# ----------------------------------------------------------------------------------------------
# Core transfer (transfer.smk)

if TRANSFER:
    TRANSFER_FIGURES = "Core transfer"
    TABLES += [TRANSFER_TABLE]
    FIGURES += [
        Figure(
            name="transfer_readouts",
            description="L21 Fig. 3: Gaussian (with and without feature sharing) vs factorized readout, vs images and neurons.",
            plot="transfer.readouts",
            inputs={"table": TRANSFER_TABLE},
            options={"mouse": TRANSFER["within_mouse"], "sessions": TRANSFER["sessions"]},
            category=TRANSFER_FIGURES,
        ),
        Figure(
            name="transfer_within",
            description="L21 Fig. 4: transfer between the core set and the transfer set of neurons of one mouse.",
            plot="transfer.within_animal",
            inputs={"table": TRANSFER_TABLE},
            options={"mouse": TRANSFER["within_mouse"]},
            category=TRANSFER_FIGURES,
        ),
        Figure(
            name="transfer_across",
            description="L21 Fig. 5: cores from different training sets transferred to a held-out mouse.",
            plot="transfer.across_animal",
            inputs={"table": TRANSFER_TABLE},
            options={"mouse": TRANSFER["held_out_mouse"]},
            category=TRANSFER_FIGURES,
        ),
    ]


# ----------------------------------------------------------------------------------------------
# One rule per figure, so any single figure can be rebuilt alone: `snakemake figure_<name>`.

for fig in FIGURES:

    rule:
        name:
            f"figure_{fig.name}"
        input:
            **fig.inputs,
        output:
            **figure_outputs(fig),
        params:
            plot=fig.plot,
            options=fig.options,
        log:
            f"{LOGS}/figures/{fig.name}.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/figures.py"

    workflow.get_rule(f"figure_{fig.name}").docstring = fig.description
