# Input data: simulate or download each mouse, then convert it once into a memory-mappable cache.
# The extra mice (controls, identifiability populations) and the simulated video mice are simulated
# beside downloaded ones too.


if SIMULATED_MICE:

    rule data_simulate:
        """A simulated mouse with its ground truth: a static mouse in the Sensorium 2022 file layout, a
        video mouse (dataset.video_mice) in the Sensorium 2023 one."""
        wildcard_constraints:
            mouse="|".join(map(re.escape, SIMULATED_MICE)),
        output:
            mouse=directory(f"{RESOURCES}/{{mouse}}"),
            truth=f"{RESOURCES}/{{mouse}}.ground_truth.npz",
        params:
            layout=lambda wc: "dynamic" if wc.mouse in VIDEO_MICE else "static",
            simulation=lambda wc: mouse_simulation(DATASET, wc.mouse),
            stimulus_seed=lambda wc: simulation_seeds(config, wc.mouse)[1],
            seed=lambda wc: simulation_seeds(config, wc.mouse)[0],
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


if DOWNLOAD_URLS:

    rule data_download:
        """One Sensorium mouse (2022 images or 2023 videos): streamed, checksummed, unzipped and validated."""
        wildcard_constraints:
            mouse="|".join(map(re.escape, DOWNLOAD_URLS)),
        output:
            directory(f"{RESOURCES}/{{mouse}}"),
        params:
            url=lambda wc: DOWNLOAD_URLS[wc.mouse],
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
