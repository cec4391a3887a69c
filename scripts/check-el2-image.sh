#!/usr/bin/env bash
# Checks an invariant of the EL2 image that the compiler cannot: no code but vectors.S's own
# FP/SIMD switch (and Swift's prebuilt Unicode tables, wrapped to preserve q0) touches an FP/SIMD
# register. A guest's FP/SIMD state stays in the hardware across its exits (lazy switching), so
# one stray q-register use in hypervisor code would corrupt a guest's floating point.
#   scripts/check-el2-image.sh IMAGE
set -euo pipefail
image=${1:?usage: check-el2-image.sh IMAGE}
objdump=$(command -v llvm-objdump || echo /opt/swift/usr/bin/llvm-objdump)
allowed='^(keel_fp_save|keel_fp_load|__wrap__swift_stdlib_[A-Za-z_]+|_swift_stdlib_getMphIdx|_swift_stdlib_getScalarBitArrayIdx)$'
offenders=$("$objdump" -d --no-show-raw-insn "$image" | awk -v allowed="$allowed" '
  /^[0-9a-f]+ <.*>:$/ { fn = $2; gsub(/[<>:]/, "", fn); next }
  /\t(q|v|d|s|b|h)[0-9]+[,. ]|\t(q|v|d|s|b|h)[0-9]+$|fpcr|fpsr/ { if (fn !~ allowed) print fn }
' | sort | uniq -c)
if [ -n "$offenders" ]; then
  echo "check-el2-image: FP/SIMD registers used outside vectors.S's switch (build with -mgeneral-regs-only):" >&2
  echo "$offenders" >&2
  exit 1
fi
echo "check-el2-image: no FP/SIMD use outside the vCPU switch"
