#!/usr/bin/env bash
# Builds the libFuzzer targets in Fuzz/ and runs each for a fixed number of executions.
#
#   bash bench/fuzz.sh [--runs N] [--quick] [--build-only] [TARGET ...]
#
# Targets: fdt vmx hostfile configmodule image backdoor mmio (default: all).
# Environment: FUZZ_RUNS (executions per target, default 1000000; --quick is 20000),
# FUZZ_SEED (1), FUZZ_TIMEOUT (seconds one input may take, 10), FUZZ_RSS_MB (memory limit, 2048),
# FUZZ_TARGET_TIMEOUT (seconds per target, 1800), FUZZ_MAX_LEN (bytes, 4096),
# FUZZ_SANITIZE (fuzzer,address), FUZZ_SCRATCH (.build-fuzz).
#
# Nothing goes through SwiftPM: each portable module is compiled by swiftc into a static library
# under the scratch path with coverage instrumentation (-sanitize=fuzzer, plus AddressSanitizer)
# at -O with debug preconditions kept (-assert-config Debug, so unsafe-buffer bounds are still
# checked), and each Fuzz/<Target>.swift harness, which defines LLVMFuzzerTestOneInput, is linked
# against them with libFuzzer's main. The normal .build is never touched.
# KeelHost is compiled from the Foundation-free files the .vmx and host-file parsers need; the
# GuestFlavour enum is cut out of ToolsGuest.swift, whose rest needs swift-crypto.
#
# Each target starts from its seeds in Fuzz/Corpus/<target>/ (read-only; what the fuzzer finds
# goes to the scratch path). Crash inputs land in <scratch>/artifacts/<target>/.
# Exit status: 0 when every target ran its executions without a crash, else 1.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

RUNS=${FUZZ_RUNS:-1000000}
SEED=${FUZZ_SEED:-1}
TIMEOUT=${FUZZ_TIMEOUT:-10}
RSS_MB=${FUZZ_RSS_MB:-2048}
TARGET_TIMEOUT=${FUZZ_TARGET_TIMEOUT:-1800}
MAX_LEN=${FUZZ_MAX_LEN:-4096}
SANITIZE=${FUZZ_SANITIZE:-fuzzer,address}
SCRATCH=${FUZZ_SCRATCH:-.build-fuzz}
BUILD_ONLY=0
ALL_TARGETS=(fdt vmx hostfile configmodule image backdoor mmio)
TARGETS=()
while (($#)); do
  case $1 in
    --runs) RUNS=$2; shift ;;
    --runs=*) RUNS=${1#--runs=} ;;
    --quick) RUNS=20000 ;;
    --build-only) BUILD_ONLY=1 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) TARGETS+=("$1") ;;
  esac
  shift
