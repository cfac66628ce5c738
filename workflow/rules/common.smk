# Shared names and path helpers for every rule file (VARIANTS, the checked config's models, comes
# from the Snakefile).
import re
from dataclasses import asdict

from v1twin import identifiability, regularization_control, walltime
from v1twin.config import (
    dataset_mice,
    download_urls,
    finetuned_variants,
    landscape_sweep,
    mouse_simulation,
    pruned_variants,
    simulation_seeds,
    study_variants,
    training_runs,
    video_mice,
)
from v1twin.december import plan as december_plan
from v1twin.pruning import plan_variants
from v1twin.transfer import plan_jobs

# SLURM's SIGUSR1 before the time limit (profiles/slurm) reaches every process of a job step: this
# Snakemake process and its shells ignore it, the rule's script checkpoints and stops (v1twin.walltime).
walltime.ignore()

DATASET = config["dataset"]
DATASET_NAME = DATASET["name"]
MICE = DATASET["mice"]  # the study's mice: every variant trains on them unless it names its own `mice`
# plus dataset.extra_mice (simulated controls such as a continuum population) and the video mice
ALL_MICE = dataset_mice(config)
# The video (Sensorium 2023-layout) mice, simulated (dataset.video_mice) or downloaded (dataset.video_downloads);
# every other mouse is static (Sensorium 2022 layout). A variant's mice are all of one kind (v1twin.config).
VIDEO_MICE = video_mice(config)
RESOURCES = f"resources/{DATASET_NAME}"
RESULTS = f"results/{DATASET_NAME}"
LOGS = f"{RESULTS}/logs"
# `benchmark:` files of every job submitted to a cluster (wall time, peak memory, CPU time: to size
# the rules' `runtime` and `mem_mb`), one folder per rule, named like the job's log.
BENCHMARKS = f"{RESULTS}/benchmarks"
# The results page (results_summary.smk): every reported number with its source table.
RESULTS_PAGE = f"{RESULTS}/results.md"
RUNS = training_runs(VARIANTS)
SIMULATED = DATASET["source"] == "simulate"  # the study's mice are simulated (else downloaded)
# Every simulated mouse: the study's on simulated data, and the extra and video mice (always simulated).
SIMULATED_MICE = [*(MICE if SIMULATED else []), *DATASET["extra_mice"], *DATASET["video_mice"]]
# mouse -> the URL of its zip: the study's mice of downloaded data, and the dataset.video_downloads mice.
DOWNLOAD_URLS = download_urls(DATASET)

# The selected pruned model of a variant is analysed like a trained variant, named <variant>-pruned;
# its matched-budget control (the trained model fine-tuned as long, nothing removed) is <variant>-finetuned.
PRUNED = pruned_variants(config)
FINETUNED = finetuned_variants(config)
# Every model the analyses (embeddings, clustering, in-silico) accept: trained variants, pruned ones, controls.
MODEL_VARIANTS = [*VARIANTS, *PRUNED, *FINETUNED]
# The models compared across seeds: named variants on the study's mice, and their pruned versions
# (sweeps choose hyperparameters; controls on other mice have their own figures).
STUDY_VARIANTS = study_variants(config, VARIANTS)
ANALYSED = STUDY_VARIANTS + list(PRUNED)


def base_variant(variant):
    """The trained variant a model name comes from (itself, or what was pruned or fine-tuned)."""
    return {**PRUNED, **FINETUNED}.get(variant, variant)


def variant_seeds(variant):
    return VARIANTS[base_variant(variant)]["seeds"]


def variant_mice(variant):
    return VARIANTS[base_variant(variant)]["mice"]


# Every seed of every analysed model; the first seed of every model (figures that show one fit per model).
ANALYSED_RUNS = [(v, s) for v in ANALYSED for s in variant_seeds(v)]
FIRST_SEED = {v: variant_seeds(v)[0] for v in MODEL_VARIANTS}


wildcard_constraints:
    mouse="|".join(map(re.escape, ALL_MICE)),
    variant="|".join(map(re.escape, MODEL_VARIANTS)),
    seed=r"\d+",


def mouse_folder(mouse):
    return f"{RESOURCES}/{mouse}"


def mouse_cache(mouse):
    return f"{RESOURCES}/{mouse}.cache"


def model_dir(variant, seed):
    return f"{RESULTS}/models/{variant}/seed{seed}"


def model_file(variant, seed):
    return f"{model_dir(variant, seed)}/model.pt"


