#!/usr/bin/env bash
# Fails when a module includes a module it may not depend on (shared/DESIGN.md section 1):
#   common <- store <- {timer, txn} <- broker/core <- broker (the native adapter)
#   client -> common + proto only; cluster -> store + common; rocketmq/ (the RocketMQ 5
#   front end) and console/ (the HTTP one) -> broker/core only.
# The broker core is protocol-neutral: it includes neither proto/ (the native wire format)
# nor any adapter (broker/*.h, broker/handlers/); the native adapter reaches the store,
# timer/ and txn/ only through the core.
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
# An include of a header directly in broker/ (not broker/core/): the native adapter's.
check_no_adapter() {  # folder
  local dir=$1
  if hits=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]broker/[^/"]+\.h' "$dir" \
      --include='*.h' --include='*.cc' 2>/dev/null); then
    echo "layering: $dir/ must not include the native adapter (broker/*.h):"; echo "$hits"
    status=1
  fi
}
check common proto store broker timer txn client
check proto store broker timer txn client
check store broker timer txn client proto
check timer broker client txn
check txn broker client
check broker/core proto client broker/handlers
check_no_adapter broker/core
# The native adapter (broker/ outside core/) reaches store/, timer/ and txn/ only through the
# core: their types come with the core's headers.
if hits=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<](store|timer|txn)/' \
    broker/*.h broker/*.cc broker/handlers/*.cc 2>/dev/null); then
  echo "layering: the native adapter (broker/, broker/handlers/) must not include store/, timer/ or txn/:"
  echo "$hits"; status=1
fi
check client store broker timer txn cluster
# The RocketMQ 5 front end (rocketmq/) uses the broker core only; the native adapter never
# includes it (only the program's composition root, broker/main.cc, wires the two).
check rocketmq store timer txn cluster proto client broker/handlers
check_no_adapter rocketmq
if hits=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]rocketmq/' \
    broker/*.h broker/*.cc broker/handlers/*.cc broker/core/*.h broker/core/*.cc 2>/dev/null \
    | grep -v '^broker/main.cc:'); then
  echo "layering: broker/ must not include rocketmq/ (only broker/main.cc wires it):"
  echo "$hits"; status=1
fi
# The HTTP front end (console/) likewise: the core only, never another front end; and no
# front end includes it (broker/main.cc wires it).
check console store timer txn cluster proto client broker/handlers rocketmq
check_no_adapter console
check rocketmq console
if hits=$(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*["<]console/' \
    broker/*.h broker/*.cc broker/handlers/*.cc broker/core/*.h broker/core/*.cc 2>/dev/null \
    | grep -v '^broker/main.cc:'); then
  echo "layering: broker/ must not include console/ (only broker/main.cc wires it):"
  echo "$hits"; status=1
fi
check cluster broker client timer txn proto
check examples store broker timer txn
check tools store broker timer txn
exit $status
