#!/usr/bin/env bash
# Stops the one-node cluster of scripts/slurm-up.sh: cancels every job, stops slurmd, slurmctld
# and munged by the pids they wrote at start, and removes the cluster's state. Idempotent.
set -uo pipefail

state=/var/lib/wf-slurm

if [ "$(id -u)" -ne 0 ]; then
    echo "slurm-down: must run as root" >&2
    exit 2
fi

if command -v scancel >/dev/null && [ -s "$state/slurmctld.pid" ]; then
    timeout 10 scancel --full --quiet --user=root 2>/dev/null || true
fi

# Stops the daemon whose pid file is $1: TERM, then KILL after 5 s.
stop() {
    local file=$1 pid
    [ -s "$file" ] || return 0
    pid=$(cat "$file")
    if kill "$pid" 2>/dev/null; then
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$file"
}

stop "$state/slurmd.pid"
stop "$state/slurmctld.pid"
stop /run/munge/munged.pid
rm -rf "$state"
echo "slurm-down: stopped"
