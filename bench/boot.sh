#!/usr/bin/env bash
# Boot-time comparison, bare QEMU vs Keel, in instruction-counted virtual time
# (--deterministic: -icount shift=0,sleep=off, fixed RTC, no DTB randomness), so the numbers
# do not depend on host load. Extra arguments go to both runs, e.g. --cpus 2 --gic 2.
#
# Equal boards. QEMU's own virt board has devices Keel's guests lack (PCIe host bridge, 32
# virtio-mmio slots, fw_cfg, flash, platform bus), and a bare kernel probing them boots slower
# than Keel's for reasons that are not Keel's. So the bare run uses `keel run --bare --board keel`:
# QEMU boots the guest on the device tree Keel generates for the same vCPUs, memory and GIC (-dtb),
# and still writes the memory node and /chosen's bootargs and initrd itself; only Keel's PSCI idle
# state is left out, as QEMU's own CPU_SUSPEND hangs SMP GICv3 guests. Before measuring,
# both guests boot once with keel.test=devices, and the script fails unless they list the same
# device-tree nodes and properties and the same platform and AMBA devices with the same drivers.
# --bare-board virt compares against QEMU's full board instead (the figure before equal boards).
set -uo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$keel_root"
keel=${KEEL_BIN:-$keel_root/.build/debug/keel}
[ -x "$keel" ] || swift build --product keel >&2 || exit 1

bare_board=keel
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bare-board) [ $# -ge 2 ] || { say "--bare-board needs virt or keel"; exit 2; }; bare_board=$2; shift 2 ;;
    --bare-board=*) bare_board=${1#--bare-board=}; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
case "$bare_board" in
  keel) board_note="Keel's board (keel run --bare --board keel)" ;;
  virt) board_note="QEMU's full virt board (PCIe, virtio-mmio, fw_cfg, flash)" ;;
  *) say "--bare-board must be virt or keel (got $bare_board)"; exit 2 ;;
esac
set -- "${args[@]+"${args[@]}"}"

bare_log=$(mktemp) keel_log=$(mktemp) bare_devices=$(mktemp) keel_devices=$(mktemp)
trap 'rm -f "$bare_log" "$keel_log" "$bare_devices" "$keel_devices"' EXIT

boot() { "$keel" run --deterministic --append "keel.test=boot quiet" --timeout 900 "$@" </dev/null; }

