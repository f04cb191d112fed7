#!/usr/bin/env bash
# Configures and builds TideMQ into build/ (or $TIDEMQ_BUILD_DIR). Extra args go to cmake.
#   TIDEMQ_SANITIZE=1 scripts/build.sh   -> ASan + UBSan build in build-asan/
#   TIDEMQ_TARGETS="tidemq-broker tidemq" scripts/build.sh  -> only those targets (start.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
"./scripts/install-deps.sh"

build_dir=${TIDEMQ_BUILD_DIR:-build}
extra=()
if [ "${TIDEMQ_SANITIZE:-0}" = "1" ]; then
  build_dir=${TIDEMQ_BUILD_DIR:-build-asan}
  extra+=(-DTIDEMQ_SANITIZE=ON)
fi
jobs=${TIDEMQ_JOBS:-$(nproc)}
# clang with its thread-safety analysis as errors (common/mutex.h): every GUARDED_BY / REQUIRES
# is checked while building, in one build (scripts/check_thread_safety.sh --probe checks that
# the analysis is live). TIDEMQ_CXX=g++ builds with GCC instead (no analysis).
cxx=${TIDEMQ_CXX:-clang++}
if [ ! -f "$build_dir/build.ninja" ]; then
  compiler=(-DCMAKE_CXX_COMPILER="$cxx")
  if [ "$cxx" = "clang++" ]; then
    "./scripts/install-deps.sh" clang
    compiler+=(-DTIDEMQ_THREAD_SAFETY=ON)
  fi
  cmake -S . -B "$build_dir" -G Ninja "${compiler[@]}" "${extra[@]}" "$@" >/dev/null
fi
targets=()
if [ -n "${TIDEMQ_TARGETS:-}" ]; then
  read -r -a names <<<"$TIDEMQ_TARGETS"
  targets=(--target "${names[@]}")
fi
echo "==> building ${TIDEMQ_TARGETS:-everything} in $build_dir (-j$jobs)"
cmake --build "$build_dir" -j "$jobs" "${targets[@]}"
