#!/usr/bin/env bash
# Side-by-side benchmark of rekall's C++ embedder, sentence-transformers
# (PyTorch CPU) and ONNX Runtime on all-MiniLM-L6-v2, same texts, each
# measurement in its own process. Writes results.jsonl and a Markdown summary
# into $OUT (default /tmp/rekall-bench).
#
#   bench/embed/run.sh            # REPS=3 rounds, interleaved
#   REPS=5 OUT=/tmp/b bench/embed/run.sh
#   PRECISIONS="fp32 bf16" IMPLS="rekall ort" MODES="query throughput" bench/embed/run.sh
#   SENTENCES=13,17 OUT=/tmp/b250 bench/embed/run.sh    # paragraphs of ~250 tokens instead of ~100
#
# Needs: bench_embed (built here if absent: cmake -DREKALL_BUILD_BENCH=ON),
# a venv with torch==2.13.0 sentence-transformers onnxruntime onnx (created
# at $VENV if absent), the model in models/all-MiniLM-L6-v2 (scripts/setup.sh).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="${OUT:-/tmp/rekall-bench}"
VENV="${VENV:-/work/venv-ref}"
REPS="${REPS:-3}"
PRECISIONS="${PRECISIONS:-fp32}"  # rekall's embedder precisions, each measured in every round
IMPLS="${IMPLS:-rekall ort st}"
MODES="${MODES:-query throughput load}"
SENTENCES="${SENTENCES:-5,7}"     # sentences per generated paragraph
MODEL="${MODEL:-$ROOT/models/all-MiniLM-L6-v2}"
BENCH_EMBED="${BENCH_EMBED:-$ROOT/build-embed-bench/src/embed/bench_embed}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
mkdir -p "$OUT"

if [[ ! -x "$BENCH_EMBED" ]]; then
  cmake -S "$ROOT" -B "$ROOT/build-embed-bench" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DREKALL_BUILD_BENCH=ON -DREKALL_BUILD_TESTS=OFF >/dev/null
  ninja -C "$ROOT/build-embed-bench" -j2 bench_embed
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q torch==2.13.0 sentence-transformers onnxruntime onnx
fi
PY="$VENV/bin/python"
BP="$ROOT/bench/embed/bench_py.py"

TEXTS="$OUT/paragraphs.jsonl"
[[ -f "$TEXTS" ]] || "$PY" "$BP" --impl texts --texts "$TEXTS" --runs 1000 --sentences "$SENTENCES"
ONNX="$OUT/model.onnx"
[[ -f "$ONNX" ]] || "$PY" "$BP" --impl export --model "$MODEL" --onnx "$ONNX" 2>/dev/null

RES="$OUT/results.jsonl"
: >"$RES"
run() {  # one measurement, one process; the JSON line goes to $RES
  local line
  line="$("$@" 2>/dev/null | tail -n 1)"
  echo "$line" | tee -a "$RES"
}
for rep in $(seq "$REPS"); do
  echo "== round $rep/$REPS ($(uptime | sed 's/.*load/load/'))"
  for impl in $IMPLS; do
    for mode in $MODES; do
      threads=1
      [[ $mode == throughput ]] && threads=2
      runs=300
      [[ $impl == st ]] && runs=100
      if [[ $impl == rekall ]]; then
        for precision in $PRECISIONS; do
          run "$BENCH_EMBED" --model "$MODEL" --mode $mode --threads $threads --runs $runs --texts "$TEXTS" \
            --precision "$precision"
        done
      else
        run "$PY" "$BP" --impl $impl --model "$MODEL" --onnx "$ONNX" --mode $mode --threads $threads \
          --runs $runs --texts "$TEXTS"
      fi
    done
  done
done
"$PY" "$ROOT/bench/embed/summarize.py" "$RES" | tee "$OUT/summary.md"
