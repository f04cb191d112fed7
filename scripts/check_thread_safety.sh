#!/usr/bin/env bash
# Compiles the modules with clang's thread-safety analysis as errors (-Wthread-safety
# -Werror=thread-safety), so every GUARDED_BY / REQUIRES / EXCLUDES (common/mutex.h,
# common/thread_annotations.h) is checked by the compiler. Libraries only, in build-tsa/ (or
# $TIDEMQ_TSA_BUILD_DIR); part of scripts/test.sh. Installs clang when missing.
#   --probe   only check that the analysis is live (scripts/build.sh runs it while building)
set -euo pipefail
cd "$(dirname "$0")/.."
probe_only=0
[ "${1:-}" = "--probe" ] && probe_only=1
build_dir=${TIDEMQ_TSA_BUILD_DIR:-build-tsa}
jobs=${TIDEMQ_JOBS:-$(nproc)}
"./scripts/install-deps.sh" clang
own_build() {  # the analysis in a build of its own (libraries only, no code generation worth having)
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  if [ ! -f "$build_dir/build.ninja" ]; then
    # Only the analysis matters here: no optimisation and no debug information (the fastest
    # compile; the binaries are never run).
    cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS=-O0 \
      -DCMAKE_CXX_COMPILER=clang++ -DTIDEMQ_THREAD_SAFETY=ON -DTIDEMQ_BUILD_TESTS=OFF \
      "${launcher[@]}" >/dev/null
  fi
  # Every module with locks (tidemq::Mutex); tools, bench and tests are not analysed.
  targets=(tidemq_store tidemq_timer tidemq_txn tidemq_cluster tidemq_broker_core tidemq_broker tidemq_client
           tidemq_rocketmq)
  echo "==> thread-safety analysis (clang, $build_dir): ${targets[*]}"
  cmake --build "$build_dir" -j "$jobs" --target "${targets[@]}"
}
[ "$probe_only" = 1 ] || own_build
# The analysis must be live: a field read without its mutex has to fail to compile.
probe=$(mktemp --suffix=.cc)
trap 'rm -f "$probe"' EXIT
cat > "$probe" <<'CC'
#include "common/mutex.h"
struct Probe {
  tidemq::Mutex mu;
  int guarded GUARDED_BY(mu) = 0;
  int Read() { return guarded; }  // no lock: must be refused
};
int main() { Probe p; return p.Read(); }
CC
if clang++ -std=c++20 -I. -fsyntax-only -Wthread-safety -Werror=thread-safety "$probe" 2>/dev/null; then
  echo "check_thread_safety: an unguarded read compiled: the annotations are not checked" >&2
  exit 1
fi
echo "==> thread-safety analysis: ok"
