#!/usr/bin/env bash
# Installs rekall the two ways a user or a packager does, away from the
# checkout, and tests what got installed:
#   wheel    `pip wheel .` + `auditwheel repair` (a manylinux wheel), installed
#            into a fresh venv in a temporary folder with its dependencies
#            (sqlite-vec, numpy) from deps/wheels, no index;
#   prefix   `cmake --install build --prefix P` of the release build.
# Each is run from a temporary folder with HOME there and no REKALL_*/XDG_*
# variables: the checkout's models/ and deps/ are out of reach (the wheel's
# binary has no source path compiled in; the prefix's ignores it outside its
# build tree). Checks: ldd (nothing from a -dev package; for the wheel only
# glibc), add + semantic search + stats (tests/install/test_installed_cli.py),
# `rekall serve` through the MCP SDK client, the Python module
# (tests/install/test_rekall_engine.py) and the README's Python example.
#
#   scripts/wheel_test.sh [wheel|prefix]...   (default: both)
# Needs: `scripts/setup.sh --test` (.venv-build, .venv-test, deps/wheels) and,
# for prefix, the release build in build/ (scripts/test.sh makes both).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_VENV="${BUILD_VENV:-$ROOT/.venv-build}"
TEST_PY="${TEST_PY:-$ROOT/.venv-test/bin/python}"   # has the MCP SDK and pytest
WHEELHOUSE="${WHEELHOUSE:-$ROOT/deps/wheels}"       # the PyPI wheels setup.sh fetched
WORK="$(mktemp -d /tmp/rekall-install-test.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1
KINDS=("$@")
((${#KINDS[@]})) || KINDS=(wheel prefix)

passed=0; failed=0; failures=()
# step NAME CMD...: runs CMD with its output in a log; prints the log on failure.
step() {
  local name="$1"; shift
  if "$@" >"$WORK/$name.log" 2>&1; then
    echo "PASS $name: $(tail -1 "$WORK/$name.log" | cut -c1-150)"; passed=$((passed + 1))
  else
    echo "FAIL $name"; sed 's/^/    /' "$WORK/$name.log" | tail -40
    failed=$((failed + 1)); failures+=("$name")
  fi
}

# The environment of a user who has nothing but the installed files.
clean_env() {
  env $(env | sed -n 's/^\(REKALL_[A-Z_]*\|XDG_[A-Z_]*\)=.*/-u \1/p') HOME="$WORK/home" "$@"
}

# ldd_check FILE ALLOW_REGEX: every library FILE loads is found, matches
# ALLOW_REGEX if given, and comes from no -dev package.
ldd_check() {
  local f="$1" allow="${2:-}" bad=0 lib path pkg
  ldd "$f" || return 1
  while read -r lib path; do
    [ "$path" = "not" ] && { echo "missing: $lib"; bad=1; continue; }
    [ -n "$allow" ] && ! [[ "$lib" =~ $allow ]] && { echo "not allowed: $lib ($path)"; bad=1; }
    pkg="$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | cut -d: -f1 | head -1)"
    [[ "$pkg" == *-dev ]] && { echo "from a -dev package: $lib ($pkg)"; bad=1; }
  done < <(ldd "$f" | awk '$2 == "=>" {print $1, $3}')
  return $bad
}

build_wheel() {
  local launcher=""
  command -v ccache >/dev/null && launcher="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache;-DCMAKE_C_COMPILER_LAUNCHER=ccache"
  SKBUILD_CMAKE_ARGS="$launcher" CMAKE_BUILD_PARALLEL_LEVEL="${JOBS:-2}" \
    "$BUILD_VENV/bin/pip" wheel --no-build-isolation --no-deps "$ROOT" -w "$WORK/dist" &&
    PATH="$BUILD_VENV/bin:$PATH" auditwheel repair -w "$WORK/wheelhouse" "$WORK"/dist/rekall_engine-*.whl &&
    ls "$WORK"/wheelhouse/rekall_engine-*manylinux*.whl
}

install_wheel() {
  python3 -m venv "$WORK/venv" &&
    "$WORK/venv/bin/pip" install -q --no-index --find-links "$WHEELHOUSE" "$WORK"/wheelhouse/rekall_engine-*.whl pytest &&
    cd "$WORK" && ! grep -l "$ROOT" "$WORK/venv/bin/rekall" "$WORK"/venv/lib/python3*/site-packages/rekall_engine/*.so
}

installed_cli() {  # installed_cli BIN MODEL_SOURCE VEC_SOURCE
  cd "$WORK" && clean_env REKALL_BIN="$1" REKALL_EXPECT_MODEL_SOURCE="$2" REKALL_EXPECT_VEC_SOURCE="$3" \
    "$TEST_PY" -m pytest -q -p no:cacheprovider "$ROOT/tests/install/test_installed_cli.py"
}

python_module() {
  cd "$WORK" && clean_env "$WORK/venv/bin/python" -m pytest -q -p no:cacheprovider "$ROOT/tests/install/test_rekall_engine.py"
}

# The ```python block after <!-- readme-example --> in README.md, run as is.
readme_example() {
  awk '/<!-- readme-example -->/ {on = 1; next} on && /^```python/ {inblk = 1; next}
       inblk && /^```/ {exit} inblk {print}' "$ROOT/README.md" > "$WORK/readme_example.py"
  [ -s "$WORK/readme_example.py" ] || { echo "no example after <!-- readme-example --> in README.md"; return 1; }
  mkdir -p "$WORK/example" && cd "$WORK/example" && clean_env "$WORK/venv/bin/python" "$WORK/readme_example.py"
}

for kind in "${KINDS[@]}"; do
  case "$kind" in
    wheel)
      step wheel_build build_wheel
      [ -f "$WORK"/wheelhouse/rekall_engine-*.whl ] || continue
      step wheel_install install_wheel
      [ -x "$WORK/venv/bin/rekall" ] || continue
      step wheel_ldd_rekall ldd_check "$WORK/venv/bin/rekall" '^(linux-vdso|libc|libm|libpthread|libdl|librt|ld-linux)'
      step wheel_ldd_module ldd_check "$(ls "$WORK"/venv/lib/python3*/site-packages/rekall_engine/_rekall_engine*.so)" \
        '^(linux-vdso|libc|libm|libpthread|libdl|librt|ld-linux)'
      step wheel_cli_and_mcp installed_cli "$WORK/venv/bin/rekall" "install prefix" "python package"
      step wheel_python_module python_module
      step wheel_readme_example readme_example
      ;;
    prefix)
      step prefix_install cmake --install "$ROOT/build" --prefix "$WORK/prefix"
      step prefix_ldd ldd_check "$WORK/prefix/bin/rekall"
      step prefix_cli_and_mcp installed_cli "$WORK/prefix/bin/rekall" "install prefix" "install prefix"
      ;;
    *) echo "unknown kind '$kind' (wheel or prefix)"; exit 2 ;;
  esac
done

echo "install tests: $passed passed, $failed failed${failures:+ (${failures[*]})}"
[ "$failed" = 0 ]
