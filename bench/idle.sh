#!/usr/bin/env bash
# Host CPU cost of an idle guest, bare QEMU vs Keel: after the guest prints
# "keel-guest: idle start" (it then sleeps 25 s), sample the QEMU process's utime+stime
# over 20 s of wall time. Reported in % of one host core. Extra arguments go to both runs.
set -uo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$keel_root"
keel=${KEEL_BIN:-$keel_root/.build/debug/keel}
[ -x "$keel" ] || swift build --product keel >&2 || exit 1
window=20
ticks_per_second=$(getconf CLK_TCK)

cpu_ticks() {  # utime + stime of a pid; the fields after the ")" that ends comm start at state (3).
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  echo "${stat##*) }" | awk '{ print $12 + $13 }'
}

measure() {  # measure <label> <keel run args…>; prints the % for that mode
  local label=$1; shift
  local log; log=$(mktemp)
  "$keel" run --append keel.test=idle --timeout 600 "$@" </dev/null >"$log" 2>&1 &
  local keel_pid=$!
  local waited=0
  until grep -aq 'keel-guest: idle start' "$log"; do
    if ! kill -0 "$keel_pid" 2>/dev/null || [ $waited -ge 600 ]; then
      echo "$label: guest never reached idle: $(grep -a '^keel: ' "$log" | tail -n 1)" >&2
      wait "$keel_pid" 2>/dev/null; rm -f "$log"; return 1
    fi
    sleep 0.2; waited=$((waited + 1))
  done
  local qemu_pid
  qemu_pid=$(cat "/proc/$keel_pid/task/$keel_pid/children" 2>/dev/null | awk '{ print $1 }')
  if [ -z "$qemu_pid" ]; then echo "$label: cannot find QEMU (child of $keel_pid)" >&2; wait "$keel_pid"; rm -f "$log"; return 1; fi
  local before after
  before=$(cpu_ticks "$qemu_pid")
  sleep "$window"
  after=$(cpu_ticks "$qemu_pid")
  wait "$keel_pid"; local status=$?
  rm -f "$log"
  if [ -z "$before" ] || [ -z "$after" ]; then echo "$label: QEMU exited during the window" >&2; return 1; fi
  awk -v d=$((after - before)) -v hz="$ticks_per_second" -v w="$window" -v l="$label" -v s="$status" \
    'BEGIN { printf "%-6s %6.1f %% of one core (qemu pid, %d ticks over %d s; keel exit %d)\n", l, d * 100 / hz / w, d, w, s }'
}

status=0
measure bare --bare "$@" || status=1
measure keel "$@" || status=1
exit $status
