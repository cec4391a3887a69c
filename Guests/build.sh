#!/bin/sh
# Builds the bare-metal test guests: Guests/build.sh OUTDIR  ->  OUTDIR/hostile.elf, OUTDIR/microbench.elf,
# OUTDIR/conformance.elf, OUTDIR/conformance.bin,
# OUTDIR/ipibench.elf
# Overridable: CLANG, LLD, HOSTILE_CFLAGS (e.g. -DHOSTILE_DEFAULT_RAM_MIB=128),
# MICROBENCH_CFLAGS (e.g. -DMICROBENCH_ITERATIONS=100000), IPIBENCH_CFLAGS (e.g. -DIPIBENCH_ITERATIONS=500).
set -eu
out=${1:?usage: Guests/build.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
CLANG=${CLANG:-/opt/swift/usr/bin/clang}
LLD=${LLD:-/opt/swift/usr/bin/ld.lld}
mkdir -p "$out"
obj=$(mktemp -d)
trap 'rm -rf "$obj"' EXIT

# -mgeneral-regs-only: CPACR_EL1 traps FP/SIMD at reset, and the guest never enables it.
# -mstrict-align: with the MMU off every data access is Device memory, where unaligned accesses fault.
BASE_CFLAGS="--target=aarch64-none-elf -ffreestanding -nostdlib -fno-builtin -mgeneral-regs-only -mstrict-align
        -fno-stack-protector -fno-pic -O2 -Wall -Wextra -Werror -I$here/common"
CFLAGS="$BASE_CFLAGS ${HOSTILE_CFLAGS:-}"

# shellcheck disable=SC2086
"$CLANG" $CFLAGS -c "$here/hostile/start.S" -o "$obj/start.o"
# shellcheck disable=SC2086
"$CLANG" $CFLAGS -c "$here/hostile/hostile.c" -o "$obj/hostile.o"
"$LLD" -T "$here/hostile/link.ld" -static -nostdlib --no-dynamic-linker \
  "$obj/start.o" "$obj/hostile.o" -o "$out/hostile.elf"
echo "built $out/hostile.elf"

# shellcheck disable=SC2086
"$CLANG" $BASE_CFLAGS ${MICROBENCH_CFLAGS:-} -c "$here/microbench/start.S" -o "$obj/mb-start.o"
# shellcheck disable=SC2086
"$CLANG" $BASE_CFLAGS ${MICROBENCH_CFLAGS:-} -c "$here/microbench/microbench.c" -o "$obj/microbench.o"
"$LLD" -T "$here/microbench/link.ld" -static -nostdlib --no-dynamic-linker \
  "$obj/mb-start.o" "$obj/microbench.o" -o "$out/microbench.elf"
echo "built $out/microbench.elf"

# shellcheck disable=SC2086
"$CLANG" $BASE_CFLAGS ${IPIBENCH_CFLAGS:-} -c "$here/microbench/ipi-start.S" -o "$obj/ipi-start.o"
# shellcheck disable=SC2086
"$CLANG" $BASE_CFLAGS ${IPIBENCH_CFLAGS:-} -c "$here/microbench/ipibench.c" -o "$obj/ipibench.o"
"$LLD" -T "$here/microbench/link.ld" -static -nostdlib --no-dynamic-linker \
  "$obj/ipi-start.o" "$obj/ipibench.o" -o "$out/ipibench.elf"
echo "built $out/ipibench.elf"

# shellcheck disable=SC2086
"$CLANG" $BASE_CFLAGS -c "$here/conformance/start.S" -o "$obj/cf-start.o"
# shellcheck disable=SC2086
"$CLANG" $BASE_CFLAGS -c "$here/conformance/conformance.c" -o "$obj/conformance.o"
"$LLD" -T "$here/hostile/link.ld" -static -nostdlib --no-dynamic-linker \
  "$obj/cf-start.o" "$obj/conformance.o" -o "$out/conformance.elf"
# The raw form, linked at 0x40080000 (run with --load-address 0x40080000): QEMU then passes it
# the DTB and the command line as it would a kernel, which an ELF does not get.
"${OBJCOPY:-/opt/swift/usr/bin/llvm-objcopy}" -O binary "$out/conformance.elf" "$out/conformance.bin"
echo "built $out/conformance.elf, $out/conformance.bin"
