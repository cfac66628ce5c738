"""v1twin: predictive models of mouse V1 and the consistency of their neuron embeddings.

Each stage of the Snakemake workflow has a module here with the same name as its rule file
(workflow/rules/<stage>.smk) and its entry scripts (workflow/scripts/); the scripts stay thin.
"""
