#!/usr/bin/env bash
# Installs what is needed, builds, and starts the split deployment on loopback (docs/deploy.md):
# PostgreSQL, redis-server and the Kafka mock cluster, then im-repo, im-logic, im-task and two
# im-gateways (http://127.0.0.1:8081/ and :8082/). Ctrl-C stops everything. Extra arguments go to
# tests/e2e/split_harness.py (--gateways N, --first-gateway-port P, --log-level L).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/install-deps.sh
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=true
cmake --preset release >/dev/null
cmake --build --preset release --target im-gateway im-logic im-repo im-task im-kafka-mock
exec /usr/bin/python3 tests/e2e/split_harness.py --bindir build/release/daemons \
  --kafka-mock build/release/src/kafka/im-kafka-mock "$@"
