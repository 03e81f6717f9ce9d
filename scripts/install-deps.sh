#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and the benchmarks need, only when missing (idempotent).
# Usage: scripts/install-deps.sh [build|test|bench]
set -euo pipefail
mode="${1:-build}"

# Libraries linked by the package (see README, "System packages").
pkgs=(libopenblas-dev libnghttp2-dev libssl-dev libsqlite3-dev zlib1g-dev pkg-config)
# Real protocol clients the live HTTP tests drive.
if [[ "$mode" == test || "$mode" == bench ]]; then pkgs+=(curl nghttp2-client openssl); fi

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

# PyTorch is only for the reference side of benchmarks (and for regenerating fixtures); never for the product.
if [[ "$mode" == bench ]]; then
  python3 -c 'import torch, safetensors' 2>/dev/null || pip install -q torch==2.13.0 safetensors numpy
fi
