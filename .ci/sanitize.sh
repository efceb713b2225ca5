#!/usr/bin/env bash
# Build formgate._core with AddressSanitizer + UndefinedBehaviorSanitizer (FORMGATE_SANITIZE=ON)
# into build/sanitize and run pytest against it. Extra arguments go to pytest:
#
#   .ci/sanitize.sh                                  # whole suite (tests/)
#   .ci/sanitize.sh -x -k oracle                     # a subset, stop at the first failure
#   .ci/sanitize.sh -k "not llama3 and not qwen2"    # skip the slow real 128k/151k vocabularies
#
# Environment knobs:
#   JOBS=N                 parallel compile jobs (default: nproc)
#   FORMGATE_SAN_NO_TORCH=1  run with torch blocked (bitmasks fall back to numpy); by default torch
#                          is imported normally, which works under the preloaded ASan runtime.
#   FORMGATE_SAN_NO_BUILD=1  reuse build/sanitize as it is (skip cmake)
#
# The sanitized extension is loaded from a private copy of the package (build/sanitize/pkg), so the
# .so next to python/formgate/ is neither used nor touched. The ASan/UBSan runtimes must be the
# first libraries in the process, hence LD_PRELOAD: python itself is not instrumented.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build/sanitize"
PKG="$BUILD/pkg"
JOBS="${JOBS:-$(nproc)}"

# The real interpreter, not a pyenv/venv shim script: LD_PRELOAD must reach python, not bash.
PY="$(python3 -c 'import sys; print(sys.executable)')"
PYBIND11_DIR="$("$PY" -c 'import pybind11; print(pybind11.get_cmake_dir())')"

if [[ "${FORMGATE_SAN_NO_BUILD:-0}" != 1 ]]; then
  cmake -S "$ROOT" -B "$BUILD" \
    -DFORMGATE_SANITIZE=ON \
    -DCMAKE_BUILD_TYPE=Debug \
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

ASAN_LIB="$(gcc -print-file-name=libasan.so)"
UBSAN_LIB="$(gcc -print-file-name=libubsan.so)"
for lib in "$ASAN_LIB" "$UBSAN_LIB"; do
  [[ -e "$lib" ]] || { echo "sanitize.sh: $lib not found (install gcc's libasan/libubsan)" >&2; exit 2; }
done

export PYTHONPATH="$PKG${PYTHONPATH:+:$PYTHONPATH}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# tests/adversarial scales its time bounds by this (the instrumented build is 3-5x slower).
export FORMGATE_TIME_SCALE="${FORMGATE_TIME_SCALE:-5}"
# Keep HF tokenizers from forking worker threads behind our back.
export TOKENIZERS_PARALLELISM=false
# An unoptimised ASan build uses several times the stack of a release build per frame: the
# parser's 1,000-level nesting limit (tests/adversarial) overflows the default 8 MiB there, not
# in release builds. Threads inherit this size too.
ulimit -s 65536 2>/dev/null || ulimit -s unlimited 2>/dev/null || true

san_python() {
  LD_PRELOAD="$ASAN_LIB $UBSAN_LIB${LD_PRELOAD:+ $LD_PRELOAD}" "$PY" "$@"
}

if [[ "${FORMGATE_SAN_NO_TORCH:-0}" == 1 ]]; then
  # A meta-path finder that makes `import torch` raise ImportError (bitmask.py falls back to
  # numpy), installed as sitecustomize.py in the private package dir (on PYTHONPATH).
  cat >"$PKG/sitecustomize.py" <<'EOF'
import sys


class _BlockTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch blocked by .ci/sanitize.sh (FORMGATE_SAN_NO_TORCH=1)")
        return None


sys.meta_path.insert(0, _BlockTorch())
EOF
fi

# Prove the sanitized extension is the one pytest will import (tests/conftest.py does
# `import formgate` after putting tests/ first on sys.path; PYTHONPATH comes before site-packages).
cd "$ROOT"
san_python - "$PKG" <<'EOF'
import os
import sys

sys.path.insert(0, os.path.join(os.getcwd(), "tests"))  # the same order conftest.py creates
import formgate
import formgate._core as core

pkg = os.path.realpath(sys.argv[1])
print("sanitize.sh: formgate._core =", core.__file__)
if not os.path.realpath(core.__file__).startswith(pkg + os.sep):
    sys.exit(f"sanitize.sh: expected the sanitized _core under {pkg}, got {core.__file__}")
maps = open("/proc/self/maps").read()
if "libasan" not in maps:
    sys.exit("sanitize.sh: libasan is not loaded in this process")
print("sanitize.sh: torch", "available" if formgate.bitmask.torch is not None else "not used")
EOF

san_python -m pytest -p no:cacheprovider "$@"
