#!/usr/bin/env bash
# Reproducible cross-platform reruns, proved on a second CPU architecture (issue 7).
#
# Builds wfrun for aarch64 Linux on this x86-64 machine and runs it under qemu-aarch64 user-mode
# emulation, where wasmtime compiles the guests with its aarch64 backend. For each example
# workflow (and probes' `floats`: NaN-making arithmetic, relaxed SIMD, clocks, random numbers):
#   1. run it on x86-64 with task_exit checkpointing;
#   2. copy the checkpoint directory elsewhere and rerun on aarch64 with --checkpoint-files:
#      every task must be a hit, and stdout, the exit code and any output files byte-identical;
#   3. `wfrun verify` the x86-64 run on aarch64 (re-executes its recorded tasks): every record
#      identical, none skipped;
#   4. the reverse: run on aarch64, copy the checkpoint, rerun on x86-64: all hits, same bytes.
# The module digests and task keys of every run, on both sides, must equal the golden file
# tests/golden/cross-aarch64.txt; `WF_BLESS=1` rewrites it from the x86-64 runs.
#
# Installs what it needs from nothing (idempotently): the rustup target, Debian's cross linker
# and arm64 C library, qemu-user. Nothing machine-specific is committed: the linker and the
# emulator are set in this script's environment only.
#
# Environment:
#   WF_CROSS_PROFILE=debug|release  the aarch64 wfrun's cargo profile (default debug: the
#                                   workspace optimizes every dependency even in dev builds);
#   WF_CROSS_DEPS_OPT=0|1|2|3       with debug, the opt-level of the aarch64 build's
#                                   dependencies (default 1; the workspace's is 3). From an
#                                   empty target directory the whole script took 868 s of CPU
#                                   with 1 (of which the emulated runs ~146 s) against 1076 s
#                                   with 3 (runs ~127 s): wasmtime and cranelift build faster,
#                                   and cranelift compiling under emulation is barely slower;
#   WF_CROSS_TARGET_DIR=DIR         cargo's target directory for the aarch64 build (target/);
#   WF_CROSS_WORK=DIR               the scratch directory (default a fresh temp directory,
#                                   removed on success, kept on failure);
#   WF_BLESS=1                      rewrite the golden file from the x86-64 runs.
#
# qemu-user tracks every reserved guest page, so an aarch64 wfrun's start costs in proportion
# to the address space wasmtime's pooling allocator reserves: 4 GiB + guard per instance slot.
# The engine sizes its pool by the run (a slot per worker plus 4), which under Debian 12's
# qemu 7.2 makes a start about 1 s instead of 20-30 s with the former fixed 256 slots (1 TiB).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TERM_COLOR=never

TARGET=aarch64-unknown-linux-gnu
PROFILE=${WF_CROSS_PROFILE:-debug}
GOLDEN=tests/golden/cross-aarch64.txt
CROSS_TARGET_DIR=${WF_CROSS_TARGET_DIR:-$ROOT/target}
SYSROOT=/usr/aarch64-linux-gnu
WORK=${WF_CROSS_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/wf-cross-aarch64.XXXXXX")}
mkdir -p "$WORK"

step() { printf '\n== cross-aarch64: %s (%ss since start)\n' "$1" "$SECONDS"; }
fail() {
    printf 'cross-aarch64: FAILED: %s\n' "$*" >&2
    printf 'cross-aarch64: scratch kept in %s\n' "$WORK" >&2
    exit 1
}

DEPS_OPT=${WF_CROSS_DEPS_OPT:-1}
case "$DEPS_OPT" in
0 | 1 | 2 | 3) ;;
*)
    echo "cross-aarch64: WF_CROSS_DEPS_OPT must be 0, 1, 2 or 3, not '$DEPS_OPT'" >&2
    exit 2
    ;;
esac
case "$PROFILE" in
debug | release) ;;
*)
    echo "cross-aarch64: WF_CROSS_PROFILE must be debug or release, not '$PROFILE'" >&2
    exit 2
    ;;
esac

step "prerequisites"
if ! rustup target list --installed | grep -qx "$TARGET"; then
    rustup target add "$TARGET"
