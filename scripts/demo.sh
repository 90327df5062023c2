#!/usr/bin/env bash
# Sets up, builds, imports the bundled sample knowledge base (data/sample.jsonl,
# 50 developer entries) into a fresh database and searches it (hybrid, the
# default: keywords and meaning fused), then by keywords alone.
#   scripts/demo.sh ["your query"]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build -j"$(nproc)" rekall
DB="$ROOT/build/demo/knowledge.db"
rm -rf "$ROOT/build/demo" && mkdir -p "$ROOT/build/demo"
REKALL="$ROOT/build/rekall --db $DB"
$REKALL import data/sample.jsonl
QUERY="${1:-request times out behind the reverse proxy}"
echo "\$ rekall search \"$QUERY\""
$REKALL search --limit 5 "$QUERY"
echo "\$ rekall search --mode keyword \"C++ iterator crash\""
$REKALL search --mode keyword --limit 3 "C++ iterator crash"
echo "\$ rekall index status"
$REKALL index status
