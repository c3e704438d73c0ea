#!/usr/bin/env bash
# Installs every build and test dependency of libim from Debian 12 packages. Idempotent:
# packages already present are skipped, so a second run costs one dpkg query.
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libssl-dev libsqlite3-dev libsqlitecpp-dev librocksdb-dev
  libprotobuf-dev protobuf-compiler
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  doctest-dev libbenchmark-dev
  python3-websockets libtomlplusplus-dev
  libpqxx-dev libpq-dev postgresql
  librdkafka-dev kcat
  libhiredis-dev redis-server
  libcurl4-openssl-dev python3-h2 openssl
  chromium
  clang-16 libfuzzer-16-dev libclang-rt-16-dev  # scripts/fuzz.sh: libFuzzer and the sanitizer runtimes
)
# The browser test (tests/browser) runs on node and npm: a node already on PATH (such as
# nodesource's nodejs, which brings its own npm) is used as it is; Debian's are the fallback.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

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

# The PostgreSQL tests start throwaway clusters of their own. When this run installed the server,
# the default cluster Debian creates (and starts as a service where services start) is stopped:
# nothing is left running. A server that was there before is left alone.
if [[ " ${missing[*]} " == *" postgresql "* ]] && command -v pg_lsclusters >/dev/null 2>&1; then
  pg_lsclusters --no-header 2>/dev/null | while read -r version name _ status _; do
    if [ "$status" = online ]; then
      echo "install-deps: stopping the PostgreSQL service cluster $version/$name"
      SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
      $SUDO pg_ctlcluster "$version" "$name" stop || true
    fi
  done
fi

# The Redis tests start throwaway servers of their own. When this run installed redis-server, the
# service Debian enables (and starts where services start) is stopped and disabled: nothing is
# left running. A server that was there before is left alone.
if [[ " ${missing[*]} " == *" redis-server "* ]]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    echo "install-deps: stopping and disabling the redis-server service"
    $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true
  else
    $SUDO service redis-server stop >/dev/null 2>&1 || true
    if command -v update-rc.d >/dev/null 2>&1; then $SUDO update-rc.d redis-server disable >/dev/null 2>&1 || true; fi
  fi
fi

# The browser test's node packages (playwright-core, pinned by tests/browser/package-lock.json),
# installed again only when the lock file changed.
browser="$(cd "$(dirname "$0")/.." && pwd)/tests/browser"
stamp="$browser/node_modules/.package-lock.sha256"
want=$(sha256sum "$browser/package-lock.json" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "install-deps: tests/browser/node_modules up to date"
else
  echo "install-deps: npm ci in tests/browser"
  npm ci --prefix "$browser" --no-audit --no-fund --loglevel=error
  echo "$want" >"$stamp"
fi
