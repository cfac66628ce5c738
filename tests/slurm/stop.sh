#!/usr/bin/env bash
# Cancel the jobs still on the test cluster, stop the daemons start.sh started (DIR/daemons), newest
# first, each by the pid in its pid file and only when /proc/PID/comm shows the expected name, and
# remove start.sh's link /etc/slurm/slurm.conf. Safe to run twice or after a failed start.
# Usage: stop.sh DIR
set -uo pipefail

DIR="$(realpath "${1:?usage: stop.sh DIR}")"

# The process exists, is not a zombie, and is the expected program (a pid may have been reused).
running() {
    local pid="$1" name="$2"
    [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$name" ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status"
}

stop_daemon() {
    local pid_file="$1" name="$2" pid
    pid="$(cat "$pid_file" 2>/dev/null)" || return 0
    if running "$pid" "$name"; then
        kill -TERM "$pid"
        for _ in $(seq 50); do
            running "$pid" "$name" || break
            sleep 0.2
        done
        if running "$pid" "$name"; then
            echo "stop.sh: $name (pid $pid) ignored SIGTERM for 10 s, sending SIGKILL" >&2
            kill -KILL "$pid"
        fi
    fi
    rm -f "$pid_file"  # slurmctld and slurmdbd leave theirs behind
}

# Jobs left by an interrupted test: slurmstepd and the job's processes would outlive slurmd.
cancel_jobs() {
    export SLURM_CONF="$DIR/slurm.conf"
    timeout 10 scancel --user="$(id -un)" 2>/dev/null || return 0
    for _ in $(seq 30); do
        [[ -z "$(timeout 10 squeue -h -o %i 2>/dev/null)" ]] && return 0
        sleep 0.5
    done
    echo "stop.sh: jobs still on the test cluster after 15 s: $(squeue -h 2>&1)" >&2
}

if [[ -f "$DIR/daemons" ]]; then
    grep -q " slurmctld$" "$DIR/daemons" && cancel_jobs
    tac "$DIR/daemons" | while read -r pid_file name; do
        stop_daemon "$pid_file" "$name"
    done
    rm -f "$DIR/daemons"
fi
if [[ "$(readlink /etc/slurm/slurm.conf)" == "$DIR/slurm.conf" ]]; then
    rm /etc/slurm/slurm.conf
fi
