#!/usr/bin/env bash
# Runs the already-built test bundle and ends with one plain "N passed, M failed" line (XCTest's own summary is
# followed by Swift Testing's "0 tests" line, which would otherwise be the last word on the run).
set -uo pipefail
# XCTest owns the test process's main, so the trainer makes the OpenBLAS kernel choice for it (BLASRuntime): its
# re-executed process exports the chosen core; nothing is exported when OpenBLAS's own core (or an explicit
# OPENBLAS_CORETYPE) is kept.
build_args=(); for a in "$@"; do [[ "$a" == --skip-build ]] || build_args+=("$a"); done
bin=$(swift build "${build_args[@]}" --show-bin-path 2>/dev/null | tail -1)
if [[ -x "$bin/mscgrec-trainer" ]]; then
  eval "$("$bin/mscgrec-trainer" env --exports)"
  "$bin/mscgrec-trainer" env | tail -1
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
swift test "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# XCTest's closing line: "Executed N tests, with F failures" or, when some were skipped, "Executed N tests, with S
# tests skipped and F failures"; its last one covers the whole run.
summary=$(grep -E '^[[:space:]]*Executed [0-9]+ tests?, with ([0-9]+ tests? skipped and )?[0-9]+ failures?' "$log" | tail -1)
total=$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$summary")
failed=$(sed -E 's/.* ([0-9]+) failures?.*/\1/' <<<"$summary")
skipped=0
[[ "$summary" =~ ([0-9]+)\ tests?\ skipped ]] && skipped=${BASH_REMATCH[1]}
if [[ -z "$summary" ]]; then
  echo "0 passed, 0 failed"
  echo "no XCTest summary found: the test bundle did not run" >&2
  exit 1
fi
if ((skipped)); then echo "$((total - failed - skipped)) passed, $failed failed, $skipped skipped"
else echo "$((total - failed)) passed, $failed failed"; fi
exit "$status"
