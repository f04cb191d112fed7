#!/usr/bin/env bash
# Installs what the RocketMQ Node.js client tests (tests/rocketmq/node) need: Debian's nodejs and
# npm when the commands are missing, then the client itself (`npm ci`, from the committed
# package-lock.json) when node_modules is missing or older than the lock file. Quiet unless it
# has something to do or fails; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=tests/rocketmq/node

log=$(mktemp)
trap 'rm -f "$log"' EXIT
fail() {
  echo "error: $1" >&2
  cat "$log" >&2
  exit 1
}

# By command, not by package: a Node.js installed otherwise (NodeSource's nodejs bundles npm and
# conflicts with Debian's npm package) is used as it is.
missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  ./scripts/install-deps.sh "${missing[@]}"
fi

# npm writes node_modules/.package-lock.json at the end of an install: its age is the install's.
stamp=$dir/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ]; then
  echo "==> npm ci in $dir"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1 || fail "npm ci in $dir failed:"
  touch "$stamp"
fi
