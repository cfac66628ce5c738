# Input data: simulate or download each mouse, then convert it once into a memory-mappable cache.
# The extra mice (controls, identifiability populations) are simulated beside downloaded ones too.


if SIMULATED_MICE:

    rule data_simulate:
        """A simulated mouse in the Sensorium 2022 file layout, with its ground truth."""
        wildcard_constraints:
            mouse="|".join(map(re.escape, SIMULATED_MICE)),
        output:
            mouse=directory(f"{RESOURCES}/{{mouse}}"),
            truth=f"{RESOURCES}/{{mouse}}.ground_truth.npz",
        params:
            simulation=lambda wc: {**DATASET["simulation"], **DATASET.get("extra_mice", {}).get(wc.mouse, {})},
            stimulus_seed=DATASET["simulation"]["seed"],
            seed=lambda wc: DATASET["simulation"]["seed"] + 1 + ALL_MICE.index(wc.mouse),
        log:
            f"{LOGS}/data_simulate/{{mouse}}.log",
        benchmark:
            f"{BENCHMARKS}/data_simulate/{{mouse}}.tsv"
        conda:
            CPU_ENV
        resources:
            mem_mb=8000,
            runtime=30,
        script:
            "../scripts/data_simulate.py"


if not SIMULATED:

    rule data_download:
        """One Sensorium 2022 mouse: streamed, checksummed, unzipped and validated."""
        wildcard_constraints:
            mouse="|".join(map(re.escape, MICE)),
        output:
            directory(f"{RESOURCES}/{{mouse}}"),
        params:
            url=lambda wc: download_url(wc.mouse),
            sha256=lambda wc: DATASET.get("sha256", {}).get(wc.mouse),
            retries=DATASET["retries"],
        log:
            f"{LOGS}/data_download/{{mouse}}.log",
        localrule: True  # compute nodes often have no internet access
        conda:
            CPU_ENV
        retries: 0
        script:
            "../scripts/data_download.py"


rule data_cache:
    """Read the one-file-per-trial tree once; every later job memory-maps the cache."""
    input:
        f"{RESOURCES}/{{mouse}}",
    output:
        directory(f"{RESOURCES}/{{mouse}}.cache"),
    log:
        f"{LOGS}/data_cache/{{mouse}}.log",
    benchmark:
        f"{BENCHMARKS}/data_cache/{{mouse}}.tsv"
    conda:
        CPU_ENV
    resources:
        mem_mb=16000,
        runtime=120,
    script:
        "../scripts/data_cache.py"
