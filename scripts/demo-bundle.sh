#!/usr/bin/env bash
# Creates the demo bundle `make run` serves, unless one exists: a synthetic catalog in the LC-Rec layout in
# DEMO/data, the pipeline of configs/demo.json (SASRec → collaborative codes → a small MSCGRec) in DEMO/work, and the
# bundle published to DEMO/bundles. About 2 minutes on 2 cores, once; later runs reuse it.
set -euo pipefail
trainer=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
repo=$(pwd)
demo=$2
if [[ -e "$demo/bundles/current/manifest.json" ]]; then exit 0; fi
echo "creating the demo bundle in $demo (about 2 minutes, once)..." >&2
mkdir -p "$demo"
started=$(date +%s)
[[ -f "$demo/data/Demo.inter.json" ]] || "$trainer" synth --items 600 --users 3000 --name Demo --out "$demo/data" > /dev/null
( cd "$demo" && "$trainer" run --config "$repo/configs/demo.json" --datasets . > run.log 2>&1 ) \
  || { echo "demo pipeline failed; the end of $demo/run.log:" >&2; tail -30 "$demo/run.log" >&2; exit 1; }
"$trainer" export --run "$demo/work/models/mscgrec" --out "$demo/bundles" --keep 2
echo "demo bundle ready in $(( $(date +%s) - started )) s" >&2
