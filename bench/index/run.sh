#!/usr/bin/env bash
# Full vector-index benchmark: C++ backends, raw vec0, memory-read bound and
# numpy, at 1K/10K/100K/1M random 384-d unit vectors, k=10, 100 queries.
# Prints one Markdown table; bench/index/RESULTS.md records a run.
#
#   bench/index/run.sh                 # full run (vec0 up to 100K)
#   VEC_MAX=1000000 bench/index/run.sh # also build + query vec0 at 1M (slow)
#   SIZES=1000,10000 bench/index/run.sh  # the reduced CI smoke
#
# Needs ~6 GB of RAM at 1M and, for vec0, ~1.5 GB of disk per 1M in $TMPDIR.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="${BUILD:-$ROOT/build-index}"
SIZES="${SIZES:-1000,10000,100000,1000000}"
QUERIES="${QUERIES:-100}"
VEC_MAX="${VEC_MAX:-100000}"
THREADS="${THREADS:-2}"

if [ ! -x "$BUILD/src/index/index_bench" ]; then
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
ninja -C "$BUILD" -j2 index_bench >/dev/null

echo "# $(date -u +%FT%TZ) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$BUILD/src/index/index_bench" --sizes "$SIZES" --queries "$QUERIES" --vec-max "$VEC_MAX" \
  --threads "$THREADS" --dir "${TMPDIR:-/tmp}"
for t in 1 "$THREADS"; do
  echo "numpy with OPENBLAS_NUM_THREADS=$t:"
  OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t python3 "$ROOT/bench/index/numpy_knn.py" \
    --sizes "$SIZES" --queries "$QUERIES"
done
