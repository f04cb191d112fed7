#!/usr/bin/env bash
# Configures and builds TideMQ into build/ (or $TIDEMQ_BUILD_DIR). Extra args go to cmake.
#   TIDEMQ_SANITIZE=1 scripts/build.sh   -> ASan + UBSan build in build-asan/
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
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S . -B "$build_dir" -G Ninja "${extra[@]}" "$@" >/dev/null
fi
echo "==> building in $build_dir (-j$jobs)"
cmake --build "$build_dir" -j "$jobs"
