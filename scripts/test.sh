#!/usr/bin/env bash
# Builds TideMQ and runs every test (unit, integration, crash, short fuzz runs).
# This is the command CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
"./scripts/check_layering.sh"
"./scripts/build.sh"
build_dir=${TIDEMQ_BUILD_DIR:-build}
# The build ran clang's thread-safety analysis over every module (scripts/build.sh); a build
# directory configured otherwise (GCC) gets the analysis in a build of its own.
if grep -q '^TIDEMQ_THREAD_SAFETY:BOOL=ON' "$build_dir/CMakeCache.txt"; then
  "./scripts/check_thread_safety.sh" --probe
else
  "./scripts/check_thread_safety.sh"
fi
# Node.js and the official RocketMQ 5 Node.js client (tests labelled `node`), Chromium and
# puppeteer-core for the web console driven in a real browser (label `browser`).
"./scripts/install-node-deps.sh"
echo "==> running tests"
cd "$build_dir"
ctest --output-on-failure -j "${TIDEMQ_TEST_JOBS:-2}" --timeout 300
