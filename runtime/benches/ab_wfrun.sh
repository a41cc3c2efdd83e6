#!/usr/bin/env bash
# A/B of `wfrun` binaries on the same work, run alternately so the shared machine's noise falls
# on all of them alike: each round runs `wfrun run probes.wasm --entry noops -j J` (10,000
# executed no-op tasks) once with every binary, then prints each binary's median wall time.
#
#   runtime/benches/ab_wfrun.sh 21 2 /tmp/wfrun-before target/release/wfrun
#   RESUME=1 runtime/benches/ab_wfrun.sh 15 1 /tmp/wfrun-before target/release/wfrun
#
# Env: MODULE (default target/wasm32-wasip1/release/probes.wasm, built by `wfrun build
# apps/probes`), RESUME=1 (every run after a first one resumes: 10,000 hits loaded from the
# checkpoint). A scratch runinfo per binary is made and removed; its first run (compiling the
# module into the cache, and the run that --resume loads) is not timed.
set -euo pipefail
[[ $# -ge 3 ]] || { sed -n '2,12p' "$0" >&2; exit 2; }
rounds=$1 jobs=$2
shift 2
repo=$(cd "$(dirname "$0")/../.." && pwd)
module=${MODULE:-$repo/target/wasm32-wasip1/release/probes.wasm}
[[ -f "$module" ]] || { echo "ab_wfrun: no module $module (wfrun build apps/probes)" >&2; exit 2; }
scratch=$(mktemp -d -t wf-ab.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
extra=()
label=""
if [[ "${RESUME:-0}" == 1 ]]; then
    extra=(--resume)
    label=" --resume"
fi
declare -A times
n=0
for bin in "$@"; do
    n=$((n + 1))
    "$bin" run "$module" --entry noops -j "$jobs" --runinfo "$scratch/$n" >/dev/null 2>&1
done
for _ in $(seq 1 "$rounds"); do
    n=0
    for bin in "$@"; do
        n=$((n + 1))
        start=$(date +%s%N)
        "$bin" run "$module" --entry noops -j "$jobs" --runinfo "$scratch/$n" "${extra[@]}" \
            >/dev/null 2>&1 || { echo "ab_wfrun: $bin failed" >&2; exit 1; }
        end=$(date +%s%N)
        times[$n]="${times[$n]:-} $(((end - start) / 1000))"
    done
done
n=0
for bin in "$@"; do
    n=$((n + 1))
    median=$(tr ' ' '\n' <<<"${times[$n]}" | grep . | sort -n |
        awk '{a[NR] = $1} END {printf "%.1f", a[int((NR + 1) / 2)] / 1000}')
    echo "$bin -j $jobs$label: median $median ms over $rounds runs"
done
