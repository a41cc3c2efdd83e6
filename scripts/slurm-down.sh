#!/usr/bin/env bash
# Stops the one-node cluster of scripts/slurm-up.sh: cancels every job, kills slurmd, slurmctld
# and munged, and removes the cluster's state. Idempotent.
set -uo pipefail

if [ "$(id -u)" -ne 0 ]; then
    echo "slurm-down: must run as root" >&2
    exit 2
fi

if command -v scancel >/dev/null && pgrep -x slurmctld >/dev/null; then
    scancel --full --quiet --user=root 2>/dev/null || true
fi

stop() {
    local name=$1
    local pids
    pids=$(pgrep -x "$name" || true)
    [ -z "$pids" ] && return 0
    kill $pids 2>/dev/null || true
    for _ in $(seq 1 50); do
        pgrep -x "$name" >/dev/null || return 0
        sleep 0.1
    done
    kill -9 $(pgrep -x "$name") 2>/dev/null || true
}

stop slurmd
stop slurmctld
stop munged
rm -rf /var/lib/wf-slurm
echo "slurm-down: stopped"
