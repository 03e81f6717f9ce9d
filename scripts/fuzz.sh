#!/usr/bin/env bash
# Coverage-guided fuzzing of every reader of untrusted bytes, with Swift's built-in libFuzzer support
# (`swiftc -sanitize=fuzzer,address`; the runtime ships with the Swift toolchain in lib/clang/*/lib/linux).
#
#   scripts/fuzz.sh [target ...]      FUZZ_SECONDS per target (default 180), all targets when none are named
#   FUZZ_SECONDS=0 scripts/fuzz.sh    only compile the fuzz binaries
#
# Each fuzzed module is compiled from its sources together with its Fuzz/<module>/target.swift (so the target can
# call internal parsers), against instrumented builds of the modules it imports. One binary serves the module's
# targets, chosen by FUZZ_TARGET. Seeds are committed under Fuzz/corpus/<target>; what a run discovers goes to
# .build/fuzz/corpus/<target> (not committed). A crash stops the run, leaves the input in .build/fuzz/artifacts and
# makes this script fail: turn it into a regression test, fix, rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-180}"
out=.build/fuzz
mkdir -p "$out/lib" "$out/bin" "$out/artifacts"
flags=(-package-name mscgrec -O -parse-as-library -sanitize=fuzzer,address -swift-version 6 -I "$out/lib"
       -I Sources/CNghttp2 -I Sources/CSQLite -I Sources/CZlib -I Sources/CJPEG -I Sources/CPNG)
libs=(-lnghttp2 -lsqlite3 -lz -ljpeg -lpng16)

# target -> binary (module)
declare -A module=(
  [http1]=HTTPCore [http2]=HTTPCore
  [safetensors]=SafeTensors
  [json]=JSONText [dataset-bin]=Datasets [dataset-text]=Datasets
  [flat-json]=Evaluation
  [npy]=Codes [prefix-tree]=Codes [codes]=Codes [lcrec-index]=Codes
  [image]=Images
  [recommend-request]=RecommendAPI [admin-auth]=RecommendAPI
)
all=(http1 http2 safetensors json dataset-bin dataset-text flat-json npy prefix-tree codes lcrec-index image recommend-request admin-auth)

# The code-file readers as one module: ItemCodes plus Quantization's two input readers (which need no numeric code;
# the npy reader's matrix forms live apart in NpyFile+FloatMatrix.swift); the copies compiled here drop their
# `import ItemCodes`, since it is the same module.
codes_files=(ItemCodes/CodesError ItemCodes/CodesFile ItemCodes/CollisionLevel ItemCodes/PrefixTree
  ItemCodes/PrefixTreeFile Quantization/NpyFile Quantization/LCRecIndex)

newer() {  # newer OUTPUT INPUT... : true when OUTPUT is missing or older than an input
  local target=$1; shift
  [[ -e "$target" ]] || return 0
  for f in "$@"; do [[ "$f" -nt "$target" ]] && return 0; done
  return 1
}

library() {  # library NAME FILES... : an instrumented static library and its .swiftmodule
  local name=$1; shift
  newer "$out/lib/lib$name.a" "$@" || return 0
  echo "fuzz: compiling $name" >&2
  swiftc "${flags[@]}" -module-name "$name" -emit-module -emit-module-path "$out/lib/$name.swiftmodule" \
    -emit-library -static -o "$out/lib/lib$name.a" "$@"
}

binary() {  # binary MODULE : the module's sources + its fuzz target, linked with the libraries it imports
  local name=$1 deps=() files=()
  case "$name" in
    HTTPCore) files=(Sources/HTTPCore/*.swift) ;;
    JSONText) files=(Sources/JSONText/*.swift) ;;
    SafeTensors) deps=(JSONText); files=(Sources/SafeTensors/*.swift) ;;
    Evaluation) deps=(JSONText); files=(Sources/Evaluation/*.swift) ;;
    # the decoders only (augmentations and sources need the engine and threads, not untrusted bytes)
    Images) files=(Sources/Images/RGBImage.swift Sources/Images/ImageDecoding.swift Sources/Images/ImageQuality.swift Sources/Images/Resampling.swift) ;;
    Datasets) deps=(MSCCore JSONText Catalog BinaryFiles); files=(Sources/Datasets/*.swift) ;;
    # the server's request decoders only (the rest of the module needs the model and the HTTP server)
    RecommendAPI) deps=(HTTPCore); files=(Sources/RecommendationServer/RecommendAPI.swift) ;;
    Codes)
      deps=(MSCCore JSONText Catalog BinaryFiles)
      mkdir -p "$out/src/Codes"
      for f in "${codes_files[@]}"; do
        local copy="$out/src/Codes/${f#*/}.swift"
        grep -v '^import ItemCodes$' "Sources/$f.swift" > "$copy.new"
        cmp -s "$copy.new" "$copy" || mv "$copy.new" "$copy"
        rm -f "$copy.new"
        files+=("$copy")
      done ;;
  esac
  library MSCCore Sources/MSCCore/*.swift
  library JSONText Sources/JSONText/*.swift
  [[ " ${deps[*]} " == *" Catalog "* ]] && library Catalog Sources/Catalog/*.swift
  [[ " ${deps[*]} " == *" BinaryFiles "* ]] && library BinaryFiles Sources/BinaryFiles/*.swift
  [[ " ${deps[*]} " == *" HTTPCore "* ]] && library HTTPCore Sources/HTTPCore/*.swift
  local dep_libs=()
  for d in "${deps[@]}"; do dep_libs+=("$out/lib/lib$d.a"); done
  local target="Fuzz/$(tr '[:upper:]' '[:lower:]' <<<"$name")/target.swift"
  newer "$out/bin/$name" "${files[@]}" "$target" "${dep_libs[@]}" || return 0
  echo "fuzz: compiling $name fuzz binary" >&2
  swiftc "${flags[@]}" -module-name "$name" "${files[@]}" "$target" "${dep_libs[@]}" "${libs[@]}" -o "$out/bin/$name" \
    2> >(grep -v "Cannot export local symbol" >&2)
}

targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")
for t in "${targets[@]}"; do [[ -n "${module[$t]:-}" ]] || { echo "unknown fuzz target '$t' (known: ${all[*]})" >&2; exit 2; }; done
for m in $(for t in "${targets[@]}"; do echo "${module[$t]}"; done | sort -u); do binary "$m"; done
[[ "$seconds" == 0 ]] && exit 0

status=0
summary=()
for t in "${targets[@]}"; do
  mkdir -p "$out/corpus/$t" "Fuzz/corpus/$t"
  log="$out/$t.log"
  echo "fuzz: $t for ${seconds}s" >&2
  # Leak checking is off: the Swift runtime's metadata caches look like leaks to LeakSanitizer.
  if FUZZ_TARGET="$t" ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 "$out/bin/${module[$t]}" \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$out/artifacts/$t-" "$out/corpus/$t" "Fuzz/corpus/$t" >"$log" 2>&1; then
    result=ok
  else
    result="CRASH (see $log and $out/artifacts/$t-*)"
    status=1
    tail -40 "$log" >&2
  fi
  last=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.* corp: ([0-9]+).*/\1/p' <<<"$last")
  runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+)/\1/p' "$log")
  rate=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+)/\1/p' "$log")
  summary+=("$(printf '%-13s %5ss %10s runs %8s exec/s  cov %5s  ft %6s  corpus %5s  %s' \
    "$t" "$seconds" "${runs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result")")
done
printf '%s\n' "fuzz summary (${seconds}s per target):" "${summary[@]}"
exit "$status"
