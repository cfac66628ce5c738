"""Code style, as configured in pyproject.toml: ruff for the Python code, snakefmt for the rule files.

The tools come from the test extras (pyproject.toml), installed beside the Python that runs the tests.
"""
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO

BIN = Path(sys.executable).parent


def run_tool(name: str, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / name), *arguments], cwd=REPO, capture_output=True, text=True, timeout=300)


def test_python_code_passes_ruff():
    result = run_tool("ruff", "check", "workflow", "tests", "benchmarks")
    assert result.returncode == 0, f"ruff check failed:\n{result.stdout}{result.stderr}"


def test_rule_files_are_formatted_with_snakefmt():
    result = run_tool("snakefmt", "--check", "workflow/rules", "Snakefile")
    assert result.returncode == 0, (
        f"snakefmt --check failed (run snakefmt workflow/rules Snakefile):\n{result.stdout}{result.stderr}"
    )


def snakemake_commands(text: str) -> list[str]:
    """Every snakemake command line quoted in a document (code blocks and `inline code`)."""
    pattern = r"(?:^[#\s]*|`)((?:[\w.=/-]+ )*(?:\.venv/bin/)?snakemake [^`\n]*)"
    return [match.strip() for match in re.findall(pattern, text, re.M)]


def test_documented_commands_name_their_targets_before_configfile():
    """`--configfile` reads every following word as a config file, so a target after it is lost."""
    for document in ("README.md", "config/README.md", "Snakefile", "profiles/slurm/config.yaml"):
        for command in snakemake_commands((REPO / document).read_text()):
            words = command.split("#")[0].split()
            if "--configfile" not in words:
                continue
            files = []
            for word in words[words.index("--configfile") + 1:]:
                if word.startswith("-"):
                    break
                files.append(word)
            assert files and all(word.endswith((".yaml", ".yml")) for word in files), f"{document}: {command}"
