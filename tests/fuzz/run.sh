#!/usr/bin/env bash
# Builds the libFuzzer targets in a clang tree and runs each for a bounded time.
# Usage: tests/fuzz/run.sh BUILD_DIR SECONDS
# Fails on any crash, sanitizer report or broken property (see fuzz_documents.cpp and
# fuzz_http.cpp).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:?usage: run.sh BUILD_DIR SECONDS}
seconds=${2:-60}

if [ ! -f "$build/CMakeCache.txt" ]; then
  CXX=clang++ cmake -G Ninja -S "$src" -B "$build" -DDR_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" --target fuzz_documents fuzz_http

corpus="$build/corpus/documents"
mkdir -p "$corpus"
seeds=("$src/tests/fixtures/descriptions")
[ -d "$src/schemas/examples" ] && seeds+=("$src/schemas/examples/valid" "$src/schemas/examples/invalid")
# New inputs go to the first folder (kept between runs in the build tree); the seed folders are
# read first, so a seed that breaks a property fails the run too.
echo "fuzz_documents: running ${seconds}s"
"$build/bin/fuzz_documents" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
  -dict="$src/tests/fuzz/documents.dict" \
  -print_final_stats=1 "$corpus" "${seeds[@]}" 2>&1 | tail -n 25
status=${PIPESTATUS[0]}
[ "$status" = 0 ] || exit "$status"

# The agents' HTTP path (fuzz_http.cpp): hostile requests as seeds, the first byte the caller.
corpus="$build/corpus/http"
mkdir -p "$corpus"
echo "fuzz_http: running ${seconds}s"
"$build/bin/fuzz_http" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
  -print_final_stats=1 "$corpus" "$src/tests/fuzz/http_seeds" 2>&1 | tail -n 25
exit "${PIPESTATUS[0]}"