# cntvct at the first instruction of /init, in µs of virtual time since reset.
init_us() { sed -n 's/.*keel-guest: cntvct=\([0-9]*\) cntfrq=\([0-9]*\).*/\1 \2/p' "$1" | head -n 1 | awk '{ if ($2 > 0) printf "%.0f", $1 * 1000000 / $2 }'; }
# dmesg timestamp of "Run /init", in µs, as seen by the guest kernel.
run_init_us() { sed -n 's/.*keel-guest: dmesg \[ *\([0-9.]*\)\] Run \/init.*/\1/p' "$1" | head -n 1 | awk '{ printf "%.0f", $1 * 1000000 }'; }
# Keel's CNTVOFF: host counter ticks that passed before the guest's counter started (hypervisor boot
# and VM construction). Adding it to the guest's cntvct gives time since reset, comparable with bare.
offset_ticks() { sed -n 's/^keel: vm0: counter offset \([0-9]*\).*/\1/p' "$1" | head -n 1; }
uptime_s() { sed -n 's/.*keel-guest: uptime \([0-9.]*\) .*/\1/p' "$1" | head -n 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.3f", b / a; else print "n/a" }'; }

# The board each guest found: device-tree nodes and properties, bound devices (sorted, no CRs),
# less two known differences. QEMU replaces the /psci node of a -dtb with its own, adding the
# PSCI 0.1 function IDs, which a guest offered PSCI 1.0 never reads. And the bare board has no
# PSCI idle state (BareBoard.keelDeviceTree says why), so no cpuidle-psci driver binds there.
known_differences='^keel-guest: (dt /psci/(cpu_on|cpu_off|cpu_suspend|migrate)|dt /cpus/(cpu@[0-9a-f]+/cpu-idle-states|idle-states.*)|device platform/devices/psci-cpuidle driver.*)$'
devices() {
  "$keel" run --append keel.test=devices --timeout 900 "$@" </dev/null 2>/dev/null \
    | tr -d '\r' | grep -a '^keel-guest: \(dt\|device\|devices done\)' \
    | grep -avE "$known_differences" | sort
}
if [ "$bare_board" = keel ]; then
  devices --bare --board keel "$@" >"$bare_devices"
  devices "$@" >"$keel_devices"
  for which in bare keel; do
    file_var=${which}_devices
    grep -qx 'keel-guest: devices done' "${!file_var}" \
      || { say "$which guest did not list its devices (keel.test=devices)"; exit 1; }
  done
  if ! diff -u "$bare_devices" "$keel_devices" >&2; then
    say "the bare and Keel guests see different boards (diff above: - bare, + keel)"
    exit 1
  fi
  echo "same board in both guests: $(grep -c '^keel-guest: dt ' "$keel_devices") device-tree entries, $(grep -c '^keel-guest: device ' "$keel_devices") platform and AMBA devices (Keel's adds a PSCI idle state)"
fi

bare_flags=(--bare)
[ "$bare_board" = keel ] && bare_flags+=(--board keel)
# stdout only: keel's own messages go to stderr and would land in the middle of guest lines.
boot "${bare_flags[@]}" "$@" >"$bare_log" 2>/dev/null; bare_status=$?
boot "$@" >"$keel_log" 2>/dev/null; keel_status=$?

bare_init=$(init_us "$bare_log") keel_init=$(init_us "$keel_log")
bare_run=$(run_init_us "$bare_log") keel_run=$(run_init_us "$keel_log")

echo "bare column: $board_note"
printf '%-28s %14s %14s %8s\n' "metric (virtual time)" "bare" "keel" "keel/bare"
printf '%-28s %14s %14s %8s\n' "cntvct at /init (us)" "${bare_init:-n/a}" "${keel_init:-n/a}" "$(ratio "${bare_init:-0}" "${keel_init:-0}")"
printf '%-28s %14s %14s %8s\n' "dmesg Run /init (us)" "${bare_run:-n/a}" "${keel_run:-n/a}" "$(ratio "${bare_run:-0}" "${keel_run:-0}")"
offset=$(offset_ticks "$keel_log")
freq=$(sed -n 's/.*keel-guest: cntvct=[0-9]* cntfrq=\([0-9]*\).*/\1/p' "$keel_log" | head -n 1)
keel_total=$(awk -v o="${offset:-0}" -v f="${freq:-0}" -v g="${keel_init:-0}" 'BEGIN { if (f > 0 && g > 0) printf "%.0f", g + o * 1000000 / f }')
printf '%-28s %14s %14s %8s\n' "since reset, incl. Keel (us)" "${bare_init:-n/a}" "${keel_total:-n/a}" "$(ratio "${bare_init:-0}" "${keel_total:-0}")"
printf '%-28s %14s %14s\n' "/proc/uptime at /init (s)" "$(uptime_s "$bare_log")" "$(uptime_s "$keel_log")"
to_user=$(grep -a '^keel: vm[0-9]*: first exit from user space' "$keel_log" | tail -n 1 | sed 's/.*after exits //')
exits=$(grep -a '^keel: vm[0-9]*: exits' "$keel_log" | tail -n 1 | sed 's/^keel: vm[0-9]*: exits //')
echo "keel exits until the first user-space exit (init): ${to_user:-none reported}"
echo "keel exits for the whole run (boot, init, poweroff): ${exits:-none reported}"
echo "reference: Xen 4.17, same kernel, quiet ssbd=force-off: 950 exits boot -> init -> poweroff"

status=0
for which in bare keel; do
  log_var=${which}_log status_var=${which}_status
  if [ "${!status_var}" -ne 0 ]; then
    echo "$which run failed (exit ${!status_var}): $(grep -a '^keel: ' "${!log_var}" | tail -n 1)"
    status=1
  fi
done
exit $status
