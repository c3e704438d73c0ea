#!/usr/bin/env python3
"""imd configuration: TOML file < environment < flags, and clear errors for bad settings."""
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile

import websockets

from imd_harness import check, rest, start_imd


def run_bad(imd, args, env_extra, expect):
    env = dict(os.environ, **env_extra)
    out = subprocess.run([imd] + args, capture_output=True, text=True, env=env, timeout=20)
    check(out.returncode == 2 and expect in out.stderr, "%s -> exit 2 mentioning %r, got %d %r" %
          (args, expect, out.returncode, out.stderr))


def main(imd):
    tmp = tempfile.mkdtemp(prefix="imd-config-")
    try:
        bad = os.path.join(tmp, "bad.toml")
        with open(bad, "w") as f:
            f.write('listen = "127.0.0.1:0"\n[limits]\nmax_frame_bytes = "big"\n')
        run_bad(imd, ["--config", bad], {}, "limits.max_frame_bytes must be an integer")
        # A float is not an integer, however it is written: 655e63 was converted without a range
        # check (undefined behaviour; found by the toml_config fuzz target), 1.5e3 to 1500.
        for number in ("655e63", "1.5e3", "-inf"):
            with open(bad, "w") as f:
                f.write('[limits]\nmax_frame_bytes = %s\n' % number)
            run_bad(imd, ["--config", bad], {}, "limits.max_frame_bytes must be an integer")
        with open(bad, "w") as f:
            f.write('password_iterations = 6e5\n')
        run_bad(imd, ["--config", bad], {}, "password_iterations must be an integer")
        with open(bad, "w") as f:
            f.write('lissten = "127.0.0.1:0"\n')
        run_bad(imd, ["--config", bad], {}, "lissten is not a known setting")
        run_bad(imd, ["--config", os.path.join(tmp, "missing.toml")], {}, "missing.toml")
        run_bad(imd, ["--listen", "127.0.0.1"], {}, "HOST:PORT")
        run_bad(imd, [], {"IMD_LISTEN": "nowhere"}, "IMD_LISTEN")
        run_bad(imd, ["--frobnicate"], {}, "unknown argument")
        run_bad(imd, ["--store", "mysql"], {}, "store must be")
        run_bad(imd, [], {"IMD_STORE": "oracle"}, "IMD_STORE")
        # The environment takes the same range as the file's password_iterations.
        run_bad(imd, ["--data-dir", os.path.join(tmp, "weak")], {"IM_PASSWORD_ITERATIONS": "999"},
                "IM_PASSWORD_ITERATIONS must be an integer between 1000")
        for text, expect in [('[limits]\nmax_connections_per_ip = -1\n', "limits.max_connections_per_ip must be between 0"),
                             ('trusted_proxies = "10.0.0.1"\n', "trusted_proxies must be an array of strings"),
                             ('login_cache_seconds = 3601\n', "login_cache_seconds must be between 0")]:
            with open(bad, "w") as f:
                f.write(text)
            run_bad(imd, ["--config", bad], {}, expect)
        with open(bad, "w") as f:
            f.write('listen = "127.0.0.1:0"\ntrusted_proxies = ["10.0.0.0/40"]\n')
        out = subprocess.run([imd, "--config", bad, "--data-dir", os.path.join(tmp, "proxies")], capture_output=True,
                             text=True, timeout=20)
        check(out.returncode != 0 and "trusted proxy \"10.0.0.0/40\"" in out.stderr,
              "a malformed trusted proxy stops imd: %d %r" % (out.returncode, out.stderr))

        # The file sets data_dir and a 64 KiB frame limit; the environment overrides the listen
        # address of the file; the flag overrides data_dir.
        good = os.path.join(tmp, "imd.toml")
        file_dir, flag_dir = os.path.join(tmp, "from-file"), os.path.join(tmp, "from-flag")
        with open(good, "w") as f:
            f.write('listen = "127.0.0.1:1"\ndata_dir = "%s"\n[limits]\nmax_frame_bytes = 65536\n' % file_dir)
        proc, port = start_imd(imd, flag_dir, ["--config", good], env_extra={"IMD_LISTEN": "127.0.0.1:0"},
                               listen_flag=False)
        try:
            check(port != 1, "IMD_LISTEN overrides the file")
            check(os.path.exists(os.path.join(flag_dir, "im.db")) and not os.path.exists(file_dir),
                  "--data-dir overrides the file")
            # Everything imd creates is the owner's only (the directory 0700, its files 0600).
            created = [flag_dir] + [os.path.join(d, n) for d, dirs, files in os.walk(flag_dir) for n in dirs + files]
            loose = ["%s %o" % (p, os.stat(p).st_mode & 0o777) for p in created if os.stat(p).st_mode & 0o077]
            check(len(created) > 3 and not loose, "data directory and files are private: %s" % loose)

            rest(port, "/api/v1/auth/register", {"username": "cfg", "password": "cfg-password"})
            _, token = rest(port, "/api/v1/auth/login", {"username": "cfg", "password": "cfg-password", "device": "d"})

            async def frame_limit():
                url = "ws://127.0.0.1:%d/ws?token=%s" % (port, token["access_token"])
                async with websockets.connect(url, max_size=None) as ws:
                    await ws.send(json.dumps({"type": "ping", "id": "x" * 10, "pad": "y" * 100}))
                    await ws.send("z" * 100000)  # under the default 128 KiB, over the file's 64 KiB
                    try:
                        while True:
                            await asyncio.wait_for(ws.recv(), 5)
                    except websockets.exceptions.ConnectionClosed as e:
                        return e.code

            code = asyncio.run(frame_limit())
            check(code == 1009, "the file's max_frame_bytes applies: close %s" % code)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
        print("imd config: all checks passed")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1])
