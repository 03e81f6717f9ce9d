#!/usr/bin/env bash
# End-to-end check of `mscgrec-trainer run` on a tiny synthetic dataset (Tests/PipelineSmoke/tiny.json): every stage
# runs, a second run reuses them all, a changed model setting reruns only that model, and a run stopped by its time
# budget continues from where it stopped. Fails with the stage log on any mismatch.
set -euo pipefail
bin=${1:-.build/release/mscgrec-trainer}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
repo=$(pwd)
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
head -1 err.txt | grep -qE '^mscgrec-trainer [0-9.]+: CPU .+; OpenBLAS core [A-Za-z0-9]+ ' || fail "the run does not start by naming the CPU and BLAS core"
[[ $(grep -c '^| MSCGRec | [0-9]' work/results.md) == 2 && $(grep -c '^| SASRec (ours) |' work/results.md) == 2 ]] || fail "results.md lacks rows"
grep -q '^| collaborative |' work/results.md || fail "results.md lacks the Shapley table"
grep -qE '^\| MSCGRec \| excluded \| [+-][0-9.]+ ± [0-9.]+ \(z [+-][0-9.]+\) \|' work/results.md || fail "results.md lacks the paired differences"

run tiny.json || fail "second run exited with an error"
[[ "$(stages)" == "prepare: cached sasrec: cached codes-collaborative: cached codes-coarse: cached train-mscgrec: cached evaluate-mscgrec: cached shapley-mscgrec: cached train-tiger-like: cached evaluate-tiger-like: cached finished " ]] \
  || fail "second run reran: '$(stages)'"

# Rank lists pair two runs user by user: SASRec ranked again by `evaluate` (on a copy) repeats its own files exactly,
# and `compare` pairs it with the MSCGRec row.
cp -r work/sasrec sasrec-again
"$bin" evaluate --run sasrec-again --data work/data --threads 1 > /dev/null 2> err.txt || fail "evaluate of a SASRec run failed"
for f in metrics-test-history-excluded.json ranks-test-history-excluded.txt ranks-test-history-kept.txt; do
  cmp -s "work/sasrec/$f" "sasrec-again/$f" || fail "evaluate of the SASRec run differs from sasrec's own $f"
done
# An ensemble of one run with itself ranks as that run (the mean of two equal distributions is the distribution);
# its files go to --out, never into the run.
"$bin" evaluate --run work/sasrec --ensemble sasrec-again --data work/data --out sasrec-twice --threads 1 > /dev/null 2> err.txt \
  || fail "evaluate --ensemble failed: $(cat err.txt)"
for f in ranks-test-history-excluded.txt ranks-test-history-kept.txt; do
  cmp -s "work/sasrec/$f" "sasrec-twice/$f" || fail "a SASRec run ensembled with itself ranks differently ($f)"
done
"$bin" evaluate --run work/sasrec --ensemble sasrec-again --data work/data > /dev/null 2> err.txt && fail "--ensemble without --out was accepted"
grep -q -- '--ensemble needs --out' err.txt || fail "--ensemble without --out: $(cat err.txt)"
"$bin" compare work/models/mscgrec work/sasrec > compare.txt 2> err.txt || fail "compare exited with an error"
[[ $(grep -c '^recall@10 ' compare.txt) == 2 && $(grep -c '300 users, paired' compare.txt) == 2 ]] || fail "compare printed: $(cat compare.txt)"
# By history length: the groups hold every user once (300 in all).
"$bin" compare work/models/mscgrec work/sasrec --data work/data > compare.txt 2> err.txt || fail "compare --data: $(cat err.txt)"
python3 - <<'PY' || fail "compare --data printed: $(cat compare.txt)"
import re, sys
text = open("compare.txt").read()
parts = text.split("by history length")[1:]
sys.exit(len(parts) != 2 or any(sum(int(m) for m in re.findall(r"^\S+(?: \S+)?\s+(\d+)\s+\d\.\d{4}", p, re.M)) != 300 for p in parts))
PY
"$bin" compare work/models/mscgrec ds > /dev/null 2> err.txt && fail "compare accepted a directory without rank lists"
grep -q 'ranks-test-history-kept.txt is missing' err.txt || fail "compare's missing-file message"

