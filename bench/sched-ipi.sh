#!/usr/bin/env bash
# IPI round trip between two vCPUs (Guests/microbench/ipibench.c, ipibench.elf): vCPU 0 sends
# SGI 1, vCPU 1 answers with SGI 2, both waiting in WFI. Runs it under Keel with 2 vCPUs on
# 2 host CPUs and with 2 vCPUs on 1 host CPU (the scheduler switches vCPUs on every WFI), and on
# bare QEMU -smp 2 for reference; each in real time and with --deterministic (-icount shift=0:
# 1 instruction = 1 ns, reproducible). Prints ns per round trip and the ratios.
#   bench/sched-ipi.sh   (KEEL_BIN, KEEL_HYPERVISOR, IPIBENCH_CFLAGS and IPI_TIMEOUT override defaults)
set -uo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$keel_root" || exit 1

guests=$keel_root/.build/guests
timeout_s=${IPI_TIMEOUT:-60}   # each run takes a few seconds

fail() { printf 'sched-ipi: %s\n' "$*" >&2; exit 1; }

bench_tools
Guests/build.sh "$guests" >/dev/null || fail "Guests/build.sh failed"
elf=$guests/ipibench.elf

bench_workdir   # $work, and $running: the keel process in flight

# run <name> <keel run args…>: one run into $work/<name>.log; returns keel's status.
run() {
  local name=$1; shift
  "$keel" run --kernel "$elf" --memory 64 --gic 3 --cpus 2 --timeout "$timeout_s" "$@" \
    </dev/null >"$work/$name.log" 2>&1 &
  running=$!
  wait "$running"; local status=$?
  running=
  return $status
}

ns_of() { sed -n 's/^microbench: ipi-roundtrip ns=\([0-9.]*\) .*/\1/p' "$1" | tr -d '\r' | head -n 1; }
why() {  # the last line that explains a failure
  grep -a -e '^keel: ' -e 'microbench: ipi-roundtrip' -e 'microbench: unexpected' "$1" | tr -d '\r' | tail -n 1
}

configs=(keel2 keel1 bare)
declare -A label=([keel2]="Keel, 2 vCPUs on 2 host CPUs" [keel1]="Keel, 2 vCPUs on 1 host CPU" [bare]="bare QEMU -smp 2")
declare -A args=([keel2]="--host-cpus 2 --hypervisor $hypervisor" [keel1]="--host-cpus 1 --hypervisor $hypervisor" [bare]="--bare")
declare -A result
status=0
notes=()
for mode in real det; do
  for c in "${configs[@]}"; do
    extra=()
    [ "$mode" = det ] && extra=(--deterministic)
    # shellcheck disable=SC2086
    run "$c-$mode" ${args[$c]} "${extra[@]}"; rc=$?
    ns=$(ns_of "$work/$c-$mode.log")
    if [ -n "$ns" ]; then
      result[$c-$mode]=$ns
    elif [ "$c" = bare ]; then
      result[$c-$mode]=n/a
      notes+=("bare QEMU ($mode) could not run the benchmark (keel exit $rc: $(why "$work/$c-$mode.log")); no bare reference")
    else
      result[$c-$mode]=FAILED
      notes+=("${label[$c]} ($mode) failed (keel exit $rc: $(why "$work/$c-$mode.log"))")
      status=1
    fi
  done
done

ratio() {  # ratio a b -> a/b as "N.Nx", or "-"
  awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.1fx", a / b; else print "-" }'
}

iterations=$(sed -n 's/^microbench: ipi-roundtrip ns=[0-9.]* ticks=[0-9]* iterations=\([0-9]*\).*/\1/p' "$work"/*.log 2>/dev/null | tr -d '\r' | head -n 1)
echo "IPI round trip (SGI 1 to vCPU 1, SGI 2 back, both waiting in WFI), ${iterations:-?} round trips each, ns per round trip"
echo "real = wall-clock CNTVCT under TCG on this machine (noisy); icount = --deterministic, 1 instruction = 1 ns"
printf '%-30s %12s %8s %8s %12s %8s %8s\n' "configuration" "real ns" "/bare" "/2-on-2" "icount ns" "/bare" "/2-on-2"
for c in "${configs[@]}"; do
  r=${result[$c-real]} d=${result[$c-det]} r2=${result[keel2-real]} d2=${result[keel2-det]}
  [ "$c" = bare ] && r2= d2=   # the reference row: only its ratio to itself
  printf '%-30s %12s %8s %8s %12s %8s %8s\n' "${label[$c]}" "$r" "$(ratio "$r" "${result[bare-real]}")" \
    "$(ratio "$r" "$r2")" "$d" "$(ratio "$d" "${result[bare-det]}")" "$(ratio "$d" "$d2")"
done
echo "Under Keel each SGI is a trapped ICC_SGI1R_EL1 write plus a WFI exit; on 1 host CPU every WFI also switches vCPUs."
echo "On bare QEMU, the GIC and WFI are QEMU's own, outside the instruction count."
for n in "${notes[@]}"; do echo "note: $n"; done
exit $status
