#!/usr/bin/env bash
# Fails when a module includes a module it may not depend on (shared/DESIGN.md section 1):
#   common <- store <- {timer, txn} <- broker ; client -> common + proto only.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
check() {  # folder, forbidden include prefixes...
  local dir=$1; shift
  [ -d "$dir" ] || return 0
  for bad in "$@"; do
    if hits=$(grep -rnE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[\"<]${bad}/" "$dir" \
        --include='*.h' --include='*.cc' 2>/dev/null); then
      echo "layering: $dir/ must not include $bad/:"; echo "$hits"; status=1
    fi
  done
}
check common proto store broker timer txn client
check proto store broker timer txn client
check store broker timer txn client proto
check timer broker client txn
check txn broker client
check client store broker timer txn
check examples store broker timer txn
check tools store broker timer txn
exit $status
