"""The split deployment on loopback, for end-to-end and fault tests and for local use
(scripts/run-split.sh): PostgreSQL, redis-server and im-kafka-mock started here, then im-repo,
im-logic, im-task and two im-gateways. Every server gets its own free port and a directory under
one temporary root; stop() kills them all. Components can be killed and restarted on the same
ports (fault tests)."""
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port, path, timeout=60, want=200):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=2) as r:
                if r.status == want:
                    return
                last = r.status
        except Exception as e:  # not up yet
            last = e
        time.sleep(0.1)
    raise TimeoutError("http://127.0.0.1:%d%s not %d within %ds: %s" % (port, path, want, timeout, last))


def pg_bindir():
    if os.environ.get("IM_PG_BINDIR"):
        return os.environ["IM_PG_BINDIR"]
    versions = sorted((int(v), v) for v in os.listdir("/usr/lib/postgresql") if v.isdigit())
    return "/usr/lib/postgresql/%s/bin" % versions[-1][1]


class SplitDeployment:
    def __init__(self, bindir, kafka_mock, gateways=("gw1", "gw2"), log_level="warn", fanout_batch_size=1000,
                 realtime_fanout_max_members=500, send_timeout_ms=10000, session_timeout_ms=6000,
                 presence_ttl_seconds=120, keep_root=False, extra_args=None):
        """bindir: the directory of im-gateway, im-logic, im-repo and im-task; kafka_mock: the
        im-kafka-mock program; extra_args: more flags per service ("logic", "task", a gateway id),
        or a callable taking this deployment and returning them."""
        self.bindir = bindir
        self.mock = kafka_mock
        self.root = tempfile.mkdtemp(prefix="im-split-")
        os.chmod(self.root, 0o755)
        self.gateway_ids = list(gateways)
        self.log_level = log_level
        self.fanout_batch_size = fanout_batch_size
        self.realtime_fanout_max_members = realtime_fanout_max_members
        self.send_timeout_ms = send_timeout_ms
        self.session_timeout_ms = session_timeout_ms
        self.presence_ttl_seconds = presence_ttl_seconds
        self.keep_root = keep_root
        self.extra_args = extra_args or {}
        self.procs = {}
        self.ports = {name: free_port() for name in
                      ["pg", "redis", "repo", "repo_admin", "logic", "logic_admin", "task_admin"] + self.gateway_ids +
                      [g + "_admin" for g in self.gateway_ids]}
        self.jwt_key = os.path.join(self.root, "jwt.key")
        with open(self.jwt_key, "w") as f:
            f.write(secrets.token_urlsafe(48))
        self.brokers = None
        self.password_iterations = 1000  # tests: cheap hashing

    # ---- infrastructure ----
    def _log(self, name):
        return open(os.path.join(self.root, name + ".log"), "ab")

    def _as_postgres(self, argv):
        return (["runuser", "-u", "postgres", "--"] + argv) if os.geteuid() == 0 else argv

    def start_postgres(self):
        data = os.path.join(self.root, "pg")
        if not os.path.isdir(data):
            os.mkdir(data, 0o700)
            if os.geteuid() == 0:
                pw = pwd.getpwnam("postgres")
                os.chown(data, pw.pw_uid, pw.pw_gid)
            subprocess.run(self._as_postgres([os.path.join(pg_bindir(), "initdb"), "-D", data, "-A", "trust",
                                              "--no-sync", "-U", "postgres", "-E", "UTF8", "--locale=C"]),
                           check=True, stdout=subprocess.DEVNULL, stderr=self._log("initdb"))
        sock_dir = os.path.join(self.root, "pgsock")
        os.makedirs(sock_dir, exist_ok=True)
        os.chmod(sock_dir, 0o777)
        opts = "-c listen_addresses=127.0.0.1 -p %d -k %s -c max_connections=200" % (self.ports["pg"], sock_dir)
        subprocess.run(self._as_postgres([os.path.join(pg_bindir(), "pg_ctl"), "-D", data, "-l",
                                          os.path.join(self.root, "pg", "server.log"), "-w", "-t", "60", "-o", opts,
                                          "start"]),
                       check=True, stdout=subprocess.DEVNULL, stderr=self._log("pg_ctl"))

    def stop_postgres(self, mode="fast"):
        data = os.path.join(self.root, "pg")
        subprocess.run(self._as_postgres([os.path.join(pg_bindir(), "pg_ctl"), "-D", data, "-m", mode, "-w",
                                          "-t", "60", "stop"]),
                       stdout=subprocess.DEVNULL, stderr=self._log("pg_ctl"))

    def start_redis(self):
        self.procs["redis"] = subprocess.Popen(
            ["redis-server", "--port", str(self.ports["redis"]), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.root],
            stdout=self._log("redis"), stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.ports["redis"]), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError("redis-server did not start")

    def start_kafka(self):
        topics = ["--topic", "im-upstream:16", "--topic", "im-task:8", "--topic", "im-task-retry:4",
                  "--topic", "im-dead-letter:2"]
        for g in self.gateway_ids:
            topics += ["--topic", "im-downstream-%s:4" % g]
        self.procs["kafka"] = subprocess.Popen([self.mock, "--brokers", "1", *topics], stdin=subprocess.PIPE,
                                               stdout=subprocess.PIPE, stderr=self._log("kafka"), text=True)
        self.brokers = self.procs["kafka"].stdout.readline().strip()
        if not self.brokers:
            raise RuntimeError("im-kafka-mock printed no bootstrap servers")

    # ---- the four services ----
    def _common(self):
        # The mock cluster answers a fetch only after fetch.wait.max.ms (500 ms by default) even
        # when records are waiting, which real brokers do not: poll it every 5 ms instead. And
        # send at once rather than lingering to batch.
        return ["--kafka-brokers", self.brokers, "--kafka-topic-creation", "auto",
                "--kafka-consumer-properties", "fetch.wait.max.ms=5", "--kafka-producer-properties", "linger.ms=0",
                "--kafka-session-timeout-ms", str(self.session_timeout_ms),
                "--redis-address", "127.0.0.1:%d" % self.ports["redis"], "--log-level", self.log_level]

    def _spawn(self, name, argv):
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self._log(name), text=True)
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("%s exited: see %s" % (name, os.path.join(self.root, name + ".log")))
        self.procs[name] = proc
        return line

    def pg_conninfo(self):
        return "host=127.0.0.1 port=%d dbname=postgres user=postgres" % self.ports["pg"]

    def _extra(self, name):
        extra = self.extra_args(self) if callable(self.extra_args) else self.extra_args
        return list(extra.get(name, []))

    def start_repo(self):
        conninfo = self.pg_conninfo()
        self._spawn("repo", [os.path.join(self.bindir, "im-repo"), "--listen", "127.0.0.1:%d" % self.ports["repo"],
                             "--admin-listen", "127.0.0.1:%d" % self.ports["repo_admin"], "--store", "postgres",
                             "--postgres-conninfo", conninfo, "--log-level", self.log_level,
                             "--cache-redis-address", "127.0.0.1:%d" % self.ports["redis"],
                             "--presence-redis-address", "127.0.0.1:%d" % self.ports["redis"]])
        wait_http(self.ports["repo_admin"], "/readyz")

    def start_logic(self):
        self._spawn("logic", [os.path.join(self.bindir, "im-logic"), "--listen", "127.0.0.1:%d" % self.ports["logic"],
                              "--admin-listen", "127.0.0.1:%d" % self.ports["logic_admin"],
                              "--repo-addresses", "127.0.0.1:%d" % self.ports["repo"], "--jwt-key-file", self.jwt_key,
                              "--password-iterations", str(self.password_iterations),
                              "--realtime-fanout-max-members", str(self.realtime_fanout_max_members),
                              "--presence-ttl-seconds", str(self.presence_ttl_seconds),
                              *self._common(), *self._extra("logic")])
        wait_http(self.ports["logic_admin"], "/readyz")

    def start_task(self):
        self._spawn("task", [os.path.join(self.bindir, "im-task"),
                             "--admin-listen", "127.0.0.1:%d" % self.ports["task_admin"],
                             "--repo-addresses", "127.0.0.1:%d" % self.ports["repo"],
                             "--fanout-batch-size", str(self.fanout_batch_size), *self._common(),
                             *self._extra("task")])
        wait_http(self.ports["task_admin"], "/readyz")

    def start_gateway(self, gateway_id):
        self._spawn(gateway_id, [os.path.join(self.bindir, "im-gateway"), "--gateway-id", gateway_id,
                                 "--listen", "127.0.0.1:%d" % self.ports[gateway_id],
                                 # /metrics there, not on the public port
                                 "--admin-listen", "127.0.0.1:%d" % self.ports[gateway_id + "_admin"],
                                 "--logic-addresses", "127.0.0.1:%d" % self.ports["logic"],
                                 "--send-timeout-ms", str(self.send_timeout_ms),
                                 "--presence-ttl-seconds", str(self.presence_ttl_seconds), *self._common(),
                                 # The tests register hundreds of users from 127.0.0.1.
                                 "--limits-auth-requests-per-minute-per-ip", "0",
                                 *self._extra(gateway_id)])
        wait_http(self.ports[gateway_id], "/readyz")

    def start(self):
        try:
            self.start_postgres()
            self.start_redis()
            self.start_kafka()
            self.start_repo()
            self.start_logic()
            self.start_task()
            for g in self.gateway_ids:
                self.start_gateway(g)
            self.wait_for_round_trip()
        except BaseException:
            self.stop()
            raise
        return self

    def wait_for_round_trip(self, timeout=90):
        """Ready means a send is acknowledged through every gateway: /readyz says the services
        answer, but Kafka consumer groups take seconds more to form (im-logic's upstream members,
        each gateway's downstream consumer). Sends a probe message through each gateway until it
        is acknowledged."""
        import asyncio
        import json
        import websockets

        def post(port, path, body):
            req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"}, method="POST")
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read() or b"{}")

        async def probe(gateway_id, deadline):
            port = self.ports[gateway_id]
            name = "probe-" + gateway_id
            post(port, "/api/v1/auth/register", {"username": name, "password": "probe-password"})
            tokens = post(port, "/api/v1/auth/login", {"username": name, "password": "probe-password", "device": "p"})
            peer = post(port, "/api/v1/auth/register", {"username": name + "-peer", "password": "probe-password"})
            conv = "d:%s:%s" % tuple(sorted([tokens["user_id"], peer["id"]], key=int))
            async with websockets.connect("ws://127.0.0.1:%d/ws?token=%s" % (port, tokens["access_token"])) as ws:
                attempt = 0
                while time.time() < deadline:
                    attempt += 1
                    await ws.send(json.dumps({"type": "send-message", "id": str(attempt), "conversation_id": conv,
                                              "client_msg_id": "probe", "content": "probe"}))
                    try:
                        while True:
                            frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
                            if frame.get("id") == str(attempt):
                                break
                    except asyncio.TimeoutError:
                        continue
                    if frame["type"] == "send-ack":
                        return
                    time.sleep(0.2)  # deadline_exceeded or unavailable: the groups are still forming
            raise TimeoutError("no send acknowledged through %s within %ds" % (gateway_id, timeout))

        deadline = time.time() + timeout
        for g in self.gateway_ids:
            asyncio.run(probe(g, deadline))

    def port(self, gateway_id):
        return self.ports[gateway_id]

    def kill(self, name, sig=signal.SIGKILL):
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        proc.wait(timeout=30)
        return proc.returncode

    def metrics(self, name):
        """The Prometheus values of a service: a gateway id, "repo", "logic" or "task"."""
        port = self.ports[name + "_admin"]
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=10) as r:
            text = r.read().decode()
        return {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
                if line and not line.startswith("#")}

    def stop(self):
        for name in self.gateway_ids + ["task", "logic", "repo"]:
            proc = self.procs.pop(name, None)
            if proc:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for name in ["kafka", "redis"]:
            proc = self.procs.pop(name, None)
            if proc:
                proc.kill()
                proc.wait()
        if os.path.isdir(os.path.join(self.root, "pg")):
            self.stop_postgres("immediate")
        if not self.keep_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main():
    """scripts/run-split.sh: start the deployment, print where everything listens, run until
    Ctrl-C or SIGTERM."""
    import argparse
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--bindir", required=True, help="directory of im-gateway, im-logic, im-repo, im-task")
    parser.add_argument("--kafka-mock", required=True, help="the im-kafka-mock program")
    parser.add_argument("--gateways", type=int, default=2)
    parser.add_argument("--first-gateway-port", type=int, default=8081)
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--password-iterations", type=int, default=600000)
    args = parser.parse_args()
    ids = ["gw%d" % (i + 1) for i in range(args.gateways)]
    d = SplitDeployment(args.bindir, args.kafka_mock, gateways=ids, log_level=args.log_level, keep_root=False)
    d.password_iterations = args.password_iterations
    for i, g in enumerate(ids):
        d.ports[g] = args.first_gateway_port + i
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    d.start()
    try:
        print("split deployment up (logs in %s):" % d.root)
        for g in ids:
            print("  %s  http://127.0.0.1:%d/   (WebSocket /ws, REST /api/v1)  admin http://127.0.0.1:%d/metrics"
                  % (g, d.ports[g], d.ports[g + "_admin"]))
        print("  im-logic  grpc 127.0.0.1:%d  admin http://127.0.0.1:%d/metrics" % (d.ports["logic"],
                                                                                d.ports["logic_admin"]))
        print("  im-repo   grpc 127.0.0.1:%d  admin http://127.0.0.1:%d/metrics" % (d.ports["repo"],
                                                                                d.ports["repo_admin"]))
        print("  im-task   admin http://127.0.0.1:%d/metrics" % d.ports["task_admin"])
        print("  postgres 127.0.0.1:%d, redis 127.0.0.1:%d, kafka %s" % (d.ports["pg"], d.ports["redis"], d.brokers))
        print("Ctrl-C stops everything and deletes the data.", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        d.stop()


if __name__ == "__main__":
    main()
