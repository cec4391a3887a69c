#!/usr/bin/env bash
# Do CPU shares buy work? Two 1-vCPU Linux VMs on one host CPU, shares 2000 and 1000, each
# running a fork-and-exec loop (the default guest's keel.test=forks: `date` in a loop, a line
# every 5 rounds). Over the same window of host time, prints the rounds each completed, the CPU
# time Keel charged each (`keel stat`), and both ratios: CPU time follows the shares; the work
# ratio shows how much of the smaller VM's charged time bought nothing (switch-in cost).
# Real time, as the workload is: run it on a quiet machine and compare ratios, not rates.
#   bench/shares-work.sh [SECONDS]   (KEEL_BIN, KEEL_HYPERVISOR override defaults)
set -uo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$keel_root" || exit 1
seconds=${1:-20}

fail() { printf 'shares-work: %s\n' "$*" >&2; exit 1; }
bench_tools

work=$(mktemp -d) || fail "mktemp failed"
export KEEL_RUN_DIR=$work/run KEEL_ROOT=$keel_root
running=
cleanup() {
  [ -n "$running" ] && kill "$running" 2>/dev/null && wait "$running" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

for vm in high:2000 normal:1000; do
  cat > "$work/${vm%%:*}.vmx" <<EOF
displayName = "${vm%%:*}"
numvcpus = "1"
memsize = "256"
keel.cmdline = "keel.test=forks quiet"
sched.cpu.shares = "${vm##*:}"
EOF
done
"$keel" run --hypervisor "$hypervisor" --host-cpus 1 --timeout $((180 + 2 * seconds)) \
  "$work/high.vmx" "$work/normal.vmx" > "$work/out" 2>&1 &
running=$!

rounds() { grep -a "^\[$1\] keel-guest: forks " "$work/out" | tail -n 1 | awk '{print $4}'; }
cpu_ms() { "$keel" stat "$1" 2>/dev/null | tr ' ' '\n' | sed -n 's/^cpu_ms=//p'; }

for _ in $(seq 180); do
  [ -n "$(rounds high)" ] && [ -n "$(rounds normal)" ] && break
  kill -0 "$running" 2>/dev/null || fail "keel run ended early: $(tail -n 5 "$work/out")"
  sleep 1
done
[ -n "$(rounds normal)" ] || fail "the guests did not start forking within 180 s"
sleep 3
h0=$(rounds high) n0=$(rounds normal) ch0=$(cpu_ms high) cn0=$(cpu_ms normal)
sleep "$seconds"
h1=$(rounds high) n1=$(rounds normal) ch1=$(cpu_ms high) cn1=$(cpu_ms normal)

python3 - "$h0" "$h1" "$n0" "$n1" "$ch0" "$ch1" "$cn0" "$cn1" "$seconds" <<'EOF'
import sys
h0, h1, n0, n1, ch0, ch1, cn0, cn1, s = map(int, sys.argv[1:])
dh, dn, ch, cn = h1 - h0, n1 - n0, ch1 - ch0, cn1 - cn0
print(f"window {s} s, shares 2000:1000 on 1 host CPU")
print(f"  high:   {dh:5d} rounds, {ch:6d} ms charged, {dh / max(ch, 1) * 1000:6.1f} rounds per CPU-s")
print(f"  normal: {dn:5d} rounds, {cn:6d} ms charged, {dn / max(cn, 1) * 1000:6.1f} rounds per CPU-s")
print(f"  CPU time ratio {ch / max(cn, 1):.3f}, work ratio {dh / max(dn, 1):.3f} (shares 2.000)")
EOF
