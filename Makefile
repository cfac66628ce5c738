# Two entry points: `make demo` and `make test`. Both create the environment when it is missing.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= 2

.PHONY: demo test report results-doc slurm-deps dryrun clean-results

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/snakemake --profile profiles/local --cores $(CORES) all_figures

# The HTML report of the demo: every figure with its caption (runs the demo first if needed).
report: demo
	$(BIN)/snakemake all_figures --report results/simulated/report.html
	@echo "open results/simulated/report.html"

# docs/results.md is the demo's results page, written by rule results_summary (part of `make demo`).
results-doc:
	cp results/simulated/results.md docs/results.md

test: $(STAMP) slurm-deps
	$(BIN)/python -m pytest -v --timeout=900 tests

# The scheduler test (tests/test_slurm.py) needs SLURM's Debian packages: installed here when running
# as root with apt (nothing is started). Anywhere else this step says why and that test skips.
slurm-deps:
	@tests/slurm/install.sh || echo "make slurm-deps: SLURM not installed, tests/test_slurm.py will skip its scheduler tests"

dryrun: $(STAMP)
	$(BIN)/snakemake -n all_figures

clean-results:
	rm -rf results/* .snakemake