fi
rustup target list --installed | grep -qx wasm32-wasip1 || rustup target add wasm32-wasip1
missing=()
command -v aarch64-linux-gnu-gcc >/dev/null || missing+=(gcc-aarch64-linux-gnu)
[ -e "$SYSROOT/lib/libc.so.6" ] && [ -e "$SYSROOT/include/stdio.h" ] || missing+=(libc6-dev-arm64-cross)
if command -v qemu-aarch64 >/dev/null; then
    QEMU=qemu-aarch64
elif command -v qemu-aarch64-static >/dev/null; then
    QEMU=qemu-aarch64-static
else
    missing+=(qemu-user)
    QEMU=qemu-aarch64
fi
if [ ${#missing[@]} -gt 0 ]; then
    sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
"$QEMU" --version | head -1
aarch64-linux-gnu-gcc --version | head -1

step "build wfrun for x86-64 (debug) and aarch64 ($PROFILE)"
cargo build --locked --bin wfrun
profile_flag=()
if [ "$PROFILE" = release ]; then
    profile_flag=(--release)
else
    profile_flag=(--config "profile.dev.package.\"*\".opt-level=$DEPS_OPT")
fi
build_start=$SECONDS
# Only the wfrun binary, without debug info: the cheapest build that runs the real engine.
# The cross C compiler and archiver are for dependencies with C code built by the `cc` crate
# (mimalloc, wfrun's allocator): without them cc would try the host's gcc.
CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
    AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar \
    CARGO_PROFILE_DEV_DEBUG=0 \
    cargo build --locked --target "$TARGET" --bin wfrun --target-dir "$CROSS_TARGET_DIR" "${profile_flag[@]}"
echo "cross-aarch64: the aarch64 build took $((SECONDS - build_start)) s"
X86_BIN=$ROOT/target/debug/wfrun
ARM_BIN=$CROSS_TARGET_DIR/$TARGET/$PROFILE/wfrun
# e_machine at offset 18 of the ELF header: 0xb7 is EM_AARCH64.
[ "$(od -An -tx1 -j18 -N1 "$ARM_BIN" | tr -d ' ')" = b7 ] || fail "$ARM_BIN is not an aarch64 ELF"

# wfrun runs in the scratch directory, so that no ./wf.toml of the checkout changes its settings.
x86() { (cd "$WORK" && "$X86_BIN" "$@"); }
arm() { (cd "$WORK" && QEMU_LD_PREFIX=$SYSROOT "$QEMU" "$ARM_BIN" "$@"); }
# The emulated runs and verifies use 2 workers whatever the machine's cores: the engine reserves
# an instance slot per worker, which qemu pays for at every start (a 64-core runner's default
# would be 68 slots, ~270 GiB). The worker count enters no key and no output.
side_jobs() { if [ "$1" = arm ]; then echo "-j 2"; fi; }

echo "cross-aarch64: scratch in $WORK"

step "build the example modules (wasm is the same bytes for both architectures)"
MODULES=$WORK/modules
mkdir -p "$MODULES"
for app in basics montecarlo wordfreq probes; do
    # The integration tests build into the same directory: in CI this reuses their builds.
    built=$(x86 build "$ROOT/apps/$app" --target-dir "$ROOT/target/wf-test-wasm")
    cp "$built" "$MODULES/$app.wasm"
done
# A granted input directory for wordfreq's from_input.
mkdir -p "$WORK/input"
for i in $(seq 1 200); do
    echo "The quick brown fox $i jumps over the lazy dog; the dog sleeps, the fox runs."
done >"$WORK/input/corpus.txt"

# The cases: name, module, entry, extra options of `run`, expected exit code, extra options of
# `verify`.
CASES=(
    "basics-main|basics|main||0|"
    "basics-failing|basics|failing|--cache-failures|1|"
    "montecarlo-main|montecarlo|main||0|"
    "montecarlo-sweep|montecarlo|sweep||0|"
    "wordfreq-main|wordfreq|main||0|"
    "wordfreq-files|wordfreq|files|--output-dir @OUT@|0|"
    "wordfreq-from-input|wordfreq|from_input|--input-dir $WORK/input|0|--input-dir $WORK/input"
    "probes-floats|probes|floats||0|"
)

# Prints `tasks executed cached failed attempts` of a run, then one line per task: the case,
# id, app, key (`-` for a task that never had one: its dependency failed) and status, after a
# line with the module digest. Without the status, these are the lines the golden file holds.
summarize() { # SIDE RUNINFO RUN CASE
    local side=$1 runinfo=$2 run=$3 name=$4
    "$side" show "$run" --runinfo "$runinfo" --json | python3 -c '
import json, sys
name = sys.argv[1]
r = json.load(sys.stdin)
print(r["tasks"], r["executed"], r["cached"], r["failed"], r["attempts"])
print(name, "module", r["module"])
for t in r["task_list"]:
    print(name, "task", t["id"], t["app"], t["key"] or "-", t["status"])
' "$name"
}

# Runs one case on SIDE into RUNINFO; leaves stdout, the exit code, the summary and any
# output files in DEST; prints the run's id.
run_case() { # SIDE RUNINFO DEST CASE [extra run options...]
    local side=$1 runinfo=$2 dest=$3 spec=$4
    shift 4
    local name module entry opts expected
    IFS='|' read -r name module entry opts expected _ <<<"$spec"
    mkdir -p "$dest"
    opts=${opts//@OUT@/$dest/outputs}
    local code=0
    # shellcheck disable=SC2046,SC2086 # opts and side_jobs are word lists by design
    "$side" run "$MODULES/$module.wasm" --entry "$entry" --runinfo "$runinfo" \
        --checkpoint-mode task_exit $(side_jobs "$side") $opts "$@" >"$dest/stdout" 2>"$dest/stderr" || code=$?
    echo "$code" >"$dest/exit"
    [ "$code" = "$expected" ] || {
        cat "$dest/stderr" >&2
        fail "$name on $side exited with $code, expected $expected"
    }
    local run
    run=$("$side" runs --runinfo "$runinfo" --json | python3 -c '
import json, sys
print(json.load(sys.stdin)[-1]["id"])')
    echo "$run" >"$dest/run"
    summarize "$side" "$runinfo" "$run" "$name" >"$dest/summary"
}

# Checks that the rerun in DEST reused every task of the original in ORIG: no task executed,
# the same keys, and byte-identical stdout, exit code and output files.
check_rerun() { # ORIG DEST NAME WHAT
    local orig=$1 dest=$2 name=$3 what=$4
    local tasks executed cached failed attempts orig_failed
    read -r tasks executed cached failed attempts <"$dest/summary"
    orig_failed=$(head -1 "$orig/summary" | cut -d' ' -f4)
    # A hit is a reused result, or a reused recorded failure (--cache-failures) and the tasks
    # that depended on it: nothing ran.
    [ "$executed" = 0 ] && [ "$attempts" = 0 ] ||
        fail "$name, $what: $executed of $tasks tasks executed again (expected all hits)"
    [ "$tasks" -gt 0 ] && [ "$((cached + failed))" = "$tasks" ] && [ "$failed" = "$orig_failed" ] ||
        fail "$name, $what: $cached of $tasks tasks were hits, $failed failed (originally $orig_failed)"
    # The keys and module must match; the statuses differ (executed vs cached), so compare
    # without them.
    diff <(tail -n +2 "$orig/summary" | cut -d' ' -f1-5) <(tail -n +2 "$dest/summary" | cut -d' ' -f1-5) >&2 ||
        fail "$name, $what: task keys or module digest differ"
    cmp "$orig/stdout" "$dest/stdout" || fail "$name, $what: stdout differs"
    cmp "$orig/exit" "$dest/exit" || fail "$name, $what: exit code differs"
    if [ -d "$orig/outputs" ] || [ -d "$dest/outputs" ]; then
        diff -r "$orig/outputs" "$dest/outputs" >&2 || fail "$name, $what: output files differ"
    fi
    echo "cross-aarch64: $name, $what: all $tasks tasks hits ($failed recorded failures), identical output"
}

GOLDEN_NOW=$WORK/golden.txt
: >"$GOLDEN_NOW"
for spec in "${CASES[@]}"; do
    name=${spec%%|*}
    step "$name"
    case_dir=$WORK/cases/$name

    # 1. x86-64, task_exit checkpointing.
    t=$SECONDS
    run_case x86 "$WORK/x86" "$case_dir/x86" "$spec"
    tail -n +2 "$case_dir/x86/summary" | cut -d' ' -f1-5 >>"$GOLDEN_NOW"
    echo "cross-aarch64: $name on x86-64: $(head -1 "$case_dir/x86/summary" | cut -d' ' -f1) tasks ($((SECONDS - t)) s)"

    # 2. Its checkpoint, copied elsewhere, reused on aarch64.
    copied=$WORK/copies/$name-from-x86
    mkdir -p "$(dirname "$copied")"
    cp -r "$WORK/x86/$(cat "$case_dir/x86/run")/checkpoint" "$copied"
    t=$SECONDS
    run_case arm "$WORK/arm-rerun" "$case_dir/arm-rerun" "$spec" --checkpoint-files "$copied"
    check_rerun "$case_dir/x86" "$case_dir/arm-rerun" "$name" "x86-64 checkpoint on aarch64 ($((SECONDS - t)) s)"

    # 3. The x86-64 run verified on aarch64: every recorded task re-executed there and its
    #    result compared bit for bit with the x86-64 record.
    t=$SECONDS
    verify_opts=${spec##*|}
    # shellcheck disable=SC2046,SC2086 # verify_opts and side_jobs are word lists by design
    arm verify "$(cat "$case_dir/x86/run")" --runinfo "$WORK/x86" $(side_jobs arm) $verify_opts >"$case_dir/verify.out" 2>&1 || {
        cat "$case_dir/verify.out" >&2
        fail "$name: wfrun verify on aarch64 found a mismatch in the x86-64 run"
    }
    verdict=$(grep -E '^run [0-9]+: ' "$case_dir/verify.out") || fail "$name: no verdict from wfrun verify"
    [[ $verdict =~ :\ ([0-9]+)\ recorded.*\ ([0-9]+)\ identical,\ 0\ mismatch.*\ 0\ skipped ]] &&
        [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] && [ "${BASH_REMATCH[1]}" -gt 0 ] || {
        cat "$case_dir/verify.out" >&2
        fail "$name: wfrun verify on aarch64 did not find every record identical"
    }
    echo "cross-aarch64: $name: verified on aarch64: ${BASH_REMATCH[2]} records identical ($((SECONDS - t)) s)"

    # 4. The reverse: aarch64 writes the checkpoint, x86-64 reuses it.
    t=$SECONDS
    run_case arm "$WORK/arm" "$case_dir/arm" "$spec"
    echo "cross-aarch64: $name on aarch64: ($((SECONDS - t)) s)"
    diff <(tail -n +2 "$case_dir/x86/summary" | cut -d' ' -f1-5) <(tail -n +2 "$case_dir/arm/summary" | cut -d' ' -f1-5) >&2 ||
        fail "$name: task keys or module digest differ between x86-64 and aarch64 runs"
    cmp "$case_dir/x86/stdout" "$case_dir/arm/stdout" || fail "$name: stdout differs between x86-64 and aarch64"
    copied=$WORK/copies/$name-from-aarch64
    cp -r "$WORK/arm/$(cat "$case_dir/arm/run")/checkpoint" "$copied"
    run_case x86 "$WORK/x86-rerun" "$case_dir/x86-rerun" "$spec" --checkpoint-files "$copied"
    check_rerun "$case_dir/arm" "$case_dir/x86-rerun" "$name" "aarch64 checkpoint on x86-64"
done

step "golden keys"
if [ "${WF_BLESS:-}" = 1 ]; then
    mkdir -p "$(dirname "$GOLDEN")"
    {
        echo "# Module digests and task keys of scripts/cross-aarch64.sh's workflows, the same on"
        echo "# x86-64 and aarch64. Regenerate: WF_BLESS=1 scripts/cross-aarch64.sh"
        cat "$GOLDEN_NOW"
    } >"$GOLDEN"
    echo "cross-aarch64: wrote $GOLDEN"
fi
diff <(grep -v '^#' "$GOLDEN") "$GOLDEN_NOW" >&2 ||
    fail "the keys differ from $GOLDEN (an intended change: rerun with WF_BLESS=1 and commit it)"
echo "cross-aarch64: $(wc -l <"$GOLDEN_NOW") keys and digests equal $GOLDEN on both architectures"

step "done"
[ -n "${WF_CROSS_WORK:-}" ] || rm -rf "$WORK"
