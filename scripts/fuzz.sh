#!/usr/bin/env bash
# Coverage-guided fuzzing with libFuzzer (clang, ASan+UBSan) of the parsers
# that take outside input and of the MCP server's whole message handling,
# beyond the deterministic mutation run of the test suite (fuzz_test).
#   scripts/fuzz.sh [seconds per target]    default $FUZZ_SECONDS, else 30 (CI)
#   FUZZ_TARGETS="McpServer JsonRpc" scripts/fuzz.sh 600
# Each target starts from its seeds in tests/fuzz/corpus/<Target>/ (kept in
# the tree, read only) plus what earlier runs added to
# build-fuzz/corpus/<Target>/. The first crash, leak, sanitizer report,
# timeout or broken invariant stops the run with a non-zero exit; the input
# is saved as build-fuzz/artifacts/<Target>-crash-<sha1> (or -leak-,
# -timeout-...): replay it with build-fuzz/tests/fuzz/fuzz_<Target> FILE.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECS="${1:-${FUZZ_SECONDS:-30}}"
JOBS="${JOBS:-$(nproc)}"
read -r -a TARGETS <<< "${FUZZ_TARGETS:-Tokenizer JsonRpc KeywordQuery ImportLine RekallArchive DatabaseFile McpServer}"

[ "${FUZZ_SKIP_SETUP:-0}" = 1 ] || bash scripts/setup.sh
if ! command -v clang++-14 >/dev/null || [ ! -d /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq clang-14 libclang-rt-14-dev >/dev/null
fi
# -fsanitize=fuzzer-no-link everywhere: without coverage instrumentation of
# the libraries, libFuzzer would only see its own entry point and mutate blind.
cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_C_FLAGS="-O1 -fsanitize=fuzzer-no-link" -DCMAKE_CXX_FLAGS="-O1 -fsanitize=fuzzer-no-link" \
  -DCMAKE_BUILD_TYPE=Debug -DREKALL_SANITIZE=ON -DREKALL_LIBFUZZER=ON -DREKALL_BUILD_BENCH=OFF >/dev/null
ninja -C build-fuzz -j"$JOBS" "${TARGETS[@]/#/fuzz_}"

mkdir -p build-fuzz/artifacts
for t in "${TARGETS[@]}"; do
  # Every target takes inputs up to 64 KiB, KeywordQuery included: the
  # store sends each distinct term once (at most 64) and refuses a query
  # past 4 KiB, so FTS5's bm25 is no longer quadratic in repeated terms.
  opts=(-max_total_time="$SECS" -max_len=65536 -timeout=60 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="build-fuzz/artifacts/$t-")
  # The server logs every rejected message to stderr; libFuzzer keeps its
  # own reports (and the sanitizers') on a copy of it.
  [ "$t" = McpServer ] && opts+=(-close_fd_mask=2)
  mkdir -p "build-fuzz/corpus/$t"
  echo "== fuzz_$t for ${SECS}s"
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    LSAN_OPTIONS="suppressions=$ROOT/tests/lsan.supp:print_suppressions=0" \
    "build-fuzz/tests/fuzz/fuzz_$t" "${opts[@]}" "build-fuzz/corpus/$t" "tests/fuzz/corpus/$t"
done
