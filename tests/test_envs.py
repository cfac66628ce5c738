"""The conda environments used on clusters: self-contained, pinned as in pyproject.toml, and the rule
scripts import the workflow's own package without it being installed."""
import re
import subprocess
import sys
import sysconfig
import tomllib

import yaml

from conftest import REPO
from helpers import rule_blocks

ENV_FILES = sorted((REPO / "envs").glob("*.yaml"))
SCRIPTS = REPO / "workflow" / "scripts"

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
    for path in ENV_FILES:
        pins = _conda_pins(path)
        assert pins.get("python") == "3.11", path
        pins.pop("python")
        assert pins == expected, f"{path.name} differs from pyproject.toml"


def test_gpu_rules_use_the_cuda_environment_and_the_others_the_cpu_one():
    blocks = rule_blocks()
    assert len(blocks) > 20
    for name, block in blocks.items():
        expected = "GPU_ENV" if re.search(r"gpu\s*=\s*1", block) else "CPU_ENV"
        assert re.search(rf"conda:\s*{expected}\b", block), f"rule {name} should use {expected}"


def test_environments_differ_only_in_the_torch_build():
    cpu, gpu = (yaml.safe_load((REPO / "envs" / f"{name}.yaml").read_text())["dependencies"] for name in ("cpu", "gpu"))
    assert ([entry for entry in cpu if "pytorch" not in str(entry)]
            == [entry for entry in gpu if "pytorch" not in str(entry)])
    assert "pytorch=2.13.0=cpu*" in cpu and "pytorch=2.13.0=cuda*" in gpu


def _dependency_entries(path) -> list[str]:
    """Every entry of an environment's dependencies, those of a `pip:` section included."""
    entries = []
    for entry in yaml.safe_load(path.read_text())["dependencies"]:
        entries += entry["pip"] if isinstance(entry, dict) else [entry]
    return entries


def test_environments_install_named_packages_only():
    """No `-e ..`, `.` or other path: Snakemake builds an env from a copy of its file in .snakemake/conda/."""
    assert len(ENV_FILES) == 2
    for path in ENV_FILES:
        for entry in _dependency_entries(path):
            assert re.fullmatch(r"[A-Za-z][\w.-]*(=[\w.*]+){0,2}", entry), f"{path.name}: {entry!r} is not a package"


def test_every_script_imports_the_package_through_the_workflow_folder():
    for script in sorted(SCRIPTS.glob("*.py")):
        if script.name == "package_path.py":
            continue
        imports = re.findall(r"(?m)^(?:from|import) (\w+)", script.read_text())
        assert "package_path" in imports, script.name
        assert imports.index("package_path") < imports.index("v1twin"), f"{script.name}: package_path after v1twin"


# Runs a rule script as Snakemake does: a copy of it with the global `snakemake` object and the
# script's own folder on sys.path (Snakemake's preamble adds that folder for local scripts).
RUN_AS_SNAKEMAKE = """
import runpy, sys
from pathlib import Path
from snakemake.iocontainers import InputFiles, Log, OutputFiles, Params, ResourceList, Snakemake, Wildcards

script, output, log = sys.argv[1:]
sys.path.append(str(Path(script).parent))
params = Params(fromdict={"stimuli": 300, "nu": 2.1})
snakemake = Snakemake(InputFiles(), OutputFiles([output]), params, Wildcards(), 1,
                      ResourceList(), Log([log]), {}, "december_toy", None, str(Path(script).parent))
runpy.run_path(script, init_globals={"snakemake": snakemake}, run_name="__main__")
"""


def test_a_rule_script_runs_where_the_package_is_not_installed(tmp_path):
    """A fresh venv sees this environment's third-party packages but not the editable install of v1twin
    (a path line in a .pth file adds a folder without running the .pth files inside it); a rule script
    still imports v1twin, from workflow/, and writes its output."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", tmp_path / "venv"], check=True)
    site_packages = next((tmp_path / "venv" / "lib").glob("python3.*/site-packages"))
    (site_packages / "third_party.pth").write_text(sysconfig.get_path("purelib") + "\n")
    python = tmp_path / "venv" / "bin" / "python"

    hidden = subprocess.run([python, "-c", "import numpy, snakemake, torch, v1twin"], capture_output=True, text=True,
                            check=False)
    assert "No module named 'v1twin'" in hidden.stderr, hidden.stderr

    output, log = tmp_path / "toy.npz", tmp_path / "toy.log"
    result = subprocess.run([python, "-c", RUN_AS_SNAKEMAKE, SCRIPTS / "december_toy.py", output, log],
                            capture_output=True, text=True, cwd=tmp_path, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert output.is_file()
