"""What a GPU job meets on a cluster, run through Snakemake on the tiny config: `device: cuda` on a node
without a GPU, and SLURM's SIGUSR1 before the time limit (v1twin.walltime)."""
import os
import subprocess
import time

import pandas as pd
import pytest
import torch

from v1twin import walltime

from conftest import REPO, run_snakemake, snakemake_call

pytestmark = pytest.mark.slow

LONG_TRAINING = REPO / "tests" / "config" / "walltime.yaml"  # variants `stopped` and `uninterrupted`


def test_device_cuda_on_a_node_without_cuda_fails_at_once_naming_the_node(tiny_workdir):
    model_dir = tiny_workdir / "results" / "tiny" / "models" / "stopped" / "seed2"
    log = tiny_workdir / "results" / "tiny" / "logs" / "training_run" / "stopped" / "seed2.log"
    result = run_snakemake(tiny_workdir, str(model_dir.relative_to(tiny_workdir) / "model.pt"),
                           configs=(LONG_TRAINING,), options=("--config", "device=cuda"), check=False)
    assert result.returncode != 0
    text = log.read_text()
    assert "the config asks for device: cuda, but CUDA is not available on node" in text
    assert "(CUDA_VISIBLE_DEVICES=," in text  # conftest hides every GPU
    assert "parameters, device" not in text, "the job went on to load the data and build the model"
    assert not model_dir.exists() or not any(model_dir.iterdir())


def test_stop_signal_checkpoints_training_and_the_retry_ends_as_an_uninterrupted_run(tiny_workdir):
    models = tiny_workdir / "results" / "tiny" / "models"
    target = "results/tiny/models/{}/seed1/model.pt"
    run_snakemake(tiny_workdir, target.format("uninterrupted"), configs=(LONG_TRAINING,))

    state = models / "stopped" / "seed1" / "training_state.pt"
    call = snakemake_call(tiny_workdir, target.format("stopped"), configs=(LONG_TRAINING,))
    # a session of its own, signalled as a whole: SLURM signals every process of the job step
    with subprocess.Popen(**call, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True) as snakemake:
        deadline = time.monotonic() + 300
        while not state.exists():  # written after the first epoch
            assert snakemake.poll() is None and time.monotonic() < deadline, "no checkpoint before the job ended"
            time.sleep(0.05)
        os.killpg(snakemake.pid, walltime.SIGNAL)
        output, _ = snakemake.communicate(timeout=300)
    assert snakemake.returncode != 0, output
    assert f"exit status {walltime.EXIT_STATUS}" in output
    log = tiny_workdir / "results" / "tiny" / "logs" / "training_run" / "stopped" / "seed1.log"
    assert "stop requested (SIGUSR1: time limit near); checkpoint written in epoch" in log.read_text()
    assert state.exists() and not (models / "stopped" / "seed1" / "model.pt").exists()

    run_snakemake(tiny_workdir, target.format("stopped"), configs=(LONG_TRAINING,))  # the retry
    assert " and step " in log.read_text().split("resumed from")[-1].splitlines()[0]  # resumed mid-epoch
    stopped, reference = (torch.load(models / name / "seed1" / "model.pt", weights_only=True)
                          for name in ("stopped", "uninterrupted"))
    for key, value in reference["state_dict"].items():
        assert torch.equal(value, stopped["state_dict"][key]), key
    histories = [pd.read_csv(models / name / "seed1" / "training_log.csv").drop(columns="seconds")
                 for name in ("stopped", "uninterrupted")]
    pd.testing.assert_frame_equal(*histories)
