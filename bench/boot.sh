#!/usr/bin/env bash
# Boot-time comparison, bare QEMU vs Keel, in instruction-counted virtual time
# (--deterministic: -icount shift=0,sleep=off, fixed RTC, no DTB randomness), so the numbers
# do not depend on host load. Extra arguments go to both runs, e.g. --cpus 2 --gic 2.
set -uo pipefail
source "$(dirname "$0")/../scripts/lib.sh"
cd "$keel_root"
keel=${KEEL_BIN:-$keel_root/.build/debug/keel}
[ -x "$keel" ] || swift build --product keel >&2 || exit 1

bare_log=$(mktemp) keel_log=$(mktemp)
trap 'rm -f "$bare_log" "$keel_log"' EXIT

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

# stdout only: keel's own messages go to stderr and would land in the middle of guest lines.
boot --bare "$@" >"$bare_log" 2>/dev/null; bare_status=$?
boot "$@" >"$keel_log" 2>/dev/null; keel_status=$?

bare_init=$(init_us "$bare_log") keel_init=$(init_us "$keel_log")
bare_run=$(run_init_us "$bare_log") keel_run=$(run_init_us "$keel_log")

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