def ground_truth_files(mice=MICE):
    """The simulator's ground truth per mouse: every mouse simulated, or none (real data has none)."""
    return [f"{RESOURCES}/{m}.ground_truth.npz" for m in mice] if set(mice) <= set(SIMULATED_MICE) else []


def figure_pdf(name):
    return f"{RESULTS}/figures/{name}.pdf"


def figure_outputs(fig):
    """A figure rule's outputs (figures.smk): the PDF, and the PNG beside it, which goes into the HTML report
    (`snakemake --report`) under the figure's category with the caption workflow/report/<name>.rst."""
    png = figure_pdf(fig.name).replace(".pdf", ".png")
    return {
        "pdf": figure_pdf(fig.name),
        "png": report(png, caption=f"../report/{fig.name}.rst", category=fig.category),
    }


# Training (training.smk)
PERFORMANCE_TABLE = f"{RESULTS}/tables/performance.csv"
# The read-position check (simulated data): every seed of the study's Gaussian-readout variants.
READ_POSITION_VARIANTS = [v for v in STUDY_VARIANTS if VARIANTS[v]["readout"]["type"] == "gaussian"]
READ_POSITION_RUNS = [(v, s) for v in READ_POSITION_VARIANTS for s in variant_seeds(v)]
READ_POSITIONS_TABLE = f"{RESULTS}/tables/read_positions.csv"
READ_POSITIONS_NEURONS = f"{RESULTS}/read_positions/neurons.csv"


# Embedding consistency (clustering.smk); path templates: `.format(variant=..., seed=...)` names one file.
CLUSTERING = config["clustering"]
CLUSTER_VARIANTS = ANALYSED + list(FINETUNED)  # the pruning controls too (not in-silico: keeps it cheap)
EMBEDDING = f"{RESULTS}/embeddings/{{variant}}/seed{{seed}}.npz"
LABELS = f"{RESULTS}/clusters/{{variant}}/seed{{seed}}.npz"
TSNE_MAP = f"{RESULTS}/embeddings/{{variant}}/seed{{seed}}.tsne.csv"
RERUNS = f"{RESULTS}/clusters/{{variant}}/kmeans_reruns.csv"
ACROSS_SEEDS_TABLE = f"{RESULTS}/consistency/clustering_across_seeds.csv"
RERUNS_TABLE = f"{RESULTS}/consistency/kmeans_reruns.csv"
RESPONSE_TABLE = f"{RESULTS}/consistency/response_correlation.csv"
PLANTED_TABLE = f"{RESULTS}/consistency/planted_types.csv"
SEPARABILITY_TABLE = f"{RESULTS}/consistency/planted_type_separability.csv"

# Regularization landscapes and D25's discrete-vs-continuum test (config `landscapes`).
LANDSCAPES = config.get("landscapes", {})
SWEEPS_TABLE = f"{RESULTS}/consistency/sweeps.csv"
BETA_TABLE = f"{RESULTS}/consistency/adaptive_beta.csv"
ADAPTIVE_SWEEP = LANDSCAPES.get("adaptive_sweep")
CORE_SWEEPS = LANDSCAPES.get("core_sweeps", [])
# The sweeps of the sweep table: name -> {"base": variant, "points": {variant: {parameter: value}}}.
TABLED_SWEEPS = {
    name: landscape_sweep(config, name, VARIANTS) for name in ([ADAPTIVE_SWEEP] if ADAPTIVE_SWEEP else []) + CORE_SWEEPS
}
if ADAPTIVE_SWEEP:
    ADAPTIVE_POINTS = list(TABLED_SWEEPS[ADAPTIVE_SWEEP]["points"])
    ADAPTIVE_MICE = variant_mice(ADAPTIVE_POINTS[0])
# The dynamic study (L25 Fig. 4): video variants by row, all fitted to the same video mice.
VIDEO_ROWS = LANDSCAPES.get("video_rows", {})
VIDEO_ROW_VARIANTS = [v for row in VIDEO_ROWS.values() for v in row]
VIDEO_ROW_MICE = variant_mice(VIDEO_ROW_VARIANTS[0]) if VIDEO_ROW_VARIANTS else []
VIDEO_TRUTH = ground_truth_files(VIDEO_ROW_MICE)  # none where the video mice are downloaded
VIDEO_TYPES = mouse_simulation(DATASET, VIDEO_ROW_MICE[0])["n_types"] if VIDEO_TRUTH else None