done
((${#TARGETS[@]})) || TARGETS=("${ALL_TARGETS[@]}")

if ! command -v swiftc >/dev/null; then export PATH=/opt/swift/usr/bin:$PATH; fi
case $SCRATCH in /*) ;; *) SCRATCH=$ROOT/$SCRATCH ;; esac
MOD=$SCRATCH/modules LIB=$SCRATCH/lib BIN=$SCRATCH/bin GEN=$SCRATCH/generated
mkdir -p "$MOD" "$LIB" "$BIN" "$GEN"
FLAGS=(-O -assert-config Debug -g -sanitize="$SANITIZE" -parse-as-library -I "$MOD")

# The flags are part of every output's identity: changing them rebuilds everything.
STAMP=$SCRATCH/flags
if [[ ! -f $STAMP || "$(cat "$STAMP")" != "${FLAGS[*]} $(swiftc --version 2>&1 | head -1)" ]]; then
  rm -f "$LIB"/*.a "$BIN"/*
  echo "${FLAGS[*]} $(swiftc --version 2>&1 | head -1)" > "$STAMP"
fi

# up_to_date OUTPUT INPUT...: OUTPUT exists and is newer than every input.
up_to_date() {
  local out=$1; shift
  [[ -f $out ]] || return 1
  local f
  for f in "$@"; do [[ $f -nt $out ]] && return 1; done
  return 0
}

# module NAME DEPENDENCY-LIBS -- SOURCES...
module() {
  local name=$1; shift
  local deps=()
  while [[ $1 != -- ]]; do deps+=("$LIB/lib$1.a"); shift; done
  shift
  if up_to_date "$LIB/lib$name.a" "$@" "${deps[@]}" "$0"; then return; fi
  echo "fuzz: building module $name" >&2
  swiftc "${FLAGS[@]}" -module-name "$name" -wmo -emit-library -static \
    -emit-module -emit-module-path "$MOD/$name.swiftmodule" -o "$LIB/lib$name.a" "$@"
}

# harness TARGET FILE LIBS...
harness() {
  local target=$1 file=$2; shift 2
  local libs=() l
  for l in "$@"; do libs+=("$LIB/lib$l.a"); done
  if up_to_date "$BIN/$target" "$ROOT/Fuzz/$file" "${libs[@]}" "$0"; then return; fi
  echo "fuzz: linking $target" >&2
  swiftc "${FLAGS[@]}" -module-name "Fuzz_$target" "$ROOT/Fuzz/$file" "${libs[@]}" -o "$BIN/$target"
}

needs() { local t; for t in "${TARGETS[@]}"; do for w in "$@"; do [[ $t == "$w" ]] && return 0; done; done; return 1; }

for t in "${TARGETS[@]}"; do
  [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || { echo "fuzz.sh: unknown target $t (${ALL_TARGETS[*]})" >&2; exit 2; }
done

S=$ROOT/Sources
src() { find "$S/$1" -name '*.swift' | sort; }
# The portable modules, in dependency order (as Package.swift has them).
portable() {
  module KeelArch -- $(src KeelArch)
  module KeelFDT KeelArch -- $(src KeelFDT)
  module KeelDevices KeelArch -- $(src KeelDevices)
  module KeelVGIC KeelArch -- $(src KeelVGIC)
  module KeelPSCI KeelArch -- $(src KeelPSCI)
  module KeelLoader -- $(src KeelLoader)
  module KeelSched -- $(src KeelSched)
  module KeelVM KeelArch KeelFDT KeelDevices KeelVGIC KeelPSCI KeelLoader KeelSched -- $(src KeelVM)
}
VMLIBS=(KeelVM KeelArch KeelFDT KeelDevices KeelVGIC KeelPSCI KeelLoader KeelSched)
portable
if needs fdt; then harness fdt FDT.swift KeelFDT KeelArch; fi
if needs vmx hostfile; then
  # ToolsGuest.swift needs DefaultGuest (swift-crypto); only its GuestFlavour enum is wanted.
  awk '/^public enum GuestFlavour/ { on = 1 } on { print } on && /^}/ { exit }' "$S/KeelHost/ToolsGuest.swift" \
    > "$GEN/GuestFlavour.swift.new"
  cmp -s "$GEN/GuestFlavour.swift.new" "$GEN/GuestFlavour.swift" 2>/dev/null \
    || mv "$GEN/GuestFlavour.swift.new" "$GEN/GuestFlavour.swift"
  rm -f "$GEN/GuestFlavour.swift.new"
  module KeelHost "${VMLIBS[@]}" -- "$GEN/GuestFlavour.swift" \
    "$S"/KeelHost/{VMXFile,HostFile,HostResources,VMConfiguration,QEMUCommand,RunOptions,HypervisorConfigModule,GuestImageCheck}.swift
  needs vmx && harness vmx VMX.swift KeelHost "${VMLIBS[@]}"
  needs hostfile && harness hostfile HostFile.swift KeelHost "${VMLIBS[@]}"
fi
if needs image; then harness image GuestImage.swift KeelLoader; fi
if needs backdoor; then
  module KeelBackdoor -- $(src KeelBackdoor)
  harness backdoor Backdoor.swift KeelBackdoor
fi
needs configmodule && harness configmodule ConfigModule.swift "${VMLIBS[@]}"
needs mmio && harness mmio MMIO.swift "${VMLIBS[@]}"
((BUILD_ONLY)) && { echo "fuzz: built ${TARGETS[*]} in $BIN"; exit 0; }

# Crashes are libFuzzer's to report: the Swift runtime's backtracer would otherwise take the signal.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=0}

printf '%-13s %12s %9s %10s  %s\n' target executions seconds exec/s result
failed=0 total_runs=0 start_all=$(date +%s.%N)
for t in "${TARGETS[@]}"; do
  work=$SCRATCH/corpus/$t art=$SCRATCH/artifacts/$t log=$SCRATCH/logs/$t.log
  rm -rf "$work"; mkdir -p "$work" "$art" "$(dirname "$log")"
  seeds=()
  [[ -d $ROOT/Fuzz/Corpus/$t ]] && seeds=("$ROOT/Fuzz/Corpus/$t")
  start=$(date +%s.%N)
  set +e
  # The first corpus directory receives new inputs; the seed directory is only read.
  timeout -k 10 $((TARGET_TIMEOUT + 30)) "$BIN/$t" -runs="$RUNS" -seed="$SEED" -timeout="$TIMEOUT" \
    -rss_limit_mb="$RSS_MB" -malloc_limit_mb="$RSS_MB" -max_len="$MAX_LEN" -max_total_time="$TARGET_TIMEOUT" \
    -print_final_stats=1 -artifact_prefix="$art/" "$work" "${seeds[@]}" >"$log" 2>&1
  status=$?
  set -e
  seconds=$(echo "$(date +%s.%N) - $start" | bc)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  execs=${execs:-0}
  if ((status == 0)) && ((execs >= RUNS)); then
    result=ok
  elif ((status == 0)); then
    result="stopped at the ${TARGET_TIMEOUT}s limit"; failed=1
  else
    what=$(grep -m1 -oE 'ERROR: libFuzzer: [a-z -]+|ERROR: AddressSanitizer: [a-z-]+|Fatal error: .*|Precondition failed: .*' "$log" || true)
    artifact=$(sed -n 's/.*Test unit written to //p' "$log" | tail -1)
    result="FAILED (exit $status${what:+: $what}${artifact:+; input $artifact}; log $log)"
    failed=1
  fi
  total_runs=$((total_runs + execs))
  printf '%-13s %12d %9.1f %10.0f  %s\n' "$t" "$execs" "$seconds" "$(echo "$execs / ($seconds + 0.001)" | bc -l)" "$result"
done
total_seconds=$(echo "$(date +%s.%N) - $start_all" | bc)
if ((failed)); then
  printf 'fuzz: FAILED: %d targets, %d executions in %.0f s; see the results above\n' "${#TARGETS[@]}" "$total_runs" "$total_seconds"
  exit 1
fi
printf 'fuzz: ok: %d targets, %d executions in %.0f s (%d per target, seed %s)\n' \
  "${#TARGETS[@]}" "$total_runs" "$total_seconds" "$RUNS" "$SEED"
