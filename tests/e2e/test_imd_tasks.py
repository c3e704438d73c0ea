#!/usr/bin/env python3
"""imd runs the task workers in-process: offline push (to a stand-in APNs over HTTP/2 + TLS),
retries, dead letters and re-drive, search on SQLite FTS5 (tests/e2e/tasks_scenario.py)."""
import os
import shutil
import sys
import tempfile

import tasks_scenario
from push_stub import ApnsStub
from imd_harness import start_imd


def main(imd, stub_server):
    tmp = tempfile.mkdtemp(prefix="imd-tasks-")
    stub = ApnsStub(stub_server, tasks_scenario.apns_script())
    proc = None
    try:
        config = os.path.join(tmp, "imd.toml")
        with open(config, "w") as f:
            f.write('admin_token = "%s"\n' % tasks_scenario.ADMIN_TOKEN)
            f.write("[tasks]\nmax_attempts = %d\ninitial_backoff_ms = 50\nmax_backoff_ms = 500\n"
                    % tasks_scenario.MAX_ATTEMPTS)
            f.write('[push]\nenabled = true\napns_key_file = "%s"\napns_key_id = "KEYID12345"\n'
                    'apns_team_id = "TEAMID1234"\napns_topic = "%s"\napns_endpoint = "%s"\napns_ca_file = "%s"\n'
                    % (stub.key_file, tasks_scenario.APNS_TOPIC, stub.endpoint, stub.ca_file))
        proc, port = start_imd(imd, os.path.join(tmp, "data"), ["--config", config])
        tasks_scenario.run(port, port, port, stub)
        print("imd tasks: ok")
    finally:
        if proc:
            proc.terminate()
            proc.wait(20)
        stub.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(stub.dir, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
