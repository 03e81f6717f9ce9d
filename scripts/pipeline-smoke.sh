#!/usr/bin/env bash
# End-to-end check of `mscgrec-trainer run` on a tiny synthetic dataset (Tests/PipelineSmoke/tiny.json): every stage
# runs, a second run reuses them all, a changed model setting reruns only that model, and a run stopped by its time
# budget continues from where it stopped. Fails with the stage log on any mismatch.
set -euo pipefail
bin=${1:-.build/release/mscgrec-trainer}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
dir=$(mktemp -d)
trap '[[ -n "${KEEP:-}" ]] || rm -rf "$dir"' EXIT
cp Tests/PipelineSmoke/tiny.json "$dir/tiny.json"
cd "$dir"
"$bin" synth --items 80 --users 300 --name Synth --out ds/synth > /dev/null 2>&1
fail() { echo "pipeline smoke test FAILED: $1" >&2; cat "$dir/err.txt" >&2; exit 1; }
stages() { grep -oE '^\[run\] ([a-z0-9-]+: (running|cached|continuing)|finished)' err.txt | sed 's/^\[run\] //' | tr '\n' ' '; }
run() { "$bin" run --config "$1" --datasets ds --threads 1 "${@:2}" > out.txt 2> err.txt; }

run tiny.json || fail "first run exited with an error"
want="prepare: running sasrec: running codes-collaborative: running codes-coarse: running train-mscgrec: running evaluate-mscgrec: running shapley-mscgrec: running train-tiger-like: running evaluate-tiger-like: running finished "
[[ "$(stages)" == "$want" ]] || fail "first run: got '$(stages)'"
[[ $(grep -c '^| MSCGRec |' work/results.md) == 2 && $(grep -c '^| SASRec (ours) |' work/results.md) == 2 ]] || fail "results.md lacks rows"
grep -q '^| collaborative |' work/results.md || fail "results.md lacks the Shapley table"

run tiny.json || fail "second run exited with an error"
[[ "$(stages)" == "prepare: cached sasrec: cached codes-collaborative: cached codes-coarse: cached train-mscgrec: cached evaluate-mscgrec: cached shapley-mscgrec: cached train-tiger-like: cached evaluate-tiger-like: cached finished " ]] \
  || fail "second run reran: '$(stages)'"

sed 's/"epochs": 2, "warmupSteps": 5, "earlyStopping"/"epochs": 3, "warmupSteps": 5, "earlyStopping"/' tiny.json > changed.json
run changed.json || fail "changed run exited with an error"
[[ "$(stages)" == "prepare: cached sasrec: cached codes-collaborative: cached codes-coarse: cached train-mscgrec: cached evaluate-mscgrec: cached shapley-mscgrec: cached train-tiger-like: running evaluate-tiger-like: running finished " ]] \
  || fail "a TIGER-only change reran: '$(stages)'"

sed 's/"epochs": 2, "warmupSteps": 5, "validationUsers"/"epochs": 4, "warmupSteps": 5, "validationUsers"/' changed.json > stopped.json
if run stopped.json --max-minutes 0.0001; then fail "a run over its time budget exited 0"; fi
grep -q "stopped during train-mscgrec" err.txt || fail "no stop message"
run stopped.json || fail "continued run exited with an error"
[[ "$(stages)" == *"train-mscgrec: continuing"* ]] || fail "the stopped stage did not continue: '$(stages)'"
grep -q "epoch   1" err.txt && fail "the continued run trained epoch 1 again"
echo "pipeline smoke test passed (4 runs: fresh, cached, one model changed, stopped and continued)"
