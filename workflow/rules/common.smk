# Shared names and path helpers for every rule file.
import posixpath
import re

from v1twin.config import expand_variants, training_runs

DATASET = config["dataset"]
DATASET_NAME = DATASET["name"]
MICE = DATASET["mice"]
RESOURCES = f"resources/{DATASET_NAME}"
RESULTS = f"results/{DATASET_NAME}"
LOGS = f"{RESULTS}/logs"
VARIANTS = expand_variants(config)
RUNS = training_runs(VARIANTS)
SIMULATED = DATASET["source"] == "simulate"


wildcard_constraints:
    mouse="|".join(MICE),
    variant="|".join(map(re.escape, VARIANTS)),
    seed=r"\d+",


def mouse_folder(mouse):
    return f"{RESOURCES}/{mouse}"


def mouse_cache(mouse):
    return f"{RESOURCES}/{mouse}.cache"


def model_dir(variant, seed):
    return f"{RESULTS}/models/{variant}/seed{seed}"


def ground_truth_files():
    """The simulator's ground truth per mouse; real data has none."""
    return [f"{RESOURCES}/{m}.ground_truth.npz" for m in MICE] if SIMULATED else []


def download_url(mouse):
    return posixpath.join(DATASET["base_url"], DATASET["file_pattern"].format(mouse=mouse))


def figure(name):
    return f"{RESULTS}/figures/{name}.pdf"


def figure_rule_outputs(name):
    """A figure rule's outputs: the PDF and the PNG beside it."""
    return {"pdf": figure(name), "png": figure(name).replace(".pdf", ".png")}


def first_seed_models(variants):
    """model.pt of the first seed of each variant (figures that show one fit per variant)."""
    return {v: f"{model_dir(v, VARIANTS[v]['seeds'][0])}/model.pt" for v in variants}


# Every rule file appends its figures and tables here; `all_figures` depends on all of them.
ALL_FIGURES = []
