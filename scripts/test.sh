#!/usr/bin/env bash
# Sets up, builds and runs every test: the release build's full suite, the
# installed wheel and `cmake --install` prefix (scripts/wheel_test.sh), then
# the same suite built with AddressSanitizer + UndefinedBehaviorSanitizer,
# then each libFuzzer target for a bounded time (scripts/fuzz.sh).
#   scripts/test.sh              everything (what CI runs)
#   scripts/test.sh --fast       release build only: no install test, no sanitizer pass, no fuzzing
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
FAST=0
[ "${1:-}" = "--fast" ] && FAST=1
JOBS="${JOBS:-$(nproc)}"

bash scripts/setup.sh --test

# ccache (installed by setup.sh) makes the wheel's build of the same
# sources, and the next run, cheap.
LAUNCHER=()
command -v ccache >/dev/null && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)

echo "== release build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${LAUNCHER[@]}" >/dev/null
ninja -C build -j"$JOBS"
echo "== tests (release)"
ctest --test-dir build --output-on-failure -j"$JOBS"

if [ "$FAST" = 0 ]; then
  echo "== install tests (wheel in a fresh venv, cmake --install prefix)"
  JOBS="$JOBS" bash scripts/wheel_test.sh
fi

if [ "$FAST" = 0 ]; then
  echo "== ASan+UBSan build"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DREKALL_SANITIZE=ON -DREKALL_BUILD_BENCH=OFF \
    "${LAUNCHER[@]}" >/dev/null
  ninja -C build-asan -j"$JOBS"
  echo "== tests (ASan+UBSan)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0" \
    REKALL_SANITIZED=1 ctest --test-dir build-asan --output-on-failure -j"$JOBS"
  # Coverage-guided fuzzing, bounded: FUZZ_SECONDS per target (default 30).
  echo "== libFuzzer (${FUZZ_SECONDS:-30} s per target)"
  FUZZ_SKIP_SETUP=1 JOBS="$JOBS" bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
fi
