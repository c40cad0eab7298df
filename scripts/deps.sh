#!/usr/bin/env bash
# Install the Debian packages OmenDB's build, tests and benchmarks need.
# Idempotent: packages already present are not touched, and apt-get update
# runs only when something is missing.
set -euo pipefail
PKGS=(
  build-essential clang-14 libclang-rt-14-dev pkg-config
  libcmocka-dev liblz4-dev libzstd-dev libedit-dev libsimde-dev
  libabsl-dev librocksdb-dev libleveldb-dev liblmdb-dev libsqlite3-dev
  python3-dev python3-setuptools python3-pytest python3-numpy python3-lmdb python3-plyvel
  redis-tools tmux
  libsnappy-dev libhnswlib-dev libfaiss-dev dataset-fashion-mnist nutcracker redis-server
  python3-redis python3-fastapi python3-uvicorn python3-httpx python3-matplotlib
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
