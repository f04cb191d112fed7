#!/usr/bin/env bash
# Installs the Debian packages TideMQ builds with, only those that are missing. Extra package
# names as arguments are installed too (scripts/check_thread_safety.sh asks for clang).
set -euo pipefail

PACKAGES=(
  g++ cmake ninja-build pkg-config
  libboost-dev libleveldb-dev libsnappy-dev libprotobuf-dev protobuf-compiler libspdlog-dev libfmt-dev
  libcli11-dev nlohmann-json3-dev libsqlite3-dev
  libgtest-dev libgmock-dev
  libgrpc++-dev protobuf-compiler-grpc libssl-dev zlib1g-dev
  etcd-server etcd-client
  "$@"
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "==> installing missing packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "error: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
