#!/usr/bin/env bash
# Installs what is needed, builds, and starts imd on http://127.0.0.1:8080/ with its data in
# ./data. Extra arguments go to imd (e.g. --listen 127.0.0.1:9000).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=true
cmake --preset release >/dev/null
cmake --build --preset release --target imd
exec build/release/daemons/imd --data-dir "$root/data" "$@"
