#!/usr/bin/env bash
# Tasks per second through Slurm as a function of the chunk size (tasks per array element):
# runs one workflow of apps/probes with `wfrun run --executor slurm --slurm-chunk C` for each C,
# in a fresh runinfo each time (so nothing is cached), and prints one line per chunk size with
# the run's wall time and tasks/s from its summary.json. Needs a cluster (scripts/slurm-up.sh).
# See BENCHMARKS.md.
#
#   runtime/benches/slurm_chunks.sh
#   CHUNKS="1 4 16 64" ENTRY=spins REPS=3 WFRUN=target/debug/wfrun runtime/benches/slurm_chunks.sh
#
# Env: CHUNKS (default "1 2 4 8 16 32 64"), ENTRY (a workflow of apps/probes, default spins:
#      200 CPU-bound tasks of ~2M rounds), REPS (runs per chunk size, default 3; the median is
#      printed), WFRUN (the wfrun binary; default target/release/wfrun, built when missing),
#      MAX_ARRAY (--slurm-max-array, default 1000).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
CHUNKS=${CHUNKS:-"1 2 4 8 16 32 64"}
ENTRY=${ENTRY:-spins}
REPS=${REPS:-3}
MAX_ARRAY=${MAX_ARRAY:-1000}
cd "$repo"

if ! command -v sbatch >/dev/null || ! sinfo -h -o %T 2>/dev/null | grep -Eq 'idle|mixed|allocated'; then
    echo "slurm_chunks: no Slurm cluster answers (scripts/slurm-up.sh starts one)" >&2
    exit 2
fi
if [[ -z "${WFRUN:-}" ]]; then
    cargo build --release -q -p wf-runtime --bin wfrun
    WFRUN=$repo/target/release/wfrun
fi
WFRUN=$(realpath "$WFRUN")
module=$("$WFRUN" build apps/probes --target-dir "$repo/target/wf-test-wasm")

# Workers run the same binary: copy it, so another build cannot replace it half-way through.
work=$(mktemp -d -t wf-slurm-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$WFRUN" "$work/wfrun"

echo "# $ENTRY of apps/probes, $(nproc) cores, node CPUs: $(sinfo -h -N -o %c | head -1), reps $REPS"
printf '%6s %8s %10s %10s %s\n' chunk tasks seconds tasks/s "jobs (sbatch calls)"
for chunk in $CHUNKS; do
    results=()
    for rep in $(seq 1 "$REPS"); do
        runinfo="$work/runinfo-$chunk-$rep"
        "$work/wfrun" run "$module" --entry "$ENTRY" --runinfo "$runinfo" \
            --executor slurm --slurm-chunk "$chunk" --slurm-max-array "$MAX_ARRAY" \
            >/dev/null 2>"$work/stderr"
        jobs=$(grep -c '^wf: slurm: submitted job' "$work/stderr" || true)
        line=$(python3 - "$runinfo/000/summary.json" "$jobs" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["ok"] and s["executed"] == s["tasks"], s
print(f'{s["seconds"]:.3f} {s["tasks"]} {s["tasks"] / s["seconds"]:.1f} {sys.argv[2]}')
PY
)
        results+=("$line")
    done
    median=$(printf '%s\n' "${results[@]}" | sort -n | sed -n "$(( (REPS + 1) / 2 ))p")
    read -r seconds tasks rate jobs <<<"$median"
    printf '%6s %8s %10s %10s %s\n' "$chunk" "$tasks" "$seconds" "$rate" "$jobs"
done
