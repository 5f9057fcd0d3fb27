#!/usr/bin/env python3
"""check_compose - `docker-compose config` accepts docker-compose.yml, and what it parsed holds what it must.

Runs Debian's docker-compose (it parses offline; no Docker engine is needed) with sentinel passwords in the
environment, then checks the resolved configuration:
  - PostgreSQL 15 and the five processes, each LTC process from the one image, with its own command;
  - every service has a health check; the LTC processes use their own `--health-probe`;
  - the stage services wait for PostgreSQL (service_healthy) and for their one-shot migration <svc>-migrate
    (service_completed_successfully), the gateway for the four (service_healthy);
  - <svc>-migrate runs `ltc-<svc> --migrate-only` with the schema owner's DSN (LTC_<SVC>_MIGRATE_DSN, role
    ltc_<svc>_owner) and nothing else, is never restarted, and is hardened like the services;
  - only the gateway publishes a port, on the host's loopback;
  - each stage service gets its own serving DSN (role ltc_<svc>), nothing else's, never the owner's; passwords come
    only from the environment (the sentinels), and the file itself holds no password literal;
  - hardening: numeric non-root user, read-only root, all capabilities dropped, no-new-privileges, memory cap;
  - configuration only through the environment (no config files mounted into the LTC processes), metrics on 9464,
    stop grace longer than LTC_SHUTDOWN_GRACE_MS;
  - without the passwords, `docker-compose config` refuses.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
STAGES = ("ltb", "bto", "otd", "dtc")
PROCS = STAGES + ("gateway",)
PORTS = {"gateway": 50051, "ltb": 50061, "bto": 50062, "otd": 50063, "dtc": 50064}
PASSWORD_VARS = (["LTC_PG_SUPERUSER_PASSWORD"] + [f"LTC_{s.upper()}_DB_PASSWORD" for s in STAGES]
                 + [f"LTC_{s.upper()}_OWNER_DB_PASSWORD" for s in STAGES])
MIGRATES = tuple(f"{s}-migrate" for s in STAGES)

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
    return cond


def duration_s(v):
    m = re.fullmatch(r"(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", str(v))
    if not m or not any(m.groups()):
        raise ValueError(f"bad duration {v!r}")
    return int(m.group(1) or 0) * 60 + float(m.group(2) or 0)


def run_config(env):
    return subprocess.run(["docker-compose", "-f", str(COMPOSE), "--project-directory", str(REPO), "config"],
                          env=env, capture_output=True, text=True, timeout=120, cwd=str(REPO))


def main():
    if not shutil.which("docker-compose"):
        print("docker-compose not found: run scripts/setup (Debian package docker-compose)", file=sys.stderr)
        return 1
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("LTC_")}
    sentinels = {v: f"SENTINEL-{v.lower()}-{os.getpid()}" for v in PASSWORD_VARS}

    # Without passwords: refused, naming the missing variable.
    p = run_config(base_env)
    check(p.returncode != 0, "docker-compose config accepted the file without the passwords")
    check("LTC_" in p.stderr and "PASSWORD" in p.stderr,
          f"the refusal without passwords does not name the variable: {p.stderr.strip()[:300]}")

    p = run_config({**base_env, **sentinels})
    if p.returncode != 0:
        print(f"docker-compose config failed (exit {p.returncode}):\n{p.stderr}", file=sys.stderr)
        return 1
    cfg = yaml.safe_load(p.stdout)
    services = cfg.get("services", {})
    check(set(services) == set(PROCS) | set(MIGRATES) | {"postgres"}, f"services are {sorted(services)}")

    pg = services.get("postgres", {})
    check(str(pg.get("image", "")).startswith("postgres:15"), f"postgres image is {pg.get('image')}")
    vols = [str(v.get("source", "")) + ":" + str(v.get("target", "")) if isinstance(v, dict) else str(v)
            for v in pg.get("volumes", [])]
    check(any("deploy/postgres/init.sql" in v and "/docker-entrypoint-initdb.d/" in v for v in vols),
          f"postgres does not run deploy/postgres/init.sql at init: {vols}")
    check("healthcheck" in pg, "postgres has no healthcheck")

    images = set()
    for name in PROCS:
        s = services.get(name)
        if not check(s is not None, f"{name}: missing"):
            continue
        where = f"{name}:"
        images.add(s.get("image"))
        cmd = s.get("command") or []
        check(cmd and cmd[0] in (name, f"ltc-{name}"), f"{where} command {cmd}")
        hc = s.get("healthcheck", {})
        check(hc.get("test") == ["CMD", f"ltc-{name}", "--health-probe"], f"{where} healthcheck {hc.get('test')}")
        check(not hc.get("disable"), f"{where} healthcheck disabled")
        deps = s.get("depends_on", {})
        want = ["postgres", f"{name}-migrate"] if name in STAGES else list(STAGES)
        check(isinstance(deps, dict) and sorted(deps) == sorted(want), f"{where} depends_on {deps}")
        for d, spec in (deps.items() if isinstance(deps, dict) else []):
            cond = "service_completed_successfully" if d.endswith("-migrate") else "service_healthy"
            check(spec.get("condition") == cond, f"{where} depends_on {d} without {cond}")
        ports = s.get("ports", [])
        if name == "gateway":
            check(len(ports) == 1, f"{where} ports {ports}")
            for port in ports:
                if isinstance(port, dict):   # long syntax (Compose v2)
                    host_ip, target = port.get("host_ip"), str(port.get("target"))
                else:                        # "127.0.0.1:50051:50051/tcp" (docker-compose 1.x)
                    parts = str(port).split("/")[0].split(":")
                    host_ip, target = (parts[0] if len(parts) == 3 else None), parts[-1]
                check(target == "50051" and host_ip == "127.0.0.1", f"{where} published port {port}")
        else:
            check(not ports, f"{where} publishes {ports}: only the gateway may")
        env = s.get("environment", {})
        check(env.get(f"LTC_{name.upper()}_LISTEN") == f"0.0.0.0:{PORTS[name]}",
              f"{where} LTC_{name.upper()}_LISTEN={env.get(f'LTC_{name.upper()}_LISTEN')}")
        check(env.get(f"LTC_{name.upper()}_METRICS_LISTEN") == "0.0.0.0:9464",
              f"{where} LTC_{name.upper()}_METRICS_LISTEN={env.get(f'LTC_{name.upper()}_METRICS_LISTEN')}")
        for peer in STAGES:
            check(env.get(f"LTC_{peer.upper()}_TARGET") == f"{peer}:{PORTS[peer]}",
                  f"{where} LTC_{peer.upper()}_TARGET={env.get(f'LTC_{peer.upper()}_TARGET')}")
        dsns = {k for k in env if k.endswith("_DSN")}
        if name in STAGES:
            check(dsns == {f"LTC_{name.upper()}_DSN"}, f"{where} DSN variables {sorted(dsns)}")
            dsn = env.get(f"LTC_{name.upper()}_DSN", "")
            check(f"user=ltc_{name}" in dsn and "host=postgres" in dsn and "dbname=ltc" in dsn, f"{where} DSN {dsn}")
            check(f"password={sentinels[f'LTC_{name.upper()}_DB_PASSWORD']}" in dsn,
                  f"{where} the DSN's password does not come from LTC_{name.upper()}_DB_PASSWORD")
        else:
            check(not dsns, f"{where} has database DSNs {sorted(dsns)}")
        grace_ms = int(env.get("LTC_SHUTDOWN_GRACE_MS", 5000))
        check(duration_s(s.get("stop_grace_period", "10s")) * 1000 > grace_ms + 1000,
              f"{where} stop_grace_period {s.get('stop_grace_period')} is not above LTC_SHUTDOWN_GRACE_MS {grace_ms}")
        # hardening
        user = str(s.get("user", ""))
        check(re.fullmatch(r"[1-9]\d*(:\d+)?", user) is not None, f"{where} user {user!r}: numeric, non-root")
        check(s.get("read_only") is True, f"{where} root filesystem not read-only")
        check(s.get("cap_drop") == ["ALL"], f"{where} cap_drop {s.get('cap_drop')}")
        check(not s.get("cap_add"), f"{where} cap_add {s.get('cap_add')}")
        check(not s.get("privileged"), f"{where} privileged")
        check("no-new-privileges:true" in (s.get("security_opt") or []), f"{where} no no-new-privileges")
        check(s.get("mem_limit") is not None, f"{where} no mem_limit")
        # configuration through the environment only: no files or folders mounted
        check(not s.get("volumes") and not s.get("configs") and not s.get("env_file"),
              f"{where} mounts {s.get('volumes') or s.get('configs') or s.get('env_file')}")
    for name in STAGES:
        m = services.get(f"{name}-migrate")
        where = f"{name}-migrate:"
        if not check(m is not None, f"{where} missing"):
            continue
        images.add(m.get("image"))
        check(m.get("command") == [f"ltc-{name}", "--migrate-only"], f"{where} command {m.get('command')}")
        check(str(m.get("restart", "no")) == "no", f"{where} restart {m.get('restart')}: a one-shot")
        deps = m.get("depends_on", {})
        check(isinstance(deps, dict) and list(deps) == ["postgres"] and
              deps["postgres"].get("condition") == "service_healthy", f"{where} depends_on {deps}")
        check(not m.get("ports"), f"{where} publishes {m.get('ports')}")
        env = m.get("environment", {})
        dsns = {k for k in env if k.endswith("_DSN")}
        check(dsns == {f"LTC_{name.upper()}_MIGRATE_DSN"}, f"{where} DSN variables {sorted(dsns)}")
        dsn = env.get(f"LTC_{name.upper()}_MIGRATE_DSN", "")
        check(f"user=ltc_{name}_owner" in dsn and "host=postgres" in dsn and "dbname=ltc" in dsn, f"{where} DSN {dsn}")
        check(f"password={sentinels[f'LTC_{name.upper()}_OWNER_DB_PASSWORD']}" in dsn,
              f"{where} the DSN's password does not come from LTC_{name.upper()}_OWNER_DB_PASSWORD")
        user = str(m.get("user", ""))
        check(re.fullmatch(r"[1-9]\d*(:\d+)?", user) is not None, f"{where} user {user!r}: numeric, non-root")
        check(m.get("read_only") is True and m.get("cap_drop") == ["ALL"] and not m.get("cap_add") and
              not m.get("privileged") and "no-new-privileges:true" in (m.get("security_opt") or []),
              f"{where} not hardened like the services")
        check(not m.get("volumes") and not m.get("configs") and not m.get("env_file"), f"{where} mounts files")
    check(len(images) == 1, f"the LTC processes use several images: {images}")

    # Sentinel passwords appear only where they belong: postgres's environment and that service's DSN (the owner's:
    # that service's migration's DSN).
    text = p.stdout
    for var, val in sentinels.items():
        svc = var.split("_")[1].lower()
        allowed = 1 + (1 if svc in STAGES else 0)
        check(text.count(val) == allowed, f"{var} appears {text.count(val)} times in the parsed file, want {allowed}")
    # The file itself: no password literal, only ${...} references.
    raw = COMPOSE.read_text()
    for m in re.finditer(r"(?i)(password\s*[=:]\s*)(\S+)", raw):
        v = m.group(2)
        if raw[raw.rfind("\n", 0, m.start()) + 1:m.start()].lstrip().startswith("#"):
            continue   # a comment
        check(v.startswith("${") or v.startswith("$"), f"docker-compose.yml holds a literal password: {m.group(0)}")

    for f in failures:
        print(f"FAIL: {f}")
    print(f"compose: {len(PROCS) + len(MIGRATES) + 1} services checked, {len(failures)} problem(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
