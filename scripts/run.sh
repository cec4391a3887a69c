#!/usr/bin/env bash
# Boots the default guest (Debian's arm64 kernel + Keel's busybox initramfs) under Keel,
# interactively. Extra arguments go to `keel run`, e.g.: bash scripts/run.sh --cpus 2 --gic 2
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$keel_root"

ensure_host_packages
say "building keel…"
swift build --product keel >&2
exec "$keel_root/.build/debug/keel" run "$@"
