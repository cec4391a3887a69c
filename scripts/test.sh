#!/usr/bin/env bash
# Everything CI runs: host build, test build, EL2 image, test guests, then all tests
# (unit + system). Any failure stops the script with a non-zero status; nothing is skipped.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$keel_root"

step() { printf '\n==> %s\n' "$*" >&2; }
trap 'status=$?; [ $status -eq 0 ] || printf "\nscripts/test.sh: FAILED (status %s) at: %s\n" "$status" "$BASH_COMMAND" >&2' EXIT

step "host packages"
ensure_host_packages

step "host build"
swift build

step "test build"
swift build --build-tests

step "hypervisor image (aarch64-none-none-elf)"
swift build -c release --triple aarch64-none-none-elf --toolset Support/toolset-el2.json --product KeelHypervisor
bin=$(swift build -c release --triple aarch64-none-none-elf --toolset Support/toolset-el2.json --show-bin-path)
test -s "$bin/KeelHypervisor" || { echo "no hypervisor image at $bin/KeelHypervisor" >&2; exit 1; }
bash scripts/check-el2-image.sh "$bin/KeelHypervisor"

step "test guests"
bash Guests/build.sh .build/guests
test -s .build/guests/hostile.elf || { echo "Guests/build.sh did not produce .build/guests/hostile.elf" >&2; exit 1; }

# Fetches and builds the default guest into the cache, and proves it boots without Keel, so a
# later failure under Keel is about Keel.
step "default guest on bare QEMU"
.build/debug/keel run --bare --append keel.test=smoke --timeout 600 </dev/null

step "swift test (unit + system)"
swift test
