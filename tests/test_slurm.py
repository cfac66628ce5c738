"""profiles/slurm against a real scheduler: a single-node SLURM on 127.0.0.1 with one fake GPU.

The first two tests read the profile and dry-run it; they run everywhere. The scheduler tests need
root and the Debian packages of tests/slurm/install.sh (`make test` installs them when it runs as
root with apt); elsewhere they skip and say why. They share one scheduler session: the tiny config
is run through `--profile profiles/slurm` (plus tests/slurm/profile: polling, threads, device=cpu), and
one training job gets SLURM's time-limit warning (SIGUSR1) after its first epoch, to check that it
checkpoints mid-epoch and stops, and that its retry resumes from that step.
Every command runs under `timeout -k 30 N`; the daemons are stopped by PID at the end, always.
"""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from v1twin import walltime

from conftest import REPO, SNAKEMAKE, TINY_CONFIG
from helpers import PROFILE, TEST_PROFILE, gpu_rules_in_workflow, profile_settings

SCRIPTS = REPO / "tests" / "slurm"
SLOW_TRAINING = SCRIPTS / "slow_training.yaml"
RULES = REPO / "workflow" / "rules"
GAUSSIAN_MODEL = Path("results/tiny/models/gaussian_g0/seed1")
SLOW_MODEL = Path("results/tiny/models/slow/seed1")
SLOW_JOB_COMMENT = "rule_training_run_wildcards_slow_1"  # the plugin's sbatch --comment
SLURM_COMMANDS = ("munged", "mariadbd", "mariadb-install-db", "slurmdbd", "slurmctld", "slurmd",
                  "sbatch", "sacct", "squeue", "scancel")
WORKFLOW_SECONDS = 330  # measured ~150 s on 2 busy cores


def requests_gpu(resources: dict) -> bool:
    return resources.get("gpu", 0) >= 1 or "gpu" in str(resources.get("gres", ""))


def expected_partition(settings: dict, rule: str) -> str:
    default = settings["default-resources"]["slurm_partition"]
    return settings["set-resources"].get(rule, {}).get("slurm_partition", default)


