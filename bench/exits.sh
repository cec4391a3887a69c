#!/usr/bin/env bash
# Exit cost, side by side in one run: the null hypercall (HVC #0, PSCI_VERSION), an HVC #0
# with an undefined function, an emulated MMIO read (the PL011's UARTFR) and the IPI round trip
# between two vCPUs waiting in WFI (2 on 2 host CPUs, 2 on 1), under Keel and on bare QEMU,
# in guest-visible time: instructions under --deterministic (icount shift=0: 1 instruction =
# 1 ns, reproducible) and real time (TCG on this machine: noisy, compare the ratios).
#   bench/exits.sh       (KEEL_BIN, KEEL_HYPERVISOR and EXITS_TIMEOUT override defaults)
# The guests are Guests/microbench (microbench.elf, ipibench.elf); bench/traps.sh and
# bench/sched-ipi.sh print more rows of each.
set -uo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$keel_root" || exit 1

fail() { printf 'exits: %s\n' "$*" >&2; exit 1; }
timeout_s=${EXITS_TIMEOUT:-120}
guests=$keel_root/.build/guests
bench_tools
Guests/build.sh "$guests" >/dev/null || fail "Guests/build.sh failed"

work=$(mktemp -d) || fail "mktemp failed"
trap 'rm -rf "$work"' EXIT

# run <log> <keel run args…>
run() { local log=$1; shift; "$keel" run --memory 64 --gic 3 --timeout "$timeout_s" "$@" </dev/null >"$work/$log" 2>&1; }
# ns=<per operation> of a microbench line, or "" if missing.
ns() { sed -n "s/^microbench: $2 ns=\([0-9.]*\) .*/\1/p" "$work/$1" | tr -d '\r' | head -n 1; }

status=0
for mode in det real; do
  extra=()
  [ "$mode" = det ] && extra=(--deterministic)
  run "mb-keel-$mode" --kernel "$guests/microbench.elf" --hypervisor "$hypervisor" "${extra[@]}" || status=1
  run "mb-bare-$mode" --kernel "$guests/microbench.elf" --bare "${extra[@]}" || status=1
  run "ipi2-keel-$mode" --kernel "$guests/ipibench.elf" --cpus 2 --host-cpus 2 --hypervisor "$hypervisor" "${extra[@]}" || status=1
  run "ipi1-keel-$mode" --kernel "$guests/ipibench.elf" --cpus 2 --host-cpus 1 --hypervisor "$hypervisor" "${extra[@]}" || status=1
  run "ipi-bare-$mode" --kernel "$guests/ipibench.elf" --cpus 2 --bare "${extra[@]}" || status=1
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.1fx", a / b; else print "-" }'; }
row() { # label keel-log bare-log op
  local kd kr bd br
  kd=$(ns "${2}-det" "$4") kr=$(ns "${2}-real" "$4") bd=$(ns "${3}-det" "$4") br=$(ns "${3}-real" "$4")
  [ -n "$kd" ] && [ -n "$kr" ] || { status=1; notes+=("$1: no figure from Keel ($(grep -a '^keel: ' "$work/${2}-det" | tail -n 1))"); }
  printf '%-34s %12s %10s %8s %12s %10s %8s\n' "$1" "${kd:--}" "${bd:--}" "$(ratio "$kd" "$bd")" "${kr:--}" "${br:--}" "$(ratio "$kr" "$br")"
}
notes=()
printf '%-34s %12s %10s %8s %12s %10s %8s\n' "exit (per operation)" "keel instr" "bare" "keel/bare" "keel ns" "bare ns" "keel/bare"
row "null hypercall (PSCI_VERSION)" mb-keel mb-bare null-hvc
row "hvc #0, unknown function" mb-keel mb-bare hvc0-unknown
row "MMIO read, PL011 UARTFR" mb-keel mb-bare pl011-fr
row "IPI round trip, 2 vCPUs / 2 CPUs" ipi2-keel ipi-bare ipi-roundtrip
row "IPI round trip, 2 vCPUs / 1 CPU" ipi1-keel ipi-bare ipi-roundtrip
echo "instr = guest-visible instructions per operation under --deterministic (hypervisor included);"
echo "rows include the guest's own loop (2-3 instructions). On bare QEMU, PSCI, the GIC and WFI are QEMU's own."
for n in "${notes[@]}"; do echo "note: $n"; done
exit $status
