"""The conda environment used on clusters pins the same versions as pyproject.toml."""
import re
import tomllib

import yaml

from conftest import REPO

# conda-forge names of the PyPI packages where they differ
CONDA_NAMES = {"torch": "pytorch", "opentsne": "opentsne"}
# they run Snakemake itself, not the jobs: not needed inside the jobs' environment
WORKFLOW_ONLY = {"snakemake", "snakemake-executor-plugin-slurm"}


def _pyproject_pins() -> dict[str, str]:
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = dict(re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", dependency).groups() for dependency in dependencies)
    return {name.lower(): version for name, version in pins.items()}


def _conda_pins(path) -> dict[str, str]:
    """name -> version of every `name=version[=build]` entry."""
    entries = yaml.safe_load(path.read_text())["dependencies"]
    return dict(entry.split("=")[:2] for entry in entries if isinstance(entry, str) and "=" in entry)


def test_every_dependency_is_pinned_exactly():
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    assert all("==" in dependency for dependency in dependencies), dependencies


def test_conda_environments_pin_the_same_versions_as_pyproject():
    expected = {CONDA_NAMES.get(name, name): version for name, version in _pyproject_pins().items()
                if name not in WORKFLOW_ONLY}
    for path in sorted((REPO / "envs").glob("*.yaml")):
        pins = _conda_pins(path)
        assert pins.get("python") == "3.11", path
        pins.pop("python")
        assert pins == expected, f"{path.name} differs from pyproject.toml"


def _rule_blocks() -> dict[str, str]:
    """rule name -> its text, from every rule file."""
    blocks = {}
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"(?m)^(?=[ \t]*rule \w+:)", path.read_text())[1:]:
            blocks[re.match(r"[ \t]*rule (\w+):", block).group(1)] = block
    return blocks


def test_gpu_rules_use_the_cuda_environment_and_the_others_the_cpu_one():
    blocks = _rule_blocks()
    assert len(blocks) > 20
    for name, block in blocks.items():
        expected = "GPU_ENV" if re.search(r"gpu\s*=\s*1", block) else "CPU_ENV"
        assert re.search(rf"conda:\s*{expected}\b", block), f"rule {name} should use {expected}"


def test_environments_differ_only_in_the_torch_build():
    cpu, gpu = (yaml.safe_load((REPO / "envs" / f"{name}.yaml").read_text())["dependencies"] for name in ("cpu", "gpu"))
    assert [entry for entry in cpu if "pytorch" not in str(entry)] == [entry for entry in gpu if "pytorch" not in str(entry)]
    assert "pytorch=2.13.0=cpu*" in cpu and "pytorch=2.13.0=cuda*" in gpu
