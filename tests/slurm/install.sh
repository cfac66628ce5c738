#!/usr/bin/env bash
# Install the Debian packages of a single-node SLURM with accounting (tests/test_slurm.py uses them).
# Exits 0 at once when they are already installed; otherwise needs root and apt-get, and says why not.
# Nothing is started or enabled: tests/slurm/start.sh runs the daemons by hand.
set -euo pipefail

PACKAGES=(munge slurmctld slurmd slurm-client slurmdbd mariadb-server)
COMMANDS=(munged slurmctld slurmd sbatch sacct slurmdbd mariadbd mariadb-install-db)

installed() {
    local command
    for command in "${COMMANDS[@]}"; do
        PATH="$PATH:/usr/sbin:/sbin" command -v "$command" >/dev/null || return 1
    done
}

if installed; then
    exit 0
fi
if [[ "$(id -u)" != 0 ]]; then
    echo "install.sh: not root, cannot install ${PACKAGES[*]}" >&2
    exit 2
fi
if ! command -v apt-get >/dev/null; then
    echo "install.sh: no apt-get on this machine, cannot install ${PACKAGES[*]}" >&2
    exit 2
fi
export DEBIAN_FRONTEND=noninteractive
timeout -k 10 120 apt-get update -qq
timeout -k 10 300 apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >/dev/null
installed || { echo "install.sh: packages installed but some of ${COMMANDS[*]} are missing" >&2; exit 1; }
