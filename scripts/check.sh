#!/usr/bin/env bash
# The test command: installs dependencies, builds everything (release preset, warnings as
# errors) and runs every test through CTest. Run from anywhere: scripts/check.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/install-deps.sh

# ccache hits across checkouts in different folders (CI clones into a new one).
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=true

cmake --preset release
cmake --build --preset release
ctest --preset release
