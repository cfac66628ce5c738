"""v1twin: predictive models of mouse V1 and the consistency of their neuron embeddings.

Each stage of the Snakemake workflow shares its name with its rule file (workflow/rules/<stage>.smk),
its scripts (workflow/scripts/<stage>_*.py, one per rule, named like the rule) and its module or
package here; docs/architecture.md maps the layers and says where to add a variant, a stage or a figure.
"""