# Pruning (pruning.smk) path templates; `.format(variant=..., seed=..., step=...)` names one file.
PRUNING_DIR = f"{RESULTS}/pruning/{{variant}}"
STEP_DIR = f"{PRUNING_DIR}/seed{{seed}}/step{{step}}"
STEP_MODEL = f"{STEP_DIR}/model.pt"
REMOVAL = f"{STEP_DIR}/removal.json"
PRUNING_CURVES = f"{PRUNING_DIR}/curves.csv"
PRUNING_SELECTION = f"{PRUNING_DIR}/selection.json"
PRUNING_TABLE = f"{RESULTS}/tables/pruning.csv"
PRUNING_MODELS_TABLE = f"{RESULTS}/tables/pruning_models.csv"
PRUNING_VARIANTS = list(PRUNED.values())
PRUNING_CONSTRAINT = "|".join(map(re.escape, PRUNING_VARIANTS))
# Per pruned variant: its steps down to pruning.min_channels and the fine-tuning's training settings.
PRUNING_PLAN = plan_variants(config, VARIANTS)


def step_model(variant, seed, step):
    """The model a pruning step starts from: the trained model at step 0."""
    return model_file(variant, seed) if step == 0 else STEP_MODEL.format(variant=variant, seed=seed, step=step)


def pruning_removals(variant, seed):
    """Every pruning step's summary of one seed, in step order."""
    return [REMOVAL.format(variant=variant, seed=seed, step=n) for n in range(1, PRUNING_PLAN[variant]["steps"] + 1)]


# DECEMber (december.smk): the stage's plan, its runs by name with every setting resolved (empty without
# a `december:` config section); path templates: `.format(run=name)`, `.format(pretrain=name)`,
# `.format(variant=name)`. The converged baseline of a DECEMber variant is its training_run models.
DECEMBER = config.get("december")
DEC_PLAN = december_plan.plan(config, VARIANTS) if DECEMBER else {}
# DECEMber on the identifiability populations (identifiability.december): the same rules, its own table
DEC_POPULATION_RUNS = december_plan.population_runs(config, VARIANTS)
DEC_RUNS = {**DEC_PLAN, **DEC_POPULATION_RUNS}  # every run the rules can make, by name
DEC_PRETRAINING = december_plan.pretraining(config, VARIANTS) if DECEMBER else {}
DEC_RUN_NAMES = "|".join(map(re.escape, DEC_RUNS))  # the `run` wildcard of the DECEMber rules
DEC_PRETRAIN_NAMES = "|".join(map(re.escape, DEC_PRETRAINING))  # the `pretrain` wildcard
DEC_RUN_PARAMS = [asdict(run) for run in DEC_PLAN.values()]  # the runs as plain data, for table rules
DEC_RUN_DIR = f"{RESULTS}/december/{{run}}"
DEC_PRETRAIN_DIR = f"{RESULTS}/december/{{pretrain}}"
DEC_BASELINE = f"{RESULTS}/december/{{variant}}/baseline_labels.npz"
DEC_TOY = f"{RESULTS}/december/toy.npz"
DEC_RUNS_TABLE = f"{RESULTS}/tables/december_runs.csv"
DEC_CONSISTENCY = f"{RESULTS}/consistency/december_across_seeds.csv"
DEC_VS_BASELINE = f"{RESULTS}/tables/december_vs_baseline.csv"
DEC_PLANTED = f"{RESULTS}/consistency/december_planted_types.csv"
DEC_CONFUSION = f"{RESULTS}/consistency/december_confusion.csv"
DEC_VARIANTS = []
DEC_RETINA = None
if DECEMBER:
    DEC_VARIANT = DECEMBER["variant"]
    DEC_MAIN = december_plan.main_setting(config, VARIANTS)
    DEC_FIGURE_K = DECEMBER["figure_k"]
    # the first seed's runs at K = figure_k over the beta ratios (t-SNE by beta, D25 Fig. 4B-E)
    DEC_BETA_SEED = december_plan.main_seeds(config, VARIANTS)[0]
    DEC_BETA_RUNS = [
        run
        for run in december_plan.setting_runs(DEC_PLAN, DEC_VARIANT, DEC_MAIN, DEC_FIGURE_K, free="beta_ratio")
        if run.seed == DEC_BETA_SEED
    ]
    DEC_RETINA = DECEMBER.get("retina")
    DEC_VARIANTS = [DEC_VARIANT] + ([DEC_RETINA["variant"]] if DEC_RETINA else [])
    # k-means and GMM on every DECEMber variant's converged models: the main K values, the check's K
    DEC_BASELINE_K = {DEC_VARIANT: DECEMBER["k_values"]}
    if DEC_RETINA:
        DEC_RETINA_SETTING = december_plan.retina_setting(config, VARIANTS)
        DEC_BASELINE_K[DEC_RETINA["variant"]] = [DEC_RETINA["k"]]
        DEC_RETINA_RUNS = december_plan.setting_runs(
            DEC_PLAN, DEC_RETINA["variant"], DEC_RETINA_SETTING, DEC_RETINA["k"]
        )


