#!/usr/bin/env bash
# Installs what the Node.js-driven tests need: the RocketMQ Node.js client scenarios
# (tests/rocketmq/node, label `node`) and the web console's browser test
# (tests/console/browser, label `browser`). Debian's nodejs, npm and chromium when they are
# missing, then each directory's packages (`npm ci`, from its committed package-lock.json) when
# its node_modules is missing or older than the lock file. puppeteer-core downloads no browser:
# the test drives Debian's /usr/bin/chromium. Quiet unless it has something to do or fails; safe
# to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
dirs=(tests/rocketmq/node tests/console/browser)

log=$(mktemp)
trap 'rm -f "$log"' EXIT
fail() {
  echo "error: $1" >&2
  cat "$log" >&2
  exit 1
}

# By command, not by package: a Node.js installed otherwise (NodeSource's nodejs bundles npm and
# conflicts with Debian's npm package) is used as it is; so is a Chromium at $CHROMIUM.
missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  ./scripts/install-deps.sh "${missing[@]}"
fi

for dir in "${dirs[@]}"; do
  [ -f "$dir/package-lock.json" ] || continue
  # npm writes node_modules/.package-lock.json at the end of an install: its age is the install's.
  stamp=$dir/node_modules/.package-lock.json
  if [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ]; then
    echo "==> npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) >"$log" 2>&1 || fail "npm ci in $dir failed:"
    touch "$stamp"
  fi
done
