#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs every package, builds, and runs
# every tier with ctest (unit, integration, fuzz, and the system tier whose daemons - the Ceph
# pair and a private libvirtd - ctest fixtures start and stop). ctest's summary is the last
# thing printed; the exit code is ctest's.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${DRPAIR_BUILD_DIR:-build}

deploy/install-deps.sh
cmake -G Ninja -S . -B "$build" -DDR_WERROR=ON
cmake --build "$build" -j"$(nproc)"
exec ctest --test-dir "$build" --output-on-failure --timeout 1200 "$@"