def bounded(command: list[str], seconds: int, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run a command under `timeout -k 30 seconds` (and a Python backstop): nothing here may hang."""
    return subprocess.run(["timeout", "-k", "30", str(seconds), *map(str, command)], capture_output=True,
                          text=True, env=env, timeout=seconds + 60)


# ----------------------------------------------------------------------------------------------
# The profile itself (no scheduler needed)


def test_every_gpu_rule_gets_a_gpu_node_in_the_profile():
    gpu_rules = gpu_rules_in_workflow()
    assert "training_run" in gpu_rules
    settings = profile_settings()
    for rule in gpu_rules:
        resources = settings["set-resources"].get(rule)
        assert resources is not None, f"GPU rule {rule} has no entry under set-resources in {PROFILE}"
        assert requests_gpu(resources), f"{rule} gets no GPU in {PROFILE}"
        assert {"slurm_partition", "cpus_per_task"} <= set(resources), rule
        assert not {"mem_mb", "runtime"} & set(resources), f"{rule}: time and memory are the rule's own"
    for rule, resources in settings["set-resources"].items():
        assert not requests_gpu(resources) or rule in gpu_rules, f"{rule} gets a GPU it does not declare"


def test_profile_parses_and_maps_rules_in_a_dry_run(tmp_path):
    result = bounded([SNAKEMAKE, "--snakefile", REPO / "Snakefile", "--directory", tmp_path, "--configfile",
                      TINY_CONFIG, "--profile", PROFILE, "-n", "all_figures"], 120)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    planned = re.findall(r"^rule (\w+):\n(?:    .*\n)*?    resources: (.*)$", result.stdout, flags=re.M)
    settings = profile_settings()
    gpu_rules = gpu_rules_in_workflow()
    assert {rule for rule, _ in planned} >= {"data_simulate", "data_cache", "training_run"}
    for rule, resources in planned:
        assert f"slurm_partition={expected_partition(settings, rule)}," in resources + ",", (rule, resources)
        gets_gpu = re.search(r"\b(gpu=[1-9]|gres=gpu)", resources) is not None
        assert gets_gpu == (rule in gpu_rules), (rule, resources)


# ----------------------------------------------------------------------------------------------
# A real scheduler


@dataclass
class ClusterRun:
    """What one Snakemake run under SLURM left behind."""

    workdir: Path
    returncode: int
    log: str
    jobs: list[dict[str, str]]  # sacct rows of the submitted jobs, in submission order


def missing_prerequisite() -> str | None:
    """Why the scheduler tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root to run munge, MariaDB and the SLURM daemons"
    sbin_path = f"{os.environ['PATH']}:/usr/sbin:/sbin"
    missing = [command for command in SLURM_COMMANDS if shutil.which(command, path=sbin_path) is None]
    if missing:
        return f"SLURM packages missing ({', '.join(missing)}): run `make slurm-deps` as root on Debian"
    return None


def node_size(settings: dict) -> tuple[int, int]:
    """CPUs and MB the test node offers: the machine's, or the largest request in the profile and rules."""
    requests = [settings["default-resources"], *settings["set-resources"].values()]

    def largest(key: str, machine: int) -> int:
        return max([machine, *(r[key] for r in requests if isinstance(r.get(key), int))])

    machine_mb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20 - 1024
    rules_mb = [int(mb) for path in RULES.glob("*.smk") for mb in re.findall(r"\bmem_mb=(\d+)", path.read_text())]
    return largest("cpus_per_task", os.cpu_count() or 1), max(largest("mem_mb", machine_mb), *rules_mb)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cluster_environment(cluster_dir: Path, settings: dict) -> dict[str, str]:
    """Variables of tests/slurm/start.sh and of every SLURM client afterwards."""
    cpus, memory_mb = node_size(settings)
    partitions = [settings["default-resources"]["slurm_partition"]]
    partitions += [r["slurm_partition"] for r in settings["set-resources"].values() if "slurm_partition" in r]
    return {
        **os.environ,
        "PATH": f"{SNAKEMAKE.parent}:{os.environ['PATH']}",
        "OMP_NUM_THREADS": "1",
        "SLURM_CONF": str(cluster_dir / "slurm.conf"),
        "SLURM_TEST_PARTITIONS": " ".join(dict.fromkeys(partitions)),
        "SLURM_TEST_ACCOUNT": str(settings["default-resources"].get("slurm_account", "")),
        "SLURM_TEST_CPUS": str(cpus),
        "SLURM_TEST_MEMORY_MB": str(memory_mb),
        "SLURM_TEST_DB_PORT": str(free_port()),
    }


def warn_of_time_limit_after_first_epoch(snakemake: subprocess.Popen, workdir: Path, env: dict) -> None:
    """Once the slow training job has checkpointed an epoch, send it what `--signal=USR1@300` sends
    5 minutes before its time limit, without waiting hours for one.

    `scancel --signal` without `--batch`/`--full` signals every process of the job's steps, like
    `--signal` without `B:`: the plugin's `srun` step (the job's Snakemake, its shell, the rule's
    script), not the batch shell. The job is only signalled, not cancelled: plugin 2.8 would wait for
    a cancelled job forever (see profiles/slurm).
    """
    checkpoint = workdir / SLOW_MODEL / "training_state.pt"
    deadline = time.monotonic() + WORKFLOW_SECONDS
    while not checkpoint.exists():
        if snakemake.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("the slow training job never wrote a checkpoint")
        time.sleep(0.5)
    queue = bounded(["squeue", "-h", "-o", "%i %k"], 30, env)
    job_ids = [line.split()[0] for line in queue.stdout.splitlines() if line.endswith(" " + SLOW_JOB_COMMENT)]
    assert len(job_ids) == 1, f"no single running job {SLOW_JOB_COMMENT} in the queue:\n{queue.stdout}{queue.stderr}"
    warning = bounded(["scancel", "--signal=USR1", job_ids[0]], 30, env)
    assert warning.returncode == 0, warning.stderr


def submitted_jobs(log: str, env: dict) -> list[dict[str, str]]:
    """The accounting records of every job Snakemake says it submitted."""
    job_ids = re.findall(r"has been submitted with SLURM jobid (\d+)", log)
    if not job_ids:
        return []
    fields = ["JobID", "Comment", "Partition", "ReqTRES", "State", "Timelimit"]
    result = bounded(["sacct", "-X", "-n", "-P", "-j", ",".join(job_ids), "-o", ",".join(fields)], 30, env)
    assert result.returncode == 0, result.stderr
    rows = [dict(zip(fields, line.split("|"))) for line in result.stdout.splitlines()]
    return sorted(rows, key=lambda row: int(row["JobID"]))


def run_workflow_with_a_stopped_job(workdir: Path, env: dict) -> ClusterRun:
    """Two models and their data under the shipped profile; the slow one is stopped once, mid-training."""
    command = [
        "timeout", "-k", "30", str(WORKFLOW_SECONDS), SNAKEMAKE, "--snakefile", REPO / "Snakefile",
        "--directory", workdir, "--configfile", TINY_CONFIG, SLOW_TRAINING,
        "--profile", PROFILE, "--profile", TEST_PROFILE,
        GAUSSIAN_MODEL / "metrics.json", SLOW_MODEL / "metrics.json",
    ]
    log_path = workdir / "snakemake.log"
    with open(log_path, "w") as log, subprocess.Popen(list(map(str, command)), cwd=workdir, env=env,
                                                      stdout=log, stderr=subprocess.STDOUT) as snakemake:
        try:
            warn_of_time_limit_after_first_epoch(snakemake, workdir, env)
            returncode = snakemake.wait(timeout=WORKFLOW_SECONDS + 60)
        finally:
            if snakemake.poll() is None:
                snakemake.terminate()
                snakemake.wait(timeout=60)
    log = log_path.read_text()
    return ClusterRun(workdir, returncode, log, submitted_jobs(log, env))


@pytest.fixture(scope="module")
def cluster_run(tmp_path_factory) -> ClusterRun:
    reason = missing_prerequisite()
    if reason:
        pytest.skip(reason)
    settings = profile_settings()
    cluster_dir = Path(tempfile.mkdtemp(prefix="v1twin-slurm-"))
    cluster_dir.chmod(0o755)  # MariaDB runs as user mysql inside it
    env = cluster_environment(cluster_dir, settings)
    try:
        started = bounded([SCRIPTS / "start.sh", cluster_dir], 120, env)
        if started.returncode != 0:
            pytest.skip(f"the single-node SLURM did not come up: {started.stderr.strip()[-1500:]}")
        yield run_workflow_with_a_stopped_job(tmp_path_factory.mktemp("slurm_workflow"), env)
    finally:
        stopped = bounded([SCRIPTS / "stop.sh", cluster_dir], 120, env)
        shutil.rmtree(cluster_dir, ignore_errors=True)
        assert stopped.returncode == 0, f"stopping the test cluster failed: {stopped.stderr}"


def limit_minutes(limit: str) -> int:
    """sacct's Timelimit, [D-]HH:MM:SS, in minutes."""
    days, _, clock = limit.rpartition("-")
    hours, minutes, _ = clock.split(":")
    return int(days or 0) * 24 * 60 + int(hours) * 60 + int(minutes)


def jobs_of_rule(run: ClusterRun, rule: str) -> list[dict[str, str]]:
    return [job for job in run.jobs if job["Comment"].startswith(f"rule_{rule}_wildcards_")]


@pytest.mark.timeout(480)
def test_workflow_completes_on_the_cluster(cluster_run):
    assert cluster_run.returncode == 0, cluster_run.log[-6000:]
    for model in (GAUSSIAN_MODEL, SLOW_MODEL):
        for name in ("model.pt", "metrics.json", "training_log.csv"):
            assert (cluster_run.workdir / model / name).is_file(), model / name
        assert not (cluster_run.workdir / model / "training_state.pt").exists()
    # data jobs and training jobs went through sbatch; tables and figures would stay local
    submitted = {job["Comment"].split("_wildcards_")[0] for job in cluster_run.jobs}
    assert submitted == {"rule_data_simulate", "rule_data_cache", "rule_training_run"}


@pytest.mark.timeout(480)
def test_gpu_rules_request_a_gpu_and_cpu_rules_do_not(cluster_run):
    settings = profile_settings()
    gpu_rules = gpu_rules_in_workflow()
    assert jobs_of_rule(cluster_run, "training_run"), "no training job was submitted"
    for job in cluster_run.jobs:
        rule = job["Comment"].removeprefix("rule_").split("_wildcards_")[0]
        assert job["Partition"] == expected_partition(settings, rule), job
        if rule in gpu_rules:
            assert "gres/gpu=1" in job["ReqTRES"], job
        else:
            assert "gres/gpu" not in job["ReqTRES"], job


@pytest.mark.timeout(480)
def test_training_job_warned_of_its_time_limit_stops_and_its_retry_resumes_mid_epoch(cluster_run):
    attempts = [job for job in cluster_run.jobs if job["Comment"] == SLOW_JOB_COMMENT]
    assert [job["State"] for job in attempts] == ["FAILED", "COMPLETED"], attempts
    first, retry = (limit_minutes(job["Timelimit"]) for job in attempts)
    assert retry > first, "the retry gets more time than the attempt that was stopped"

    # the first attempt's SLURM log: its Snakemake outlived the signal and reports the script's status
    slurm_log = re.search(rf"SLURM jobid {attempts[0]['JobID']} \(log: (\S+)\)", cluster_run.log)
    assert slurm_log, cluster_run.log[-6000:]
    stopped_job = (cluster_run.workdir / slurm_log.group(1)).read_text()
    assert f"returned non-zero exit status {walltime.EXIT_STATUS}." in stopped_job, stopped_job[-3000:]
    # the first attempt's rule log, which the retry deletes, as `show-failed-logs` (profiles/slurm) showed it
    stopped = re.search(r"stop requested \(SIGUSR1: time limit near\); checkpoint written in epoch (\d+) "
                        r"after step (\d+) ", cluster_run.log)
    assert stopped, cluster_run.log[-6000:]
    log = (cluster_run.workdir / "results/tiny/logs/training_run/slow/seed1.log").read_text()
    resumed = re.search(r"resumed from \S+training_state\.pt after epoch (\d+) and step (\d+) of epoch (\d+)", log)
    assert resumed, log
    epoch, step = map(int, stopped.groups())
    assert tuple(map(int, resumed.groups())) == (epoch - 1, step, epoch), "the retry resumes where the stop was"
    max_epochs = yaml.safe_load(SLOW_TRAINING.read_text())["variants"]["slow"]["training"]["max_epochs"]
    history = (cluster_run.workdir / SLOW_MODEL / "training_log.csv").read_text().splitlines()
    epochs = [int(line.split(",")[0]) for line in history[1:]]
    assert epochs == list(range(1, max_epochs + 1)), "the history of both attempts, every epoch once"
