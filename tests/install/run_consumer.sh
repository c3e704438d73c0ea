#!/usr/bin/env bash
# Builds and runs tests/install/consumer.cc against libim, as a user would.
#   run_consumer.sh package <libim build dir> <scratch dir>   install, then find_package(im)
#   run_consumer.sh subdir  <libim source dir> <scratch dir>  add_subdirectory(libim)
set -euo pipefail
mode=$1 arg=$2 scratch=$3
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$scratch"
mkdir -p "$scratch"
case "$mode" in
  package)
    cmake --install "$arg" --prefix "$scratch/prefix" >/dev/null
    cmake -S "$here" -B "$scratch/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$scratch/prefix" >/dev/null
    ;;
  subdir)
    cmake -S "$here" -B "$scratch/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIM_SOURCE_DIR="$arg" \
      -DCMAKE_CXX_COMPILER_LAUNCHER="$(command -v ccache || true)" >/dev/null
    ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
cmake --build "$scratch/build" --target consumer -j 2 >/dev/null
"$scratch/build/consumer"
