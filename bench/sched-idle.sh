#!/usr/bin/env bash
# Host CPU cost of idle VMs with the vCPU scheduler: 4 idle Linux VMs under Keel on 2 host CPUs
# (4 .vmx files, 1 vCPU and 256 MiB each), against one idle VM on bare QEMU and one under Keel.
# As in bench/idle.sh: once every guest printed "keel-guest: idle start" (it then sleeps 25 s),
# sample the QEMU process's utime+stime over a 20 s window of wall time; % of one host core.
#   bench/sched-idle.sh   (KEEL_BIN and KEEL_HYPERVISOR override the defaults)
set -uo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$keel_root" || exit 1

window=20           # seconds sampled
idle_for=25         # seconds the guest's idle mode sleeps after "idle start"
boot_limit=600      # seconds allowed until every guest is idle
vm_count=4
ticks_per_second=$(getconf CLK_TCK)

fail() { printf 'sched-idle: %s\n' "$*" >&2; exit 1; }

bench_tools

work=$(mktemp -d) || fail "mktemp failed"
running=   # pid of the keel process in flight
stop_running() {  # ends the keel run in flight and its QEMU
  [ -n "$running" ] || return 0
  if kill -0 "$running" 2>/dev/null; then
    local child
    for child in $(cat /proc/"$running"/task/*/children 2>/dev/null); do kill "$child" 2>/dev/null; done
    kill "$running" 2>/dev/null
  fi
  wait "$running" 2>/dev/null
  running=
}
cleanup() { stop_running; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for i in $(seq 1 "$vm_count"); do
  cat >"$work/idle$i.vmx" <<VMX || fail "cannot write $work/idle$i.vmx"
.encoding = "UTF-8"
displayName = "idle$i"
numvcpus = "1"
memsize = "256"
keel.cmdline = "keel.test=idle quiet"
VMX
done

cpu_ticks() {  # utime + stime of a pid; the fields after the ")" that ends comm start at state (3).
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  echo "${stat##*) }" | awk '{ print $12 + $13 }'
}
now() { date +%s.%N; }

# measure <key> <guests expected> <keel run args…>: sets percent[key] and detail[key].
declare -A percent detail
measure() {
  local key=$1 expected=$2; shift 2
  local log=$work/$key.log
  "$keel" run --timeout $((boot_limit + 120)) "$@" </dev/null >"$log" 2>&1 &
  running=$!
  # Each guest's first "idle start" ([name] prefix with several VMs); note when each appeared.
  local start; start=$(now)
  local -A seen=()
  local first= last= name
  while :; do
    while IFS= read -r name; do
      if [ -z "${seen[x$name]+x}" ]; then   # x: a lone VM's lines have no prefix
        seen[x$name]=1; last=$(now); first=${first:-$last}
      fi
    done < <(grep -a 'keel-guest: idle start' "$log" | tr -d '\r' | sed 's/keel-guest: idle start.*//' | sort -u)
    [ ${#seen[@]} -ge "$expected" ] && break
    if ! kill -0 "$running" 2>/dev/null; then
      echo "$key: keel exited before every guest was idle (${#seen[@]}/$expected): $(grep -a '^keel: ' "$log" | tail -n 1)" >&2
      stop_running; return 1
    fi
    if awk -v a="$(now)" -v b="$start" -v l="$boot_limit" 'BEGIN { exit !(a - b > l) }'; then
      echo "$key: only ${#seen[@]}/$expected guests idle after ${boot_limit} s" >&2
      stop_running; return 1
    fi
    sleep 0.2
  done
  # The first guest to go idle wakes $idle_for s after it did: the window must end before that.
  local spread; spread=$(awk -v a="$last" -v b="$first" 'BEGIN { printf "%.1f", a - b }')
  local boot; boot=$(awk -v a="$last" -v b="$start" 'BEGIN { printf "%.1f", a - b }')
  local sample=$window
  local room; room=$(awk -v i="$idle_for" -v s="$spread" 'BEGIN { printf "%d", i - s - 1.5 }')
  if [ "$room" -lt "$sample" ]; then
    if [ "$room" -lt 5 ]; then
      echo "$key: guests went idle ${spread} s apart; no common idle window of 5 s or more" >&2
      stop_running; return 1
    fi
    echo "$key: guests went idle ${spread} s apart; sampling ${room} s instead of ${window} s" >&2
    sample=$room
  fi
  local qemu_pid= child
  for child in $(cat /proc/"$running"/task/*/children 2>/dev/null); do
    [ "$(cat /proc/"$child"/comm 2>/dev/null)" = qemu-system-aar ] && qemu_pid=$child
  done
  [ -n "$qemu_pid" ] || { echo "$key: cannot find QEMU (child of keel, pid $running)" >&2; stop_running; return 1; }
  local before after
  before=$(cpu_ticks "$qemu_pid")
  sleep "$sample"
  after=$(cpu_ticks "$qemu_pid")
  local woke; woke=$(grep -ac 'keel-guest: idle done' "$log")
  # The guests power off after their idle sleep; give keel a while, then end it.
  local waited=0
  while kill -0 "$running" 2>/dev/null && [ $waited -lt 300 ]; do sleep 0.2; waited=$((waited + 1)); done
  local status=0
  if kill -0 "$running" 2>/dev/null; then
    echo "$key: keel still running 60 s after the guests' idle time; stopping it" >&2
    stop_running; status=1
  else
    wait "$running"; status=$?; running=
  fi
  if [ -z "$before" ] || [ -z "$after" ]; then echo "$key: QEMU exited during the window" >&2; return 1; fi
  if [ "$woke" -gt 0 ]; then echo "$key: a guest left its idle sleep during the window" >&2; return 1; fi
  [ "$status" -eq 0 ] || echo "$key: keel exited with status $status after the window ($(grep -a '^keel: ' "$log" | tail -n 1))" >&2
  percent[$key]=$(awk -v d=$((after - before)) -v hz="$ticks_per_second" -v w="$sample" 'BEGIN { printf "%.2f", d * 100 / hz / w }')
  detail[$key]="$((after - before)) ticks over $sample s, all idle ${boot} s after start, ${spread} s apart; keel exit $status"
  return $status
}

status=0
measure bare 1 --bare --append keel.test=idle --memory 256 || status=1
measure keel1 1 --append keel.test=idle --memory 256 --hypervisor "$hypervisor" || status=1
measure keel4 "$vm_count" --host-cpus 2 --hypervisor "$hypervisor" "$work"/idle*.vmx || status=1

ratio() {  # a / b as "N.NNx", or "-" (from the %s with 2 decimals; one tick is 100/CLK_TCK/window %)
  awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b != "" && b > 0) printf "%.2fx", a / b; else print "-" }'
}
b=${percent[bare]:-} k1=${percent[keel1]:-} k4=${percent[keel4]:-}
per_vm=$( [ -n "$k4" ] && awk -v k="$k4" -v n="$vm_count" 'BEGIN { printf "%.2f", k / n }')
echo "Idle host CPU: QEMU utime+stime over ${window} s once every guest is idle, % of one host core (CLK_TCK $ticks_per_second)"
printf '%-36s %8s   %s\n' "bare QEMU, 1 idle VM (-smp 1)" "${b:-FAILED}" "${detail[bare]:-}"
printf '%-36s %8s   %s\n' "Keel, 1 idle VM (1 host CPU)" "${k1:-FAILED}" "${detail[keel1]:-}"
printf '%-36s %8s   %s\n' "Keel, $vm_count idle VMs on 2 host CPUs" "${k4:-FAILED}" "${detail[keel4]:-}"
echo "Ratios:"
printf '  %-44s %s\n' "Keel 1 VM / bare 1 VM" "$(ratio "$k1" "$b")"
printf '  %-44s %s\n' "Keel $vm_count VMs / bare 1 VM" "$(ratio "$k4" "$b")"
printf '  %-44s %s\n' "Keel $vm_count VMs / Keel 1 VM" "$(ratio "$k4" "$k1")"
printf '  %-44s %s\n' "Keel per VM ($vm_count VMs: ${per_vm:-?} %) / Keel 1 VM" "$(ratio "$per_vm" "$k1")"
exit $status
