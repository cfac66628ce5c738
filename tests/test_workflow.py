"""The workflow as a whole: it plans, lints clean, and refuses a bad config before running anything."""
import re
import subprocess

import pytest
import yaml

from conftest import REPO, SNAKEMAKE, TINY_CONFIG, run_snakemake


def _dry_run(workdir, configfile, *args):
    command = [str(SNAKEMAKE), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
               "--configfile", str(configfile), "-n", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def _planned_jobs(stdout: str) -> dict[str, int]:
    """Job counts per rule from the dry-run summary table."""
    return {rule: int(count) for rule, count in re.findall(r"^(\w+)\s+(\d+)$", stdout, flags=re.M) if rule != "total"}


def test_demo_config_plans_all_figures(tmp_path):
    result = _dry_run(tmp_path, REPO / "config" / "config.yaml", "all_figures")
    assert result.returncode == 0, result.stderr
    jobs = _planned_jobs(result.stdout)
    # sim1, sim2, the continuum control, DECEMber's retina-style mouse, the 6 identifiability populations and
    # the video mouse vid1
    assert jobs["data_simulate"] == 4 + 6 + 1 and jobs["data_cache"] == 4 + 6 + 1
    # 5 study variants on sim1 x 3 seeds, the 2 continuum controls x 3 seeds, DECEMber's CNN and its
    # retina-style variant (2 seeds each), the factorized sweep (3 x 2 seeds), the adaptive grid (3 x 3 x 2
    # seeds), the two core-regularizer sweeps (2 x 3 x 2 seeds), the continuum's L1 points (2 x 3 seeds),
    # the identifiability populations (6 x 2 seeds) and the 4 video models (2 seeds each)
    assert jobs["training_run"] == 5 * 3 + 2 * 3 + 2 * 2 + 3 * 2 + 9 * 2 + 2 * 3 * 2 + 2 * 3 + 6 * 2 + 4 * 2 == 87
    assert jobs["figure_tsne_landscape_video"] == jobs["figure_ari_planted_types_video"] == 1


def test_paper_config_plans_download_and_cache_of_its_mice(tmp_path):
    result = _dry_run(tmp_path, REPO / "config" / "paper.yaml", "all_figures")
    assert result.returncode == 0, result.stderr
    jobs = _planned_jobs(result.stdout)
    # the seven static and ten video real mice are downloaded; the 7 identifiability populations are simulated
    assert jobs["data_download"] == 7 + 10 and jobs["data_simulate"] == 7 and jobs["data_cache"] == 7 + 10 + 7
    # L25 Fig. 4 on the real videos: no ground truth, so no planted-type figure
    assert jobs["figure_tsne_landscape_video"] == 1 and "figure_ari_planted_types_video" not in jobs
    assert "resources/sensorium2022/identifiability_12.ground_truth.npz" in result.stdout
    for mouse in ("26872-17-20", "27204-5-13", "21067-10-18", "22846-10-16", "23343-5-17", "23656-14-22", "23964-4-22"):
        assert f"resources/sensorium2022/{mouse}.cache" in result.stdout


def test_paper_config_plans_download_and_cache_of_the_ten_video_mice(tmp_path):
    """The ten Sensorium 2023 mice (their URLs: tests/test_config.py) download beside the static ones."""
    mice = ("29156-11-10", "29228-2-10", "29234-6-9", "29513-3-5", "29514-2-9",
            "29515-10-12", "29623-4-9", "29647-19-8", "29712-5-9", "29755-2-8")
    result = _dry_run(tmp_path, REPO / "config" / "paper.yaml", *(f"resources/sensorium2022/{m}.cache" for m in mice))
    assert result.returncode == 0, result.stderr
    assert _planned_jobs(result.stdout) == {"data_download": 10, "data_cache": 10}
    for mouse in mice:
        assert f"wildcards: mouse={mouse}" in result.stdout


def test_lint_is_clean():
    result = subprocess.run([str(SNAKEMAKE), "--lint"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda c: c["variants"]["gaussian_g0"]["readout"].update(gama=1.0), "gama"),
        (lambda c: c["training"].update(lr="fast"), "fast"),
        (lambda c: c.update(seed=[1]), "seed"),
        (lambda c: c["dataset"].update(source="ftp"), "ftp"),
        (lambda c: c["sweeps"]["factorized_gamma"].update(base="factorised"), "factorised"),
        (lambda c: c["sweeps"]["factorized_gamma"].update(parameter="readout.gama"), "did you mean 'gamma'"),
        (lambda c: c["sweeps"]["factorized_gamma"].update(values=["0.1"]), "'0.1' is not of type 'number'"),
        (lambda c: c["pruning"].update(variants=["gausian_g0"]), "pruning.variants: 'gausian_g0'"),
    ],
)
def test_config_mistakes_fail_before_any_job_runs(tmp_path, edit, expected):
    config = yaml.safe_load(TINY_CONFIG.read_text())
    edit(config)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = run_snakemake(tmp_path, "all_figures", configs=(bad,), check=False)
    assert result.returncode != 0
    assert expected in result.stderr + result.stdout
    assert not (tmp_path / "resources").exists() and not (tmp_path / "results").exists()


def test_a_top_level_typo_gets_one_short_message(tmp_path):
    config = yaml.safe_load(TINY_CONFIG.read_text())
    config["seed"] = config.pop("seeds")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = _dry_run(tmp_path, bad, "all_figures")
    assert result.returncode != 0
    message = (result.stdout + result.stderr).strip()
    assert message.startswith("Config error: unknown config key 'seed' at the top level; did you mean 'seeds'?")
    assert len(message.splitlines()) == 1


def test_a_small_config_changes_only_its_keys_over_its_base(tmp_path):
    small = tmp_path / "small.yaml"
    small.write_text("base: tests/config/tiny.yaml\ntraining:\n  lr: 0.02\n")
    planned = _dry_run(tmp_path, small, "all_figures")
    assert planned.returncode == 0, planned.stderr
    assert _planned_jobs(planned.stdout) == _planned_jobs(_dry_run(tmp_path, TINY_CONFIG, "all_figures").stdout)
    without_base = tmp_path / "without_base.yaml"
    without_base.write_text("training:\n  lr: 0.02\n")
    refused = _dry_run(tmp_path, without_base, "all_figures")
    assert refused.returncode != 0 and "start FILE with `base: config/config.yaml`" in refused.stdout + refused.stderr
