# Shared by scripts/*.sh and bench/*.sh: put Swift on PATH and install missing Debian packages.
# Needs root on a fresh Debian 12 machine (apt-get); does nothing when everything is present.

keel_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
  export PATH=/opt/swift/usr/bin:$PATH
fi

say() { printf 'keel: %s\n' "$*" >&2; }

apt_updated=
apt_update_once() {
  if [ -z "$apt_updated" ]; then
    say "updating package lists (apt-get update)…"
    apt-get update -qq
    apt_updated=1
  fi
}

# QEMU for the emulated machine, and the arm64 package lists keel downloads the default guest from.
ensure_host_packages() {
  command -v swift >/dev/null 2>&1 || { say "swift not found (expected on PATH or in /opt/swift)"; return 1; }
  local missing=()
  command -v qemu-system-aarch64 >/dev/null 2>&1 || missing+=(qemu-system-arm)
  command -v dpkg-deb >/dev/null 2>&1 || missing+=(dpkg)
  # dtc checks the guest device trees Keel generates (KeelFDTTests).
  command -v dtc >/dev/null 2>&1 || missing+=(device-tree-compiler)
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    say "enabling arm64 packages (dpkg --add-architecture arm64)…"
    dpkg --add-architecture arm64
    apt_updated=
    apt_update_once
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    apt_update_once
    say "installing ${missing[*]}…"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
  fi
  if ! apt-cache show linux-image-arm64:arm64 >/dev/null 2>&1; then
    apt_updated=
    apt_update_once
  fi
}

# For benchmarks: sets $keel and $hypervisor (KEEL_BIN / KEEL_HYPERVISOR override them), building
# what is missing, and checks QEMU is there. Calls `fail` (defined by the caller) on any problem.
bench_tools() {
  keel=${KEEL_BIN:-$keel_root/.build/debug/keel}
  hypervisor=${KEEL_HYPERVISOR:-$keel_root/.build/aarch64-none-none-elf/release/KeelHypervisor}
  command -v qemu-system-aarch64 >/dev/null 2>&1 || fail "qemu-system-aarch64 not found (bash scripts/test.sh installs it)"
  if [ ! -x "$keel" ]; then
    say "building keel…"
    swift build --product keel >&2 || fail "swift build --product keel failed"
  fi
  if [ ! -f "$hypervisor" ]; then
    say "building the hypervisor image…"
    swift build -c release --triple aarch64-none-none-elf --toolset Support/toolset-el2.json --product KeelHypervisor >&2 \
      || fail "building KeelHypervisor failed"
    hypervisor=$(swift build -c release --triple aarch64-none-none-elf --toolset Support/toolset-el2.json --show-bin-path)/KeelHypervisor
  fi
  [ "$(head -c 4 "$hypervisor" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ] || fail "$hypervisor is not an ELF image"
}

# A temporary directory in $work, removed on exit. $running (set by the caller while a keel
# process is in flight) is ended with its QEMU if the script is interrupted: keel kills its QEMU
# only when it exits normally.
bench_workdir() {
  work=$(mktemp -d) || fail "mktemp failed"
  running=
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
bench_cleanup() {
  if [ -n "${running:-}" ] && kill -0 "$running" 2>/dev/null; then
    local child
    for child in $(cat /proc/"$running"/task/*/children 2>/dev/null); do kill "$child" 2>/dev/null; done
    kill "$running" 2>/dev/null
    wait "$running" 2>/dev/null
  fi
  rm -rf "$work"
}