def december_files(name, runs=None):
    """The file `name` (e.g. clusters.npz) of every DECEMber run (or of `runs`), in the plan's order."""
    return [f"{run.folder(RESULTS)}/{name}" for run in (DEC_PLAN.values() if runs is None else runs)]


# The regularization continuum control (regularization_control.smk): every (row, variant, seed) of the
# config's rows; path templates `.format(variant=..., seed=...)`. Empty without the config section.
REG_CONTROL = config.get("regularization_control")
REG_CONTROL_RUNS = regularization_control.plan(REG_CONTROL["rows"], VARIANTS) if REG_CONTROL else []
REG_CONTROL_RUN = {(run.variant, run.seed): run for run in REG_CONTROL_RUNS}
REG_CONTROL_MEASURES = f"{RESULTS}/regularization_control/{{variant}}/seed{{seed}}.csv"
REG_CONTROL_RUNS_TABLE = f"{RESULTS}/tables/regularization_control_runs.csv"
REG_CONTROL_TABLE = f"{RESULTS}/tables/regularization_control.csv"


# In-silico experiments (insilico.smk); path templates: `.format(variant=..., seed=...)` names one file.
INSILICO = config["insilico"]
INSILICO_DIR = f"{RESULTS}/insilico"
INSILICO_RUNS = ANALYSED_RUNS
OPTIMAL_GABORS = f"{INSILICO_DIR}/{{variant}}/seed{{seed}}/optimal_gabors.csv"
TUNING = f"{INSILICO_DIR}/{{variant}}/seed{{seed}}/tuning.npz"
INSILICO_TABLE = f"{RESULTS}/tables/insilico_consistency.csv"
GROUND_TRUTH_CHECK = f"{INSILICO_DIR}/ground_truth_check.csv"
TUNING_FILES = [TUNING.format(variant=v, seed=s) for v, s in INSILICO_RUNS]
FIRST_SEED_TUNING_FILES = [TUNING.format(variant=v, seed=FIRST_SEED[v]) for v in ANALYSED]
# The same protocols on the simulator's own noise-free neurons, per mouse (`.format(mouse=...)`).
TRUTH_OPTIMAL = f"{INSILICO_DIR}/ground_truth/{{mouse}}/optimal_gabors.csv"
TRUTH_TUNING = f"{INSILICO_DIR}/ground_truth/{{mouse}}/tuning.npz"
TRUTH_OPTIMAL_FILES = [TRUTH_OPTIMAL.format(mouse=m) for m in MICE] if SIMULATED else []
TRUTH_TUNING_FILES = [TRUTH_TUNING.format(mouse=m) for m in MICE] if SIMULATED else []


# Core transfer (transfer.smk); its runs exist only with a `transfer:` config section.
TRANSFER = config.get("transfer")
TRANSFER_DIR = f"{RESULTS}/transfer"
TRANSFER_TABLE = f"{RESULTS}/tables/transfer.csv"
# Run name -> its job's params: the run and its settings, training merged over the global settings.
TRANSFER_JOBS = plan_jobs(config) if TRANSFER else {}
TRANSFER_CONSTRAINT = "|".join(map(re.escape, TRANSFER_JOBS))


# conda environments, as paths relative to workflow/rules; GPU rules get the CUDA build of torch.
CPU_ENV = "../../envs/cpu.yaml"
GPU_ENV = "../../envs/gpu.yaml"


# Identifiability (identifiability.smk): the populations by decreasing separation, then the continuum;
# each is a simulated mouse of dataset.extra_mice with its variant (added when the config is resolved).
IDENTIFIABILITY = config.get("identifiability")
POPULATIONS = identifiability.populations(IDENTIFIABILITY) if IDENTIFIABILITY else []
POPULATION_VARIANTS = {p.variant for p in POPULATIONS}
IDENTIFIABILITY_TABLE = f"{RESULTS}/consistency/identifiability.csv"
IDENTIFIABILITY_CURVES = f"{RESULTS}/consistency/identifiability_curves.csv"
