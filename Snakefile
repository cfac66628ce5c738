# Deep predictive models of mouse V1 and the consistency of their neuron embeddings.
#   snakemake --cores 2 all_figures                                    simulated demo (config/config.yaml)
#   snakemake all_figures --profile profiles/slurm --configfile config/paper.yaml   the papers' study
from snakemake.utils import min_version, validate

min_version("9.0")

# config/config.yaml is the default; a --configfile given on the command line replaces it
# (several --configfile files still merge with each other), so the paper's config never
# inherits the demo's variants or mice.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


# `snakemake --report report.html`: every figure, with its caption from workflow/report/.
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/cluster.smk"
include: "workflow/rules/prune.smk"
include: "workflow/rules/december.smk"
include: "workflow/rules/insilico.smk"
include: "workflow/rules/transfer.smk"


rule all_figures:
    """Every figure and table of the study for the configured dataset."""
    input:
        ALL_FIGURES,
    default_target: True
