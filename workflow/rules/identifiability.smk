# Identifiability (METHODS §11; package v1twin.identifiability): populations whose planted types lie
# ever closer together, down to one type, and a continuum, each fitted with one variant on several seeds.
# The populations and their variants join dataset.extra_mice and the variants when the config is
# resolved, so data.smk, training.smk and clustering.smk make their mice, models and labels; this
# rule only reads the labels against the planted types. With `identifiability.december`, december.smk
# runs DECEMber on every population too (DEC_POPULATION_RUNS) and this rule reads its clusters as well.

if POPULATIONS:

    rule identifiability_table:
        """Per population and method (k-means, GMM and, with identifiability.december, DECEMber): ARI with the
        planted types at the true K, ARI across seeds over K and whether it peaks at the true K."""
        input:
            labels=[LABELS.format(variant=p.variant, seed=s) for p in POPULATIONS for s in IDENTIFIABILITY["seeds"]],
            truth=ground_truth_files([p.mouse for p in POPULATIONS]),
            december=[f"{run.folder(RESULTS)}/clusters.npz" for run in DEC_POPULATION_RUNS.values()],
        output:
            summary=IDENTIFIABILITY_TABLE,
            curves=IDENTIFIABILITY_CURVES,
        params:
            populations=identifiability.population_params(POPULATIONS),
            seeds=IDENTIFIABILITY["seeds"],
            true_k=identifiability.true_k(config),
            peak_margin=IDENTIFIABILITY["peak_margin"],
            december_runs=[{"variant": r.variant, "k": r.k, "seed": r.seed} for r in DEC_POPULATION_RUNS.values()],
        log:
            f"{LOGS}/identifiability_table.log",
        localrule: True
        conda:
            CPU_ENV
        script:
            "../scripts/identifiability_table.py"
