#!/usr/bin/env bash
# Coverage-guided fuzzing of the parsers with libFuzzer (clang), beyond the
# deterministic mutation run that the test suite does.
#   scripts/fuzz.sh [seconds per target, default 60]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECS="${1:-60}"
bash scripts/setup.sh
if ! command -v clang++-14 >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-14 libclang-rt-14-dev >/dev/null
fi
cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DCMAKE_BUILD_TYPE=Debug -DREKALL_SANITIZE=ON -DREKALL_LIBFUZZER=ON -DREKALL_BUILD_BENCH=OFF >/dev/null
for t in Tokenizer JsonRpc KeywordQuery ImportLine DatabaseFile; do
  ninja -C build-fuzz "fuzz_$t"
  mkdir -p "build-fuzz/corpus/$t"
  echo "== fuzz_$t for ${SECS}s"
  "build-fuzz/tests/fuzz/fuzz_$t" -max_total_time="$SECS" -max_len=65536 "build-fuzz/corpus/$t"
done
