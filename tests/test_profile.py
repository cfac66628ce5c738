"""profiles/slurm on the paper plan, read from dry runs (no scheduler needed).

The profile says where a job runs (partition, GPU, CPUs, the signal before the time limit); time and
memory are the rules' own. Short CPU jobs are local or grouped, so the plan submits one sbatch job
per GPU job and few others. Every job sent to the cluster writes a benchmark.
"""
import re
import subprocess
from dataclasses import dataclass

import pytest
import yaml

from conftest import REPO, SNAKEMAKE
from helpers import PROFILE, RULE_FILES, TEST_PROFILE, gpu_rules_in_workflow, profile_settings, rule_blocks

PAPER_CONFIG = REPO / "config" / "paper.yaml"
# `rule <name>:` and its indented fields; jobs of a group job are printed indented by 4 more spaces
JOB = re.compile(r"^( *)rule (\w+):\n((?:\1    .*\n)+)", re.MULTILINE)


@dataclass
class Job:
    rule: str
    output: str
    resources: dict[str, str]
    benchmark: str | None
    grouped: bool  # part of a group job


@dataclass
class Plan:
    jobs: list[Job]
    group_jobs: int


def dry_run(workdir, *options: str) -> Plan:
    """The paper plan as `snakemake -n` prints it (targets before --configfile, which takes several files)."""
    command = [SNAKEMAKE, "all_figures", "-n", "--snakefile", REPO / "Snakefile", "--directory", workdir,
               *options, "--configfile", PAPER_CONFIG]
    result = subprocess.run(list(map(str, command)), capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    jobs = []
    for indent, rule, body in JOB.findall(result.stdout):
        fields = dict(re.findall(r"^ +(\w+): (.*)$", body, flags=re.MULTILINE))
        resources = dict(item.split("=", 1) for item in fields["resources"].split(", "))
        jobs.append(Job(rule, fields.get("output", ""), resources, fields.get("benchmark"), bool(indent)))
    return Plan(jobs, len(re.findall(r"^\S.* Group job \w+", result.stdout, flags=re.MULTILINE)))


@pytest.fixture(scope="module")
def plans(tmp_path_factory) -> tuple[Plan, Plan]:
    """The paper plan under profiles/slurm, and without a profile (the rules' own resources)."""
    workdir = tmp_path_factory.mktemp("paper_plan")
    return dry_run(workdir, "--profile", str(PROFILE)), dry_run(workdir)


def _is_local(block: str) -> bool:
    return bool(re.search(r"localrule:\s*True", block) or not re.search(r"^\s+(script|shell|run):", block, re.M))


def local_rules() -> set[str]:
    """Rules that run in the Snakemake process itself: `localrule: True`, or nothing to run (all_figures)."""
    blocks = rule_blocks([REPO / "Snakefile", *RULE_FILES])
    return {name for name, block in blocks.items() if _is_local(block)}


def local_rule_prefixes() -> tuple[str, ...]:
    """Name prefixes of the local rules made in a loop (`rule:` + `name: f"figure_{...}"`, figures.smk)."""
    loops = re.findall(r'^( *)rule:\n +name:\n +f"(\w+?)\{[^}]*\}"\n((?:\1    .*\n|\n)+)',
                       "".join(path.read_text() for path in RULE_FILES), flags=re.M)
    return tuple(prefix for _, prefix, block in loops if _is_local(block))


def is_local(rule: str) -> bool:
    return rule in local_rules() or rule.startswith(local_rule_prefixes())


def test_submitted_jobs_keep_their_rules_time_and_memory(plans):
    with_profile, without = plans
    own = {(job.rule, job.output): job.resources for job in without.jobs}
    submitted = [job for job in with_profile.jobs if not is_local(job.rule)]
    assert len(submitted) > 500
    for job in submitted:
        expected = own[job.rule, job.output]
        assert (job.resources["runtime"], job.resources["mem_mb"]) == (expected["runtime"], expected["mem_mb"]), job
    # insilico_gabor_search sizes its time limit per model: 1 h for a Gaussian readout, 8 h for a factorized one
    assert {job.resources["runtime"] for job in submitted if job.rule == "insilico_gabor_search"} == {"60", "480"}


def test_gpu_jobs_go_to_the_gpu_partition_and_are_warned_before_their_time_limit(plans):
    gpu_partition = profile_settings()["set-resources"]["training_run"]["slurm_partition"]
    gpu_jobs = [job for job in plans[0].jobs if job.resources.get("gpu") == "1"]
    assert {job.rule for job in gpu_jobs} == gpu_rules_in_workflow()
    for job in gpu_jobs:
        assert job.resources["slurm_partition"] == gpu_partition, job
        assert job.resources["slurm_extra"] == "--signal=USR1@300", job


def test_the_paper_plan_submits_few_jobs_besides_the_gpu_jobs(plans):
    plan = plans[0]
    alone = [job for job in plan.jobs if not job.grouped and not is_local(job.rule)]
    gpu_jobs = [job for job in alone if job.resources.get("gpu") == "1"]
    sbatch_jobs = len(alone) + plan.group_jobs
    print(f"paper plan under profiles/slurm: {len(plan.jobs)} jobs, {sbatch_jobs} sbatch jobs, {len(gpu_jobs)} on GPUs")
    # measured before the CPU analysis was grouped: 748 jobs, 704 sbatch jobs, 458 on GPUs; now 1316 jobs,
    # 1013 sbatch jobs, 961 on GPUs. The CPU analysis goes 3 models per sbatch job (group-components);
    # besides it, one data job per mouse to simulate or cache, and a handful of table jobs.
    analysed_models = sum(job.rule == "clustering_labels" for job in plan.jobs)
    assert plan.group_jobs <= analysed_models / 3 + 2
    data_jobs = [job for job in alone if job.rule in ("data_simulate", "data_cache")]
    # the real mice's caches (7 static, 10 video); the simulated populations and their caches
    assert len(data_jobs) == 7 + 10 + 7 + 7
    assert len(alone) - len(gpu_jobs) - len(data_jobs) <= 8
    assert {job.rule for job in plan.jobs if job.grouped} == {
        "clustering_labels", "clustering_kmeans_reruns", "clustering_tsne", "december_tsne",
        "regularization_control_measures"}
    # the login node runs the local jobs: each asks for the profile's default memory at most
    default_mb = profile_settings()["default-resources"]["mem_mb"]
    assert all(int(job.resources["mem_mb"]) <= default_mb for job in plan.jobs if is_local(job.rule))


def test_every_job_sent_to_the_cluster_writes_a_benchmark(plans):
    dataset = yaml.safe_load(PAPER_CONFIG.read_text())["dataset"]["name"]
    for job in plans[0].jobs:
        if not is_local(job.rule):
            assert (job.benchmark or "").startswith(f"results/{dataset}/benchmarks/{job.rule}"), job


def test_gpu_rules_require_cuda_on_the_cluster_but_not_on_the_test_cluster():
    assert profile_settings()["config"] == ["device=cuda"]
    # the single-node test cluster advertises a GPU without CUDA (tests/slurm/gres.conf.in)
    assert yaml.safe_load((TEST_PROFILE / "config.yaml").read_text())["config"] == ["device=cpu"]
    assert profile_settings()["local-cores"] <= 2  # the login node is shared
