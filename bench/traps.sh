#!/usr/bin/env bash
# Trap-path microbenchmark: runs Guests/microbench (microbench.elf) under Keel with pass-through
# time, under Keel with trapped time, and on bare QEMU, all with instruction-counted virtual time
# (-icount shift=0: one guest or hypervisor instruction = 1 ns), and prints ns per operation
# and the ratio to the CNTVCT read loop.
#   bench/traps.sh            (KEEL_BIN, KEEL_HYPERVISOR and MICROBENCH_CFLAGS override defaults)
set -uo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$keel_root"

guests=$keel_root/.build/guests
keel=${KEEL_BIN:-$keel_root/.build/debug/keel}
hypervisor=${KEEL_HYPERVISOR:-$keel_root/.build/aarch64-none-none-elf/release/KeelHypervisor}
timeout_s=120

if [ ! -f "$hypervisor" ]; then
  say "building the hypervisor image…"
  swift build -c release --triple aarch64-none-none-elf --toolset Support/toolset-el2.json --product KeelHypervisor >&2 || exit 1
  hypervisor=$(swift build -c release --triple aarch64-none-none-elf --toolset Support/toolset-el2.json --show-bin-path)/KeelHypervisor
fi
Guests/build.sh "$guests" >&2 || exit 1
elf=$guests/microbench.elf

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

have_keel() { [ -x "$keel" ]; }
# The .vmx form of `keel run` arrived after the flag form; an older keel binary lacks it.
keel_has_vmx() { have_keel && "$keel" run --help 2>&1 | grep -q '\.vmx'; }
completed() { grep -aq '^microbench: done' "$1"; }

machine_flags=(-M virt,virtualization=on,gic-version=3,its=off,dtb-randomness=off -cpu cortex-a72 -smp 1
  -display none -monitor none -serial stdio -no-reboot
  -icount shift=0,sleep=off -rtc base=2024-01-01T00:00:00,clock=vm)

# Keel straight from QEMU with a hypervisor configuration module (notes/protocols.md): the kernel
# blob at 0x44000000, the config on the next 2 MiB boundary after it.
keel_direct() { # log, extra config lines…
  local log=$1; shift
  local kernel_addr=0x44000000
  local size; size=$(stat -c %s "$elf")
  local config_addr; config_addr=$(printf '0x%x' $(( (0x44000000 + size + 0x1fffff) & ~0x1fffff )))
  { printf 'vm microbench\ncpus 1\nmemory 64\nkernel %s\n' "$kernel_addr"
    for line in "$@"; do printf '%s\n' "$line"; done
    printf 'end\n\0'; } >"$work/keel.cfg"
  timeout "$timeout_s" qemu-system-aarch64 "${machine_flags[@]}" -m 256 \
    -kernel "$hypervisor" -append "keel.config=$config_addr" \
    -device "loader,file=$work/keel.cfg,addr=$config_addr,force-raw=on" \
    -device "guest-loader,addr=$kernel_addr,kernel=$elf" </dev/null >"$log" 2>&1
}

bare_direct() { # log
  timeout "$timeout_s" qemu-system-aarch64 -M virt,gic-version=3,its=off,dtb-randomness=off -cpu cortex-a72 -smp 1 -m 64 \
    -display none -monitor none -serial stdio -no-reboot -icount shift=0,sleep=off -rtc base=2024-01-01T00:00:00,clock=vm \
    -kernel "$elf" </dev/null >"$1" 2>&1
}

run_passthrough() { # log
  if have_keel; then
    "$keel" run --kernel "$elf" --memory 64 --deterministic --hypervisor "$hypervisor" --timeout "$timeout_s" </dev/null >"$1" 2>&1
    completed "$1" && { echo "keel run --kernel"; return; }
  fi
  keel_direct "$1"
  echo "qemu + config module"
}

run_trapped() { # log
  if keel_has_vmx; then
    cat >"$work/microbench.vmx" <<VMX
.encoding = "UTF-8"
displayName = "microbench"
keel.kernel = "$elf"
memsize = "64"
numvcpus = "1"
keel.time.mode = "trapped"
keel.time.frequency = "100000000"
VMX
    "$keel" run "$work/microbench.vmx" --deterministic --hypervisor "$hypervisor" --timeout "$timeout_s" </dev/null >"$1" 2>&1
    completed "$1" && { echo "keel run microbench.vmx"; return; }
  fi
  keel_direct "$1" "time.mode trapped" "time.frequency 100000000"
  echo "qemu + config module"
}

