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
    entries = yaml.safe_load(path.read_text())["dependencies"]
    return dict(entry.split("=", 1) for entry in entries if isinstance(entry, str) and "=" in entry)


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
