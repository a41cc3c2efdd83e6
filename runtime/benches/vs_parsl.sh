#!/usr/bin/env bash
# wf against the Parsl peer, interleaved: each round runs every wf scenario once (the
# `throughput` bench with WF_BENCH_REPS=1), then the matching Parsl scenarios once, so noise
# from the shared machine falls on both alike. At the end, the medians [min..max] of every
# scenario over the rounds, by the Parsl peer's summarize.py. See BENCHMARKS.md.
#
#   runtime/benches/vs_parsl.sh              # ROUNDS=5
#   ROUNDS=7 QUIET=15 RESULTS=/tmp/r.txt runtime/benches/vs_parsl.sh
#
# Env: ROUNDS (default 5), N (Parsl no-op tasks, default 10000, as in wf's `noops`),
#      PARSL_DIR (default ../shared/peers/parsl beside the repository), VENV (the Parsl venv,
#      made like the peer's run.sh does when missing), RESULTS (raw lines, default a temp file),
#      WF_BENCH_EXE (a prebuilt bench binary: no cargo build; then WF_BENCH_WFRUN and
#      WF_BENCH_MODULE name its wfrun and probes.wasm), QUIET (wait before each round until the
#      machine is below this CPU busy %, at most QUIET_TIMEOUT s, default 300), and the other
#      WF_BENCH_* settings of the throughput bench.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
ROUNDS=${ROUNDS:-5}
N=${N:-10000}
PARSL_DIR=${PARSL_DIR:-$repo/../shared/peers/parsl}
VENV=${VENV:-$(dirname "$(mktemp -u)")/parsl-venv}
PARSL_VERSION=${PARSL_VERSION:-2026.10.26}
RESULTS=${RESULTS:-$(mktemp -t wf-vs-parsl.XXXXXX)}

if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q "parsl==$PARSL_VERSION"
fi
export PATH="$VENV/bin:$PATH"
PY="$VENV/bin/python"

# Build once, then run private copies: other builds in the same target directory must not
# replace the binaries half-way through the sitting.
work=$(mktemp -d -t wf-vs-parsl.XXXXXX)
trap 'rm -rf "$work"' EXIT
cd "$repo"
if [[ -n "${WF_BENCH_EXE:-}" ]]; then
    # Prebuilt: the bench binary, with WF_BENCH_WFRUN and WF_BENCH_MODULE beside it.
    cp "$WF_BENCH_EXE" "$work/throughput"
    cp "${WF_BENCH_WFRUN:?WF_BENCH_EXE needs WF_BENCH_WFRUN}" "$work/wfrun"
else
    exe=$(cargo bench -p wf-runtime --bench throughput --no-run 2>&1 |
        sed -n 's/.*Executable .*(\(.*\)).*/\1/p' | tail -1)
    cp "$exe" "$work/throughput"
    cp "$(dirname "$(dirname "$exe")")/wfrun" "$work/wfrun"
fi
if [[ -z "${WF_BENCH_MODULE:-}" ]]; then
    module=$(cargo run -q --release -p wf-runtime --bin wfrun -- build apps/probes | tail -1)
    cp "$module" "$work/probes.wasm"
    export WF_BENCH_MODULE="$work/probes.wasm"
fi
export WF_BENCH_WFRUN="$work/wfrun"
# A set RUST_BACKTRACE makes every wasmtime error capture a backtrace: not the default a user
# has, and it costs the engine (see BENCHMARKS.md).
unset RUST_BACKTRACE RUST_LIB_BACKTRACE

echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD), $(nproc) cores, $(uname -r)," \
     "parsl $("$PY" -c 'import parsl; print(parsl.__version__)'), ROUNDS=$ROUNDS N=$N," \
     "raw lines: $RESULTS" >&2

parsl() {
    # f_cpu.py names its line after the executor only: add the worker count.
    local label=$1
    shift
    (cd "$PARSL_DIR" && "$PY" "$@") | sed "s/^scenario=[a-z_]*/&$label/" | tee -a "$RESULTS"
}

for round in $(seq 1 "$ROUNDS"); do
    echo "# round $round/$ROUNDS" >&2
    # The machine is shared: with QUIET set, wait (at most QUIET_TIMEOUT s) until other
    # processes use less than QUIET % of the CPU before each round.
    if [[ -n "${QUIET:-}" ]]; then
        "$PY" "$PARSL_DIR/quiet.py" --max-busy "$QUIET" --timeout "${QUIET_TIMEOUT:-300}"
    fi
    WF_BENCH_REPS=1 "$work/throughput" --bench | grep '^scenario=' | tee -a "$RESULTS"
    parsl "" a_noop.py "$N"
    parsl "" a_noop.py "$N" --no-log
    parsl "" b_cache_task_exit.py "$N"
    parsl "" b_cache_task_exit.py "$N" --no-log
    parsl "" d_memo_rerun.py "$N"
    parsl "" d_memo_rerun.py "$N" --no-log
    parsl _j1 f_cpu.py 200 --executor threads --threads 1 --no-log
    parsl _j2 f_cpu.py 200 --executor threads --threads 2 --no-log
    parsl _j2 f_cpu.py 200 --executor htex --threads 2 --no-log
done

echo "# medians [min..max] over $ROUNDS rounds (raw lines: $RESULTS)"
"$PY" "$PARSL_DIR/summarize.py" < "$RESULTS"
