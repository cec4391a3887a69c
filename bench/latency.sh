#!/usr/bin/env bash
# Real-time latency and futex throughput of a Linux guest, bare QEMU against Keel, in real time
# (not --deterministic: the point is wall-clock wakeup latency). The guest is the default Debian
# kernel with the "latency" initramfs (Debian's cyclictest and stress-ng, keel.test=latency in
# Guests/initramfs/init), run with 1 and 2 vCPUs:
#   cyclictest -m -S -p 90 -i 1000 -h 1000 -D <seconds>s: one SCHED_FIFO thread per vCPU, 1 ms period
#   stress-ng --futex <vCPUs> -t 5s --metrics-brief
# Prints a table with keel/bare ratios (issue 10's goals: cyclictest <= 1.2x bare, futex >= 0.8x).
# Under TCG both sides are emulated, so the figures are noisy and only their ratio means anything.
#   bench/latency.sh   (KEEL_BIN, KEEL_HYPERVISOR, LATENCY_SECONDS and LATENCY_TIMEOUT override defaults)
set -uo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$keel_root" || exit 1

seconds=${LATENCY_SECONDS:-20}   # cyclictest's run; stress-ng adds 5 s and the boot 20-60 s
timeout_s=${LATENCY_TIMEOUT:-300}
interval_us=1000

fail() { printf 'latency: %s\n' "$*" >&2; exit 1; }

bench_tools

bench_workdir   # $work, and $running: the keel process in flight

# run <name> <keel run args…>: guest console into $work/<name>.log, keel's own messages into
# <name>.err (on one stream they could land inside a guest line); returns keel's status.
run() {
  local name=$1; shift
  "$keel" run --guest latency --timeout "$timeout_s" \
    --append "keel.test=latency keel.latency.seconds=$seconds quiet" "$@" \
    </dev/null >"$work/$name.log" 2>"$work/$name.err" &
  running=$!
  wait "$running"; local status=$?
  running=
  return $status
}

# guest <log> <prefix>: the rest of the guest's "keel-guest: <prefix>" line.
guest() { tr -d '\r' <"$1" | sed -n "s/^keel-guest: $2//p" | head -n 1; }
# Per-thread columns of a cyclictest summary line, the largest, as a plain number.
worst() { awk '{ m = -1; for (i = 1; i <= NF; i++) if ($i + 0 > m) m = $i + 0; if (NF) print m }'; }
why() {  # the last line that explains a failure
  { grep -a -e '^keel: ' "$1.err"; tr -d '\r' <"$1.log" | grep -a -e 'latency cpus=' -e 'error: ' -e 'exit [1-9]'; } | tail -n 1
}

# parse <name> <vCPUs>: fills result[<name>-avg|max|missed|late|futex]; returns 1 when a figure is
# missing or the guest brought up fewer vCPUs than it was given (its figures would mean something else).
declare -A result
parse() {
  local log=$work/$1.log totals
  [ "$(guest "$log" 'latency cpus=' | cut -d' ' -f1)" = "$2" ] || return 1
  result[$1-avg]=$(guest "$log" 'cyclictest Avg Latencies:' | worst)
  result[$1-max]=$(guest "$log" 'cyclictest Max Latencies:' | worst)
  result[$1-late]=$(guest "$log" 'cyclictest Histogram Overflows:' | worst)
  # cyclictest skips the periods it overslept, so the loops it ran fall short of the periods that
  # passed (its threads also start a little after the -D clock does); the worst vCPU's shortfall.
  totals=$(guest "$log" 'cyclictest Total:')
  [ -n "$totals" ] && result[$1-missed]=$(echo "$totals" | awk -v want=$((seconds * 1000000 / interval_us)) \
    '{ m = 0; for (i = 1; i <= NF; i++) if (want - $i > m) m = want - $i; print m }')
  result[$1-futex]=$(guest "$log" 'stress-ng futex ' | awk '{ print $1 }')
  local key
  for key in avg max late missed futex; do
    [[ ${result[$1-$key]:-} =~ ^[0-9]+$ ]] || { result[$1-$key]=; return 1; }
  done
  [ "$(guest "$log" 'cyclictest exit ')" = 0 ] && [ "$(guest "$log" 'stress-ng exit ')" = 0 ]
}

status=0
notes=()
for cpus in 1 2; do
  for which in bare keel; do
    name=$which$cpus
    if [ "$which" = bare ]; then extra=(--bare); else extra=(--hypervisor "$hypervisor"); fi
    say "$which, $cpus vCPU(s): cyclictest ${seconds} s, stress-ng 5 s…"
    run "$name" --cpus "$cpus" "${extra[@]}"; rc=$?
    if ! parse "$name" "$cpus" || [ "$rc" -ne 0 ]; then
      notes+=("$which with $cpus vCPUs failed (keel exit $rc): $(why "$work/$name")")
      status=1
    fi
  done
done

ratio() {  # ratio keel bare -> keel/bare as "N.NNx", or "-"
  awk -v a="$1" -v b="$2" 'BEGIN { if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) printf "%.2fx", a / b; else print "-" }'
}
row() {  # row <label> <key> <cpus>
  local b=${result[bare$3-$2]:-} k=${result[keel$3-$2]:-}
  printf '%-44s %10s %10s %10s\n' "$1" "${b:-FAILED}" "${k:-FAILED}" "$(ratio "$k" "$b")"
}

echo "cyclictest -m -S -p 90 -i $interval_us -D ${seconds}s (one SCHED_FIFO thread per vCPU, worst vCPU shown);"
echo "stress-ng --futex <vCPUs> -t 5s. Real time under TCG on this host: noisy, compare the ratios."
printf '%-44s %10s %10s %10s\n' "metric" "bare" "keel" "keel/bare"
for cpus in 1 2; do
  v="$cpus vCPU"; [ "$cpus" -gt 1 ] && v="${v}s"
  row "cyclictest avg latency, $v (us)" avg "$cpus"
  row "cyclictest max latency, $v (us)" max "$cpus"
  row "cyclictest periods missed, $v" missed "$cpus"
  row "cyclictest wakeups > 1 period late, $v" late "$cpus"
done
row "stress-ng futex bogo ops in 5 s, 2 vCPUs" futex 2
row "stress-ng futex bogo ops in 5 s, 1 vCPU" futex 1
echo "periods missed: of the $((seconds * 1000000 / interval_us)) periods per vCPU, those cyclictest skipped after oversleeping"
echo "  (plus its threads' start); wakeups > 1 period late: its histogram's overflows (-h $interval_us)."
echo "goals (issue 10): cyclictest avg <= 1.20x bare, futex bogo ops >= 0.80x bare."
for n in "${notes[@]}"; do echo "note: $n"; done
[ $status -eq 0 ] || echo "latency: at least one run failed (see notes)" >&2
exit $status
