#!/bin/sh
# Builds the bare-metal test guests: Guests/build.sh OUTDIR  ->  OUTDIR/hostile.elf
# Overridable: CLANG, LLD, HOSTILE_CFLAGS (e.g. -DHOSTILE_DEFAULT_RAM_MIB=128).
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
CFLAGS="--target=aarch64-none-elf -ffreestanding -nostdlib -fno-builtin -mgeneral-regs-only -mstrict-align
        -fno-stack-protector -fno-pic -O2 -Wall -Wextra -Werror ${HOSTILE_CFLAGS:-}"

# shellcheck disable=SC2086
"$CLANG" $CFLAGS -c "$here/hostile/start.S" -o "$obj/start.o"
# shellcheck disable=SC2086
"$CLANG" $CFLAGS -c "$here/hostile/hostile.c" -o "$obj/hostile.o"
"$LLD" -T "$here/hostile/link.ld" -static -nostdlib --no-dynamic-linker \
  "$obj/start.o" "$obj/hostile.o" -o "$out/hostile.elf"
echo "built $out/hostile.elf"
