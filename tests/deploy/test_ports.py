#!/usr/bin/env python3
"""test_ports - a port someone else holds is found before anything starts, and named with the system's reason.

    test_ports.py listen-reason BIN_DIR   ltc-gateway told to listen (gRPC, then metrics) on a port this test holds:
                                          exits 1 with a start_failed log line carrying "Address already in use"
    test_ports.py taken                   with the deploy stack up (ctest fixture: LTC_STATE_DIR, LTC_PORT_OFFSET),
                                          `scripts/stack up` of a second stack on the same offset, and on the offset
                                          + 1000 (its gRPC ports are the first one's metrics ports), fails naming
                                          each taken port and starts nothing (no cluster, no process, no state)
    test_ports.py undo                    `scripts/stack up` whose gateway fails (a stand-in that exits at once) in a
                                          state folder of its own on LTC_PORT_OFFSET (run before the deploy stack is
                                          up): fails, and stops what it had started: PostgreSQL and the four stages
"""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from deploylib import REPO, PORTS, check, failures

STACK = REPO / "scripts" / "stack"


def hold_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s, s.getsockname()[1]


def start_failed_lines(out):
    lines = []
    for line in out.splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if obj.get("event") == "start_failed":
            lines.append(obj)
    return lines


def listen_reason(bin_dir):
    held, port = hold_port()
    free, free_port = hold_port()
    free.close()  # a port nobody holds now (the kernel gave it to us a moment ago)
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LTC_PLAINTEXT": "1", "LTC_GATEWAY_AUTH": "off"}
    cases = (
        ("gRPC", {"LTC_GATEWAY_LISTEN": f"127.0.0.1:{port}", "LTC_GATEWAY_METRICS_LISTEN": "off"}),
        ("metrics", {"LTC_GATEWAY_LISTEN": f"127.0.0.1:{free_port}", "LTC_GATEWAY_METRICS_LISTEN": f"127.0.0.1:{port}"}),
    )
    try:
        for what, env in cases:
            r = subprocess.run([str(Path(bin_dir) / "ltc-gateway")], env={**base, **env}, capture_output=True,
                               text=True, timeout=60)
            lines = start_failed_lines(r.stdout + r.stderr)
            check(r.returncode == 1, f"{what}: ltc-gateway on a held port exits {r.returncode}, not 1")
            if check(lines, f"{what}: no start_failed line in {(r.stdout + r.stderr)[-800:]!r}"):
                msg = lines[-1].get("msg", "")
                check(f"127.0.0.1:{port}" in msg and "Address already in use" in msg,
                      f"{what}: start_failed does not name the port and the system's reason: {msg!r}")
                print(f"{what}: start_failed: {msg}", flush=True)
    finally:
        held.close()


def stack(env, *args, timeout=300):
    return subprocess.run([str(STACK), *args], env=env, capture_output=True, text=True, timeout=timeout)


def taken():
    offset = int(os.environ["LTC_PORT_OFFSET"])
    env0 = {k: v for k, v in os.environ.items() if not k.startswith("LTC_") or k in ("LTC_BIN_DIR", "LTC_STACK_SECURITY")}
    for shift, names in ((0, None), (1000, [f"{p + offset + 1000} (ltc-{n} gRPC)" for n, p in PORTS.items()])):
        state = Path(tempfile.mkdtemp(prefix="ltc-ports-"))
        shutil.rmtree(state)  # `up` must not even create it
        env = {**env0, "LTC_STATE_DIR": str(state), "LTC_PORT_OFFSET": str(offset + shift)}
        try:
            r = stack(env, "up", timeout=120)
            err = r.stderr
            check(r.returncode != 0, f"offset {offset + shift}: up over the deploy stack's ports succeeded")
            check("already in use, nothing started" in err, f"offset {offset + shift}: up says {err[-600:]!r}")
            if names:
                for n in names:
                    check(n in err, f"offset {offset + shift}: the taken port {n} is not named in {err[-600:]!r}")
            else:
                check(f"{PORTS['gateway'] + offset} (ltc-gateway gRPC)" in err and
                      f"{PORTS['gateway'] + offset + 1000} (ltc-gateway metrics)" in err,
                      f"offset {offset}: the gateway's ports are not named in {err[-600:]!r}")
            check(not state.exists(), f"offset {offset + shift}: up created {state} before failing")
            print(f"offset {offset + shift}: {err.strip().splitlines()[-1][:300]}", flush=True)
        finally:
            shutil.rmtree(state, ignore_errors=True)


def undo():
    offset = int(os.environ["LTC_PORT_OFFSET"])
    real_bin = Path(os.environ["LTC_BIN_DIR"])
    work = Path(tempfile.mkdtemp(prefix="ltc-undo-"))
    work.chmod(0o755)  # the postgres OS user (as root) reaches the cluster inside
    bin_dir, state = work / "bin", work / "state"
    bin_dir.mkdir()
    for n in ("ltb", "bto", "otd", "dtc"):
        (bin_dir / f"ltc-{n}").symlink_to(real_bin / f"ltc-{n}")
    fake = bin_dir / "ltc-gateway"
    fake.write_text("#!/bin/sh\necho 'stand-in gateway: exits at once' >&2\nexit 1\n")
    fake.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LTC_") or k == "LTC_STACK_SECURITY"}
    env.update(LTC_STATE_DIR=str(state), LTC_BIN_DIR=str(bin_dir), LTC_PORT_OFFSET=str(offset),
               LTC_STACK_OUTSIDE_EPHEMERAL="1")
    try:
        r = stack(env, "up")
        if r.returncode != 0 and "already in use, nothing started" in r.stderr:
            print(f"skipped: the ports of offset {offset} are taken (the deploy stack is up?): {r.stderr[-300:]}")
            sys.exit(77)
        check(r.returncode != 0, "up with a gateway that exits at once succeeded")
        check("ltc-gateway exited" in r.stderr, f"up does not say the gateway exited: {r.stderr[-600:]!r}")
        check("stopped what it had started" in r.stdout + r.stderr and "postgres" in r.stdout + r.stderr,
              f"up does not say it stopped what it started: {(r.stdout + r.stderr)[-600:]!r}")
        st = stack(env, "status", timeout=120)
        for n in ("ltb", "bto", "otd", "dtc", "postgres"):
            check(re.search(rf"^{n}\s+pid -\s+\S+\s+DOWN", st.stdout, re.M),
                  f"after the failed up, {n} is not DOWN:\n{st.stdout}")
        listening = []
        for n, p in list(PORTS.items()) + [("postgres", 55432)]:
            with socket.socket() as s:
                s.settimeout(1)
                if s.connect_ex(("127.0.0.1", p + offset)) == 0:
                    listening.append(f"{n}:{p + offset}")
        check(not listening, f"after the failed up, something still listens on {listening}")
        print(f"failed up cleaned up: {(r.stdout + r.stderr).strip().splitlines()[-1]}", flush=True)
    finally:
        stack(env, "down")
        shutil.rmtree(work, ignore_errors=True)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "listen-reason":
        listen_reason(sys.argv[2])
    elif len(sys.argv) == 2 and sys.argv[1] in ("taken", "undo"):
        {"taken": taken, "undo": undo}[sys.argv[1]]()
    else:
        sys.exit(__doc__)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
