#!/usr/bin/env bash
# Start a single-node SLURM on 127.0.0.1 with accounting (slurmdbd) and one fake GPU, for tests/test_slurm.py.
# Everything but munge lives under DIR: configs, state, logs, pid files and a private MariaDB. Clients
# use it through SLURM_CONF=DIR/slurm.conf, except the `srun` inside a job: the plugin's job step drops
# SLURM_* variables, so /etc/slurm/slurm.conf becomes a link to DIR/slurm.conf (refused if that file
# exists already; stop.sh removes the link).
# Every daemon started is listed in DIR/daemons (pid file, command name) for stop.sh, which must run
# afterwards even when this script fails half-way.
#
# Usage: start.sh DIR
# Environment: SLURM_TEST_PARTITIONS  partition names, the first is the default   ("cpu gpu")
#              SLURM_TEST_ACCOUNT     an account to create for root                 (none)
#              SLURM_TEST_CPUS        CPUs the node offers                          (nproc)
#              SLURM_TEST_MEMORY_MB   memory the node offers                        (total - 1 GB)
#              SLURM_TEST_DB_PORT     TCP port of the private MariaDB on 127.0.0.1  (3399)
set -euo pipefail

DIR="$(realpath "${1:?usage: start.sh DIR}")"
HERE="$(dirname "$(realpath "$0")")"
HOST="$(hostname -s)"
CLUSTER="v1twin-test"
PARTITIONS="${SLURM_TEST_PARTITIONS:-cpu gpu}"
CPUS="${SLURM_TEST_CPUS:-$(nproc)}"
MEMORY_MB="${SLURM_TEST_MEMORY_MB:-$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) - 1024 ))}"
DB_PORT="${SLURM_TEST_DB_PORT:-3399}"
DB_SOCKET="$DIR/mysql/mysqld.sock"
export SLURM_CONF="$DIR/slurm.conf"
export PATH="$PATH:/usr/sbin:/sbin"

fail() {
    echo "start.sh: $*" >&2
    exit 1
}

# Wait up to $1 seconds for the command that follows to succeed.
wait_for() {
    local seconds="$1"
    shift
    for _ in $(seq "$seconds"); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 1
    done
    return 1
}

# Remember a daemon for stop.sh, once its pid file exists.
register() {
    local pid_file="$1" name="$2"
    wait_for 30 test -s "$pid_file" || fail "$name wrote no pid file $pid_file (see the logs in $DIR)"
    echo "$pid_file $name" >>"$DIR/daemons"
}

render() {
    sed -e "s|@DIR@|$DIR|g" -e "s|@HOST@|$HOST|g" -e "s|@CLUSTER@|$CLUSTER|g" -e "s|@CPUS@|$CPUS|g" \
        -e "s|@MEMORY_MB@|$MEMORY_MB|g" -e "s|@DB_PORT@|$DB_PORT|g" "$HERE/$1.in" >"$DIR/$1"
}

write_configs() {
    render slurm.conf
    render gres.conf
    render slurmdbd.conf
    chmod 0600 "$DIR/slurmdbd.conf"  # slurmdbd refuses a config others can read (it holds the DB password)
    local default=YES partition
    for partition in $PARTITIONS; do
        echo "PartitionName=$partition Nodes=ALL Default=$default MaxTime=INFINITE State=UP" >>"$DIR/slurm.conf"
        default=NO
    done
}

link_default_config() {
    if [[ -e /etc/slurm/slurm.conf || -L /etc/slurm/slurm.conf ]]; then
        fail "/etc/slurm/slurm.conf exists already; this test will not replace a SLURM configuration"
    fi
    mkdir -p /etc/slurm
    ln -s "$DIR/slurm.conf" /etc/slurm/slurm.conf
}

start_munge() {
    install -d -o munge -g munge -m 0755 /run/munge
    runuser -u munge -- /usr/sbin/munged
    register /run/munge/munged.pid munged
}

start_mariadb() {
    install -d -o mysql -g mysql -m 0750 "$DIR/mysql"
    mariadb-install-db --no-defaults --user=mysql --datadir="$DIR/mysql" --skip-test-db \
        >"$DIR/mariadb-install.log" 2>&1 || fail "mariadb-install-db failed (see $DIR/mariadb-install.log)"
    setsid mariadbd --no-defaults --user=mysql --datadir="$DIR/mysql" --socket="$DB_SOCKET" \
        --bind-address=127.0.0.1 --port="$DB_PORT" --skip-name-resolve \
        --pid-file="$DIR/mysql/mysqld.pid" --log-error="$DIR/mariadb.log" </dev/null >/dev/null 2>&1 &
    register "$DIR/mysql/mysqld.pid" mariadbd
    wait_for 30 mariadb-admin --no-defaults --socket="$DB_SOCKET" ping || fail "MariaDB did not answer (see $DIR/mariadb.log)"
    mariadb --no-defaults --socket="$DB_SOCKET" -u root -e \
        "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
}

start_slurmdbd() {
    /usr/sbin/slurmdbd
    register "$DIR/slurmdbd.pid" slurmdbd
    wait_for 30 sacctmgr -n list cluster || fail "slurmdbd did not answer (see $DIR/slurmdbd.log)"
    sacctmgr -i add cluster "$CLUSTER" >/dev/null
    if [[ -n "${SLURM_TEST_ACCOUNT:-}" ]]; then
        sacctmgr -i add account "$SLURM_TEST_ACCOUNT" >/dev/null
        sacctmgr -i add user root account="$SLURM_TEST_ACCOUNT" >/dev/null
    fi
}

start_slurm() {
    mkdir -p "$DIR/slurmctld" "$DIR/slurmd"
    /usr/sbin/slurmctld
    register "$DIR/slurmctld.pid" slurmctld
    /usr/sbin/slurmd
    register "$DIR/slurmd.pid" slurmd
    wait_for 30 node_is_idle || fail "the node did not become idle: $(sinfo -h -N -o '%P %T %E' 2>&1) (see $DIR/*.log)"
}

# The pid of a live process (not a zombie) named $1; fails when there is none.
find_process() {
    local status
    for status in /proc/[0-9]*/status; do
        if grep -q "^Name:[[:space:]]*$1\$" "$status" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' "$status" 2>/dev/null; then
            basename "$(dirname "$status")"
            return 0
        fi
    done
    return 1
}

node_is_idle() {
    [[ "$(sinfo -h -N -o %T | sort -u)" == idle ]]  # one line per partition
}

for daemon in munged slurmdbd slurmctld slurmd; do
    if pid="$(find_process "$daemon")"; then
        fail "$daemon already runs (pid $pid); this test starts its own and leaves others alone"
    fi
done
mkdir -p "$DIR"
: >"$DIR/daemons"
write_configs
link_default_config
start_munge
start_mariadb
start_slurmdbd
start_slurm
echo "SLURM cluster $CLUSTER is up: export SLURM_CONF=$SLURM_CONF; stop it with $HERE/stop.sh $DIR"
