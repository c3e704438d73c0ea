"""A stand-in APNs for the end-to-end tests: a test CA and server certificate made with the
openssl CLI, an APNs auth key (.p8), and tests/http/h2_stub_server.py serving HTTP/2 over TLS on
127.0.0.1 with scripted answers and a log of every request."""
import json
import os
import subprocess
import sys
import tempfile
import time

OPENSSL_CNF = """[req]
distinguished_name = dn
prompt = no
[dn]
CN = libim e2e
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
[v3_server]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1
"""


class ApnsStub:
    def __init__(self, stub_server, responses):
        """responses: the stub's script entries, e.g. [{"path": "/3/device/", "status": 503}]."""
        self.dir = tempfile.mkdtemp(prefix="im-apns-stub-")
        os.chmod(self.dir, 0o755)
        with open(os.path.join(self.dir, "openssl.cnf"), "w") as f:
            f.write(OPENSSL_CNF)
        for cmd in [
                "openssl req -x509 -new -config openssl.cnf -extensions v3_ca -subj /CN=im-e2e-ca -newkey ec "
                "-pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2",
                "openssl req -new -config openssl.cnf -subj /CN=127.0.0.1 -newkey ec "
                "-pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout server.key -out server.csr",
                "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
                "-extfile openssl.cnf -extensions v3_server -out server.pem",
                "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out apns.p8"]:
            subprocess.run(cmd, shell=True, cwd=self.dir, check=True, capture_output=True)
        for name in ("apns.p8", "ca.pem"):
            os.chmod(os.path.join(self.dir, name), 0o644)
        self.ca_file = os.path.join(self.dir, "ca.pem")
        self.key_file = os.path.join(self.dir, "apns.p8")
        self.log = os.path.join(self.dir, "requests.jsonl")
        script = os.path.join(self.dir, "script.json")
        with open(script, "w") as f:
            json.dump({"responses": responses}, f)
        self.proc = subprocess.Popen(
            [sys.executable, stub_server, "--cert", os.path.join(self.dir, "server.pem"), "--key",
             os.path.join(self.dir, "server.key"), "--script", script, "--log", self.log, "--timeout", "280"],
            stdout=subprocess.PIPE, text=True)
        self.port = int(self.proc.stdout.readline())
        self.endpoint = "https://127.0.0.1:%d" % self.port

    def requests(self):
        if not os.path.exists(self.log):
            return []
        with open(self.log) as f:
            return [json.loads(line) for line in f if line.strip()]

    def wait_requests(self, n, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            got = self.requests()
            if len(got) >= n:
                return got
            time.sleep(0.1)
        raise AssertionError("the APNs stub got %d requests, expected %d" % (len(self.requests()), n))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
