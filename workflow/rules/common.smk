# Shared names and path helpers for every rule file (VARIANTS, the checked config's models, comes
# from the Snakefile).
import posixpath
import re

from v1twin import walltime
from v1twin.config import dataset_mice, pruned_variants, study_variants, training_runs

# SLURM's SIGUSR1 before the time limit (profiles/slurm) reaches every process of a job step: this
# Snakemake process and its shells ignore it, the rule's script checkpoints and stops (v1twin.walltime).
walltime.ignore()

DATASET = config["dataset"]
DATASET_NAME = DATASET["name"]
MICE = DATASET["mice"]  # the study's mice: every variant trains on them unless it names its own `mice`
ALL_MICE = dataset_mice(config)  # plus dataset.extra_mice (simulated controls such as a continuum population)
RESOURCES = f"resources/{DATASET_NAME}"
RESULTS = f"results/{DATASET_NAME}"
LOGS = f"{RESULTS}/logs"
# `benchmark:` files of every job submitted to a cluster (wall time, peak memory, CPU time: to size
# the rules' `runtime` and `mem_mb`), one folder per rule, named like the job's log.
BENCHMARKS = f"{RESULTS}/benchmarks"
RUNS = training_runs(VARIANTS)
SIMULATED = DATASET["source"] == "simulate"

# The selected pruned model of a variant is analysed like a trained variant, named <variant>-pruned.
PRUNED = pruned_variants(config)
# Every model the analyses (embeddings, clustering, in-silico) accept: trained variants and pruned ones.
MODEL_VARIANTS = [*VARIANTS, *PRUNED]
# The models compared across seeds: named variants on the study's mice, and their pruned versions
# (sweeps choose hyperparameters; controls on other mice have their own figures).
STUDY_VARIANTS = study_variants(config, VARIANTS)
ANALYSED = STUDY_VARIANTS + list(PRUNED)


def base_variant(variant):
    """The trained variant a model name comes from (itself, or what was pruned)."""
    return PRUNED.get(variant, variant)


def variant_seeds(variant):
    return VARIANTS[base_variant(variant)]["seeds"]


def variant_mice(variant):
    return VARIANTS[base_variant(variant)]["mice"]


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
    """The simulator's ground truth per mouse; real data has none."""
    return [f"{RESOURCES}/{m}.ground_truth.npz" for m in mice] if SIMULATED else []


def download_url(mouse):
    return posixpath.join(DATASET["base_url"], DATASET["file_pattern"].format(mouse=mouse))


def figure(name):
    return f"{RESULTS}/figures/{name}.pdf"


def figure_rule_outputs(name, category):
    """A figure rule's outputs: the PDF, and the PNG beside it, which goes into the HTML report
    (`snakemake --report`) under `category` with the caption workflow/report/<name>.rst."""
    png = figure(name).replace(".pdf", ".png")
    return {"pdf": figure(name), "png": report(png, caption=f"../report/{name}.rst", category=category)}


def first_seed_models(variants):
    """model.pt of the first seed of each variant (figures that show one fit per variant)."""
    return {v: model_file(v, variant_seeds(v)[0]) for v in variants}


# Pruning (prune.smk) path templates; `.format(variant=..., seed=..., step=...)` names one file.
PRUNING_DIR = f"{RESULTS}/pruning/{{variant}}"
STEP_DIR = f"{PRUNING_DIR}/seed{{seed}}/step{{step}}"
STEP_MODEL = f"{STEP_DIR}/model.pt"
REMOVAL = f"{STEP_DIR}/removal.json"
PRUNING_CURVES = f"{PRUNING_DIR}/curves.csv"
PRUNING_SELECTION = f"{PRUNING_DIR}/selection.json"
PRUNING_TABLE = f"{RESULTS}/tables/pruning.csv"


def step_model(variant, seed, step):
    """The model a pruning step starts from: the trained model at step 0."""
    return model_file(variant, seed) if step == 0 else STEP_MODEL.format(variant=variant, seed=seed, step=step)


# conda environments, as paths relative to workflow/rules; GPU rules get the CUDA build of torch.
CPU_ENV = "../../envs/cpu.yaml"
GPU_ENV = "../../envs/gpu.yaml"


# Every rule file appends its figures and tables here; `all_figures` depends on all of them.
ALL_FIGURES = []
