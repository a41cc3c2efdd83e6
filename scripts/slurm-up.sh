#!/usr/bin/env bash
# Starts a one-node Slurm cluster on loopback for wf's Slurm tests and benchmark: installs slurm
# (slurm-wlm) and munge from Debian's packages when missing, writes a minimal slurm.conf, and
# starts munged, slurmctld and slurmd (as root, without systemd). Idempotent: a cluster that
# already answers is left as it is. Stop it with scripts/slurm-down.sh.
#
# The node advertises WF_SLURM_CPUS CPUs (default 32, more than the machine may have: array
# elements are short, mostly waiting on Slurm, and 32 slots run 1.6x more trivial elements per
# second than 8 here). Scheduling runs every second, with
# no batching delay, so an array element starts about a second after sbatch.
set -euo pipefail

cpus="${WF_SLURM_CPUS:-32}"
state=/var/lib/wf-slurm
conf=/etc/slurm/slurm.conf
start=$SECONDS

if [ "$(id -u)" -ne 0 ]; then
    echo "slurm-up: must run as root (it installs packages and starts daemons)" >&2
    exit 2
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
    || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
    echo "slurm-up: installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends slurm-wlm munge
fi

ready() {
    sinfo -h -N -o '%T' 2>/dev/null | grep -Eq '^(idle|mixed|allocated)'
}

# Whether the daemon whose pid file is $1 runs.
running() {
    [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

if running "$state/slurmctld.pid" && running "$state/slurmd.pid" && ready; then
    echo "slurm-up: the cluster is already up"
    exit 0
fi

mkdir -p "$state"/{ctld,d} /var/log/slurm /run/munge /var/lib/munge /var/log/munge /etc/slurm
chown -R munge:munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true

if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key

if ! running /run/munge/munged.pid; then
    # munged refuses to run as root; the package made a `munge` user.
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
fi

mem_mb=$(awk '/MemTotal/ {print int($2 / 1024 / 2)}' /proc/meminfo)
cat >"$conf" <<CONF
# Written by wf's scripts/slurm-up.sh: a one-node cluster on loopback.
ClusterName=wf
SlurmctldHost=localhost
SlurmUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
# The node may advertise more CPUs than the machine has.
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,sched_min_interval=0,batch_sched_delay=0,default_queue_depth=1000
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=30
MaxArraySize=10001
MaxJobCount=100000
KillWait=2
InactiveLimit=0
SlurmdTimeout=300
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF

if ! running "$state/slurmctld.pid"; then
    # -i: ignore state from an earlier cluster (a stale job table would only confuse tests).
    /usr/sbin/slurmctld -i
fi
if ! running "$state/slurmd.pid"; then
    # -N localhost: the node's name, whatever the machine's host name is.
    /usr/sbin/slurmd -N localhost
fi

for _ in $(seq 1 60); do
    if ready; then
        echo "slurm-up: node ready in $((SECONDS - start)) s"
        exit 0
    fi
    scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true
    sleep 0.5
done
echo "slurm-up: the node did not become ready; sinfo says:" >&2
sinfo -N -l >&2 || true
tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
