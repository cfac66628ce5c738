# The results page (package v1twin.results_summary): every number of results/<dataset>/results.md is read
# from the reported tables (figures.smk's TABLES) and carries its source; `make results-doc` copies the
# demo's page to docs/results.md. Included after figures.smk: it reads the registry's tables and figures,
# and waits for every figure so that its wall-time section sums the benchmark file of every job.
from pathlib import Path

# Page name -> table, for the tables the page reads; only those the config reports (in TABLES) are inputs.
RESULTS_PAGE_TABLES = {
    "performance": PERFORMANCE_TABLE,
    "read_positions": READ_POSITIONS_TABLE,
    "across_seeds": ACROSS_SEEDS_TABLE,
    "reruns": RERUNS_TABLE,
    "response": RESPONSE_TABLE,
    "planted": PLANTED_TABLE,
    "separability": SEPARABILITY_TABLE,
    "identifiability": IDENTIFIABILITY_TABLE,
    "sweeps": SWEEPS_TABLE,
    "regularization_control": REG_CONTROL_TABLE,
    "regularization_control_runs": REG_CONTROL_RUNS_TABLE,
    "pruning": PRUNING_TABLE,
    "pruning_models": PRUNING_MODELS_TABLE,
    "december_vs_baseline": DEC_VS_BASELINE,
    "december_runs": DEC_RUNS_TABLE,
    "december_planted": DEC_PLANTED,
    "december_confusion": DEC_CONFUSION,
    "insilico": INSILICO_TABLE,
    "ground_truth_check": GROUND_TRUTH_CHECK,
    "transfer": TRANSFER_TABLE,
}


rule results_summary:
    """The results page: every reported number with its source table, comparison words computed from the numbers."""
    input:
        **{name: path for name, path in RESULTS_PAGE_TABLES.items() if path in TABLES},
        figures=[figure_pdf(fig.name) for fig in FIGURES],
    output:
        RESULTS_PAGE,
    params:
        benchmarks=BENCHMARKS,
        settings={
            "dataset": DATASET,
            "variants": {
                v: {key: VARIANTS[base_variant(v)][key] for key in ("core", "readout", "training")} for v in ANALYSED
            },
            "study_variants": STUDY_VARIANTS,
            "pruned": PRUNED,
            "figure_k": CLUSTERING["figure_k"],
            "controls": {**CONTROLS, "n_types": DISCRETE_TYPES} if LANDSCAPES.get("controls") else None,
            "regularization_control_k": REG_CONTROL["figure_k"] if REG_CONTROL else None,
            "december": {"variant": DEC_VARIANT, "main": DEC_MAIN, "k": DEC_FIGURE_K} if DECEMBER else None,
            "rule_stages": {r.name: Path(r.snakefile).stem for r in workflow.rules},
            "reference_levels": tuple(IDENTIFIABILITY["reference_levels"]) if IDENTIFIABILITY else (),
            "video_variants": {
                v: {key: VARIANTS[v][key] for key in ("core", "readout", "training")} for v in VIDEO_ROW_VARIANTS
            },
            "video_types": VIDEO_TYPES,
        },
    log:
        f"{LOGS}/results_summary.log",
    localrule: True
    conda:
        CPU_ENV
    script:
        "../scripts/results_summary.py"
