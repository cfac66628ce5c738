# Deep predictive models of mouse V1 and the consistency of their neuron embeddings.
#   snakemake all_figures --cores 2                                             # the simulated demo (config/config.yaml)
#   snakemake all_figures --profile profiles/slurm --configfile config/paper.yaml   # the papers' study
import sys

from snakemake.utils import min_version

sys.path.insert(0, f"{workflow.basedir}/workflow")  # the v1twin package of this checkout, installed or not
from v1twin.config import check_references, expand_variants, with_bases
from v1twin.config_schema import ConfigError, with_defaults, workflow_schema
from v1twin.identifiability import with_populations

min_version("9.0")

# config/config.yaml is the default; a --configfile given on the command line replaces it
# (several --configfile files still merge with each other), so the paper's config never
# inherits the demo's variants or mice. A file that starts with `base: <file>` changes only the
# keys it names (mappings merge key by key; see config/README.md).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# The whole config is checked here, before any job: a mistake ends the run with one short message.
# The schema (workflow/schemas/config.schema.yaml) holds every default; nothing downstream re-defaults.
try:
    # the identifiability populations become simulated mice and variants like any other
    _resolved_config = with_populations(with_defaults(with_bases(config, workflow.basedir)))
    config.clear()
    config.update(_resolved_config)
    VARIANTS = expand_variants(config, workflow_schema())  # every sweep point checked against the schema too
    check_references(config, VARIANTS)  # every cross-reference between sections
except ConfigError as error:
    sys.exit(f"Config error: {error}")


# `snakemake --report report.html`: every figure, with its caption from workflow/report/.
report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/clustering.smk"
include: "workflow/rules/pruning.smk"
include: "workflow/rules/december.smk"
include: "workflow/rules/insilico.smk"
include: "workflow/rules/transfer.smk"
include: "workflow/rules/regularization_control.smk"
include: "workflow/rules/identifiability.smk"
include: "workflow/rules/figures.smk"  # the figure registry reads the names common.smk defines
include: "workflow/rules/results_summary.smk"  # last: the results page reads the registry's tables and figures


rule all_figures:
    """Every figure and table of the study for the configured dataset (figures.smk), and the results page."""
    input:
        TABLES,
        [figure_pdf(fig.name) for fig in FIGURES],
        RESULTS_PAGE,
    default_target: True
