#!/usr/bin/env python3
"""im-task runs the task workers from Kafka (im-task, im-task-retry, im-dead-letter): offline push
to a stand-in APNs over HTTP/2 + TLS, retries, dead letters kept by im-repo's PostgreSQL and
re-driven over im-task's admin port, and search on PostgreSQL full text queried through im-logic
(tests/e2e/tasks_scenario.py)."""
import sys

import tasks_scenario
from push_stub import ApnsStub
from split_harness import SplitDeployment


def main(bindir, kafka_mock, stub_server):
    stub = ApnsStub(stub_server, tasks_scenario.apns_script())

    def extra(d):
        search = ["--search-backend", "postgres", "--search-postgres-conninfo", d.pg_conninfo(),
                  "--push-enabled", "true"]
        return {
            "logic": search,
            "task": search + ["--admin-token", tasks_scenario.ADMIN_TOKEN,
                              "--tasks-max-attempts", str(tasks_scenario.MAX_ATTEMPTS),
                              "--tasks-initial-backoff-ms", "50", "--tasks-max-backoff-ms", "500",
                              "--push-apns-key-file", stub.key_file, "--push-apns-key-id", "KEYID12345",
                              "--push-apns-team-id", "TEAMID1234", "--push-apns-topic", tasks_scenario.APNS_TOPIC,
                              "--push-apns-endpoint", stub.endpoint, "--push-apns-ca-file", stub.ca_file],
        }

    try:
        with SplitDeployment(bindir, kafka_mock, gateways=("gw1",), extra_args=extra) as d:
            tasks_scenario.run(d.port("gw1"), d.ports["task_admin"], d.ports["task_admin"], stub)
        print("split tasks: ok")
    finally:
        stub.stop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