run_bare() { # log
  if have_keel; then
    "$keel" run --bare --kernel "$elf" --memory 64 --deterministic --timeout "$timeout_s" </dev/null >"$1" 2>&1
    completed "$1" && { echo "keel run --bare"; return; }
  fi
  bare_direct "$1"
  echo "qemu"
}

status=0
declare -A how
for which in keel trapped bare; do
  case $which in
    keel) how[$which]=$(run_passthrough "$work/$which.log") ;;
    trapped) how[$which]=$(run_trapped "$work/$which.log") ;;
    bare) how[$which]=$(run_bare "$work/$which.log") ;;
  esac
  if ! completed "$work/$which.log"; then
    echo "$which run did not complete ($(grep -a -e '^keel: ' -e 'microbench' "$work/$which.log" | tail -n 1))" >&2
    status=1
  fi
done

# ns per operation of `op` in a log, or "-" when the run skipped or lacks it.
# The guest converts virtual-counter ticks with CNTFRQ_EL0, which a trapped-time VM sets to its
# scaled physical counter's rate: its figures are rescaled by the two counters' measured ratio.
ns_of() {
  local ns scale
  ns=$(sed -n "s/^microbench: $2 ns=\([0-9.]*\) .*/\1/p" "$1" | tr -d '\r' | head -n 1)
  scale=$(sed -n 's/.*CNTPCT_EL0 advanced ~\([0-9]*\) per 1000 CNTVCT_EL0 ticks; CNTFRQ_EL0 \([0-9]*\)).*/\1 \2/p' "$1" | tr -d '\r' | head -n 1)
  if [ -n "$ns" ] && [ -n "$scale" ] && [ "${scale#* }" != 62500000 ]; then
    awk -v ns="$ns" -v r="${scale% *}" 'BEGIN { printf "%.1f\n", ns * r / 1000 }'
  else
    echo "$ns"
  fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b != "") printf "%.1fx", b / a; else print "-" }'; }

echo "Trap microbenchmark, $(sed -n 's/^microbench: starting at EL1, CNTFRQ_EL0 [0-9]* Hz, \([0-9]*\) iterations.*/\1/p' "$work/keel.log" | tr -d '\r' | head -n 1) iterations each, virtual ns (icount shift=0: 1 instruction = 1 ns)"
printf '%-20s %12s %8s %12s %8s %12s %8s\n' "operation" "keel ns" "/cntvct" "trapped ns" "/cntvct" "bare ns" "/cntvct"
base_keel=$(ns_of "$work/keel.log" cntvct) base_trapped=$(ns_of "$work/trapped.log" cntvct) base_bare=$(ns_of "$work/bare.log" cntvct)
for op in loop-empty cntvct cntpct null-hvc hvc0-unknown hvc-imm1 pl011-fr bd-getversion-hvc bd-getversion-mrs; do
  k=$(ns_of "$work/keel.log" "$op") t=$(ns_of "$work/trapped.log" "$op") b=$(ns_of "$work/bare.log" "$op")
  printf '%-20s %12s %8s %12s %8s %12s %8s\n' "$op" "${k:--}" "$(ratio "$base_keel" "$k")" \
    "${t:--}" "$(ratio "$base_trapped" "$t")" "${b:--}" "$(ratio "$base_bare" "$b")"
done
for which in keel trapped bare; do
  line=$(grep -a '^microbench: cntpct trapped=' "$work/$which.log" | tr -d '\r' | sed 's/^microbench: //')
  printf '%-8s %s; via %s\n' "$which:" "${line:-no cntpct line}" "${how[$which]}"
  grep -a 'backdoor unavailable via' "$work/$which.log" | tr -d '\r' | sed "s/^microbench: /         /"
done
echo "null-hvc = HVC #0 with x0 = PSCI_VERSION (0x84000000); hvc0-unknown = HVC #0 with an undefined function ID;"
echo "hvc-imm1 = HVC #1 (Keel: NOT_SUPPORTED without SMCCC dispatch); pl011-fr = a load of the emulated PL011's UARTFR."
echo "Rows include the 2-instruction loop (loop-empty); on bare QEMU, QEMU handles PSCI itself, outside the instruction count."
exit $status
