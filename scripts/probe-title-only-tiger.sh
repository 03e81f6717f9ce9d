#!/usr/bin/env bash
# Probe of README's "What does not close our TIGER's gap": TIGER on RQ-VAE codes of item titles alone (all Beauty's
# dataset has) in a Scientific work directory, whose `TIGER` row uses title, description, brand and categories.
# Same RQ-VAE settings and TIGER config as `configs/scientific.json`; resumable (rerun the same command).
# Usage: scripts/probe-title-only-tiger.sh WORK [THREADS]   (WORK: the work directory of `run --config configs/scientific.json`)
set -euo pipefail
work="${1:?usage: $0 WORK [THREADS]}"; threads="${2:-2}"
T="${T:-.build/release/mscgrec-trainer}"
models="${MODELS:-.build/text-models}"
[[ -x "$T" ]] || swift build -c release --product mscgrec-trainer
[[ -d "$models/all-mpnet-base-v2" ]] || scripts/unpack_text_models.sh "$models"
probe="$work/probes/title-only"
mkdir -p "$probe" "$work/models/TIGER-title"
[[ -s "$probe/title-mpnet.npy" ]] || "$T" embed-text --data "$work/data" --model "$models/all-mpnet-base-v2" \
    --fields title --max-length 64 --out "$probe/title-mpnet.npy" --threads "$threads"
[[ -s "$work/data/codes/text-title-rqvae.codes" ]] || "$T" quantize --data "$work/data" --modality text-title-rqvae \
    --embeddings "$probe/title-mpnet.npy" --ids "$probe/title-mpnet.ids.txt" --method rqvae
run="$work/models/TIGER-title"
cat > "$run/train-config.json" <<'JSON'
{"model": {"modalities": ["text-title-rqvae"], "targetModality": "text-title-rqvae", "positionBias": "standard",
  "softmax": "full", "transformer": {"dModel": 128, "heads": 6, "headDim": 64, "dFF": 1024, "encoderLayers": 4,
  "decoderLayers": 4, "dropout": 0.1, "feedForward": "relu"}}}
JSON
[[ -s "$run/metrics-test.json" ]] && exit 0
resume=(); [[ -s "$run/checkpoint.safetensors" ]] && resume=(--resume)
"$T" train --data "$work/data" --config "$run/train-config.json" --out "$run" --threads "$threads" "${resume[@]}"
"$T" evaluate --run "$run" --threads "$threads"    # writes both protocols