# A row distilled from the pipeline's SASRec (training.distillation): only it trains, with --teacher WORK/sasrec.
python3 - <<'PY'
import json
config = json.load(open("tiny.json"))
row = json.loads(json.dumps(config["models"][1]))
row["name"] = "Distilled"
row["config"]["model"]["softmax"] = "constrained"
row["config"]["training"]["distillation"] = {"weight": 0.5, "temperature": 2}
row["config"]["model"]["prefixBuckets"] = 64
row["config"]["model"]["decoderPrefixes"] = True
row["config"]["model"]["prefixLogits"] = True
config["models"].append(row)
json.dump(config, open("distilled.json", "w"))
PY
run distilled.json || fail "distilled run exited with an error"
[[ "$(stages)" == "prepare: cached sasrec: cached codes-collaborative: cached codes-coarse: cached train-mscgrec: cached evaluate-mscgrec: cached shapley-mscgrec: cached train-tiger-like: cached evaluate-tiger-like: cached train-distilled: running evaluate-distilled: running finished " ]] \
  || fail "distilled run: got '$(stages)'"
grep -q 'distilling SASRec .*/work/sasrec (weight 0.5, temperature 2.0, history items excluded)' err.txt || fail "the distilled row did not get --teacher WORK/sasrec"
grep -q '"teacher" : ".*work.*sasrec"' work/models/distilled/config.json || fail "the distilled run does not record its teacher"
grep -q 'prefix table 64 rows × 2 hashes, encoder, decoder, logits' err.txt || fail "the distilled row's start-up line lacks its prefix table"
grep -q '"prefixBuckets" : 64' work/models/distilled/config.json || fail "the distilled run does not record prefixBuckets"
grep -q '"decoderPrefixes" : true' work/models/distilled/config.json || fail "the distilled run does not record decoderPrefixes"
grep -q '"prefixLogits" : true' work/models/distilled/config.json || fail "the distilled run does not record prefixLogits"
grep -q '"formatVersion" : 4' work/models/distilled/config.json || fail "the distilled run's model config is not format version 4"
grep -q '^| Distilled |' work/results.md || fail "results.md lacks the distilled row"
# Two teachers: the student learns their mean distribution, and its record lists both.
python3 -c 'import json; json.dump(json.load(open("distilled.json"))["models"][-1]["config"], open("distilled-row.json", "w"))'
"$bin" train --data work/data --config distilled-row.json --teacher work/sasrec --teacher sasrec-again --out two-teachers \
  --threads 1 > /dev/null 2> err.txt || fail "train with two teachers failed: $(cat err.txt)"
grep -q 'distilling SASRec .*work/sasrec + .*sasrec-again' err.txt || fail "two teachers: $(grep distilling err.txt)"
python3 -c 'import json, sys; t = json.load(open("two-teachers/config.json"))["teachers"]; sys.exit(len(t) != 2)' \
  || fail "the two-teacher run does not record both teachers"

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

# An image modality: an RQ-DINO encoder stage, then image-codes, on a RecBole dataset whose 40 items show the committed
# fixture photos (each file several times), 60 users stepping round the items.
mkdir -p ds/posters/posters
photos=("$repo"/Tests/ImagesTests/Fixtures/{photo.jpg,photo-progressive.jpg,gray.jpg,photo.png,alpha.png,palette.png,gray16.png})
{
  echo '{'
  for i in $(seq 1 40); do
    photo=${photos[$(( i % ${#photos[@]} ))]}; file="$i.${photo##*.}"
    cp "$photo" "ds/posters/posters/$file"
    echo "\"$i\": {\"title\": \"Item $i\", \"image\": \"posters/$file\"}$([[ $i -lt 40 ]] && echo ,)"
  done
  echo '}'
} > ds/posters/posters.item.json
{
  printf 'user_id:token\titem_id:token\trating:float\ttimestamp:float\n'
  for u in $(seq 1 60); do for k in $(seq 0 7); do
    printf '%d\t%d\t4\t%d\n' "$u" $(( (u * 7 + 3 * k) % 40 + 1 )) $(( 1000 + k ))
  done; done
} > ds/posters/posters.inter
cp "$repo/Tests/PipelineSmoke/images.json" images.json
run images.json || fail "image run exited with an error"
want="prepare: running sasrec: running codes-collaborative: running encoder-image: running codes-image: running train-mscgrec: running evaluate-mscgrec: running finished "
[[ "$(stages)" == "$want" ]] || fail "image run: got '$(stages)'"
grep -q 'codebook EMA decay 0.99' err.txt || fail "the encoder stage did not pass --codebook-decay to rqdino"
grep -q '40 of 40 items have a usable image' err.txt || fail "image-codes did not encode every item's image"
grep -q '^| MSCGRec |' work-images/results.md || fail "image run: results.md lacks the MSCGRec row"
run images.json || fail "second image run exited with an error"
[[ "$(stages)" == "${want//running/cached}" ]] || fail "second image run reran: '$(stages)'"
echo "pipeline smoke test passed (5 runs: fresh, cached, a distilled row added, one model changed, stopped and continued; an image modality fresh and cached)"
