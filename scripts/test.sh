#!/usr/bin/env bash
# Builds TideMQ and runs every test (unit, integration, crash, short fuzz runs).
# This is the command CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
"./scripts/check_layering.sh"
"./scripts/check_thread_safety.sh"
"./scripts/build.sh"
build_dir=${TIDEMQ_BUILD_DIR:-build}
echo "==> running tests"
cd "$build_dir"
ctest --output-on-failure -j "${TIDEMQ_TEST_JOBS:-2}" --timeout 300
