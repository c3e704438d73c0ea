#!/usr/bin/env bash
# Installs every build and test dependency of libim from Debian 12 packages. Idempotent:
# packages already present are skipped, so a second run costs one dpkg query.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libssl-dev libsqlite3-dev libsqlitecpp-dev
  libprotobuf-dev protobuf-compiler
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  doctest-dev libbenchmark-dev
  python3-websockets libtomlplusplus-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all packages present"
fi
