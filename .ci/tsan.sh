#!/usr/bin/env bash
# Build formgate._core with ThreadSanitizer into build/tsan and run .ci/tsan_smoke.py under it
# (concurrent compile_grammar and batch_fill_next_token_bitmask from several Python threads).
# Extra arguments go to tsan_smoke.py:
#
#   .ci/tsan.sh                          # default smoke run
#   .ci/tsan.sh --threads 8 --steps 60   # heavier
#   .ci/tsan.sh --probe-shared-matcher   # deliberate misuse (one matcher, two threads): TSan must
#                                        # report a race and exit non-zero
#
# Environment: JOBS=N compile jobs (default nproc); FORMGATE_SAN_NO_BUILD=1 reuses build/tsan.
# The whole package is copied to build/tsan/pkg with the instrumented .so; python itself is not
# instrumented, so libtsan is LD_PRELOADed to be the first runtime in the process.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build/tsan"
PKG="$BUILD/pkg"
JOBS="${JOBS:-$(nproc)}"

PY="$(python3 -c 'import sys; print(sys.executable)')"
PYBIND11_DIR="$("$PY" -c 'import pybind11; print(pybind11.get_cmake_dir())')"
TSAN_FLAGS="-fsanitize=thread -fno-omit-frame-pointer -O1 -g"

if [[ "${FORMGATE_SAN_NO_BUILD:-0}" != 1 ]]; then
  # pybind11_add_module makes a MODULE library: it links with CMAKE_MODULE_LINKER_FLAGS.
  cmake -S "$ROOT" -B "$BUILD" \
    -DFORMGATE_SANITIZE=OFF \
    -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_CXX_FLAGS="$TSAN_FLAGS" \
    -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" \
    -DCMAKE_MODULE_LINKER_FLAGS="-fsanitize=thread" \
    -DPython_EXECUTABLE="$PY" \
    -Dpybind11_DIR="$PYBIND11_DIR"
  cmake --build "$BUILD" -j "$JOBS"
fi

SO="$(ls "$BUILD"/_core*.so)"
rm -rf "$PKG"
mkdir -p "$PKG"
# The whole package (subpackages json_schema/, fuzz/ included), minus the normal extension.
cp -r "$ROOT/python/formgate" "$PKG/formgate"
rm -f "$PKG"/formgate/_core*.so
find "$PKG" -name __pycache__ -prune -exec rm -rf {} +
cp "$SO" "$PKG/formgate/"

TSAN_LIB="$(gcc -print-file-name=libtsan.so)"
[[ -e "$TSAN_LIB" ]] || { echo "tsan.sh: $TSAN_LIB not found (install gcc's libtsan)" >&2; exit 2; }

export PYTHONPATH="$PKG${PYTHONPATH:+:$PYTHONPATH}"
export FORMGATE_EXPECT_PKG="$PKG"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:history_size=4}"

cd "$ROOT"
LD_PRELOAD="$TSAN_LIB${LD_PRELOAD:+ $LD_PRELOAD}" "$PY" "$ROOT/.ci/tsan_smoke.py" "$@"
