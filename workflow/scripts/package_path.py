"""Puts workflow/ first on sys.path, so a rule script imports the workflow's own package, v1twin, from
this checkout: the conda environments (envs/*.yaml) hold third-party packages only.

Snakemake runs a copy of each script from .snakemake/scripts with this folder on sys.path; every
script imports this module before v1twin. First on the path, so an installed copy of v1twin (say an
older one) never shadows the code of the checkout that defines the rules.
"""
import sys
from pathlib import Path

WORKFLOW_DIR = str(Path(__file__).resolve().parent.parent)
if WORKFLOW_DIR not in sys.path:
    sys.path.insert(0, WORKFLOW_DIR)
