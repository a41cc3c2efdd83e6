#!/usr/bin/env bash
# Checks that `wfrun report`'s page renders in a real browser: runs the basics example (a run
# that executes, its resumed run where every task is cached, a failing run, and a call whose
# panic message is hostile markup), writes each run's report, loads it in headless Chromium and
# fails unless the script drew one mark per task and no markup from the run became an element.
# Installs Debian's chromium if it is missing (needs root). Screenshots go to
# target/report-check/ (or $WF_REPORT_CHECK_DIR) to be looked at.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${WF_REPORT_CHECK_DIR:-$root/target/report-check}
mkdir -p "$out"

if ! command -v chromium >/dev/null; then
  echo "== installing chromium (Debian)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

echo "== building wfrun and apps/basics"
cargo build -q -p wf-runtime --bin wfrun
wfrun=$root/target/debug/wfrun
module=$("$wfrun" build apps/basics --target-dir target/wf-test-wasm)

work=$(mktemp -d)
profile=$(mktemp -d)
trap 'rm -rf "$work" "$profile"' EXIT
cd "$work"
"$wfrun" run "$module" -j 2 >/dev/null 2>&1
"$wfrun" run "$module" -j 2 --resume >/dev/null 2>&1
# Both fail on purpose (exit 1): a failed dependency, and a panic whose message is markup.
"$wfrun" run "$module" --entry failing >/dev/null 2>&1 && { echo "run failing succeeded"; exit 1; }
"$wfrun" call "$module" boom '</script><b id="injected">bold</b><script>document.title="pwned"</script>' \
  >/dev/null 2>&1 && { echo "call boom succeeded"; exit 1; }

chromium_run() {
  chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --window-size=1400,900 "$@" 2>/dev/null
}

status=0
for run in 000 001 002 003; do
  page=$("$wfrun" report "$run")
  # One line per task in summary.json: the marks the page must draw.
  tasks=$(grep -c '"status":"' "runinfo/$run/summary.json")
  dom=$(chromium_run --dump-dom "file://$work/$page")
  marks=$(grep -o 'data-marks="[0-9]*"' <<<"$dom" | grep -o '[0-9]*' || true)
  injected=$(grep -c '<b id="injected"' <<<"$dom" || true)
  chromium_run --screenshot="$out/run-$run.png" "file://$work/$page" >/dev/null
  if [[ "$marks" != "$tasks" || "$injected" != 0 || "$dom" == *"<title>pwned"* ]]; then
    echo "FAIL run $run: drew ${marks:-no} marks for $tasks tasks; injected elements: $injected"
    status=1
  else
    echo "ok   run $run: $marks marks for $tasks tasks; screenshot $out/run-$run.png"
  fi
done
# A zoomed view from the address: fewer marks, and the page says which window it shows.
page=$("$wfrun" report 000)
dom=$(chromium_run --dump-dom "file://$work/$page#t=0-0.000001")
marks=$(grep -o 'data-marks="[0-9]*"' <<<"$dom" | grep -o '[0-9]*' || true)
if [[ -z "$marks" || "$marks" -ge 9 || "$dom" != *"showing 0.0000–0.0000 s of"* ]]; then
  echo "FAIL zoom: ${marks:-no} marks in the first microsecond of run 000"
  status=1
else
  echo "ok   zoom: $marks marks in the first microsecond of run 000"
fi
exit $status
