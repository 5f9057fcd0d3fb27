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
  - TLS: no process sets LTC_PLAINTEXT or LTC_GATEWAY_AUTH other than on; every process has LTC_TLS_CERT/KEY/CA and
    the gateway LTC_GATEWAY_TLS_CERT/KEY and LTC_GATEWAY_JWT_KEYS, as paths (never PEM in the environment) into
    read-only volumes of its own, made by the one-shot `pki` service (hardened: no network, read-only, only the
    capabilities to copy and chown) from the host folder ./.ltc-compose/pki (ignored by git); every process waits for
    it. Then `pki`'s script is run on a PKI from `scripts/pki init` (paths mapped to a temporary folder) and the files
    each process would read are checked: its certificate names it (CN <name>, SAN ltc-<name>), the key is the
    certificate's, the CA signed it; the gateway's public certificate passes its --health-probe (SAN ltc-gateway, the
    CA it has), its key set's files are all there and hold no private key; no process gets another's key;
  - identity (issue #19): every mesh certificate has the URI SAN spiffe://ltc/<name>; each process's LTC_TLS_CA is
    the mesh CA only, which did not sign the gateway's public certificate (the edge CA did: LTC_GATEWAY_TLS_CA, for
    its --health-probe); the gateway has LTC_GATEWAY_ASSERTION_KEY and each stage LTC_ASSERTION_PUBLIC_KEY, files of
    read-only volumes (assertion-key for the gateway only, assertion-pub), a matching Ed25519 pair;
  - the audit: each stage's LTC_AUDIT_SPOOL_DIR is a writable volume of its own (audit-spool-<svc>), the gateway's
    LTC_GATEWAY_AUDIT_FILE lies in one (gateway-audit);
  - the database's TLS: PostgreSQL runs with ssl=on, its certificate and key from the read-only volume postgres-tls
    and deploy/postgres/pg_hba.conf (hostssl only); every DSN (serving and owner) says sslmode=verify-full with
    sslrootcert in the read-only volume db-ca, whose CA signed PostgreSQL's certificate for the host the DSNs name;
  - without the passwords, `docker-compose config` refuses.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import tlscheck  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
STAGES = ("ltb", "bto", "otd", "dtc")
PROCS = STAGES + ("gateway",)
PORTS = {"gateway": 50051, "ltb": 50061, "bto": 50062, "otd": 50063, "dtc": 50064}
PASSWORD_VARS = (["LTC_PG_SUPERUSER_PASSWORD"] + [f"LTC_{s.upper()}_DB_PASSWORD" for s in STAGES]
                 + [f"LTC_{s.upper()}_OWNER_DB_PASSWORD" for s in STAGES])
MIGRATES = tuple(f"{s}-migrate" for s in STAGES)
# The TLS variables each process gets, and the volume each file must come from (made by the `pki` service).
TLS_VARS = {"LTC_TLS_CERT": "tls.crt", "LTC_TLS_KEY": "tls.key", "LTC_TLS_CA": "ca.crt"}
GATEWAY_VARS = {"LTC_GATEWAY_TLS_CERT": ("gateway-public-tls", "tls.crt"),
                "LTC_GATEWAY_TLS_KEY": ("gateway-public-tls", "tls.key"),
                "LTC_GATEWAY_JWT_KEYS": ("jwt-keys", "keys.json")}
PKI_VOLUMES = {f"tls-{p}" for p in PROCS} | {"gateway-public-tls", "jwt-keys", "assertion-key", "assertion-pub", "db-ca",
                                             "postgres-tls"}
# Besides the TLS volumes: the read-only volumes of each kind of process, with the variable naming a file in it
STAGE_FILES = {"LTC_ASSERTION_PUBLIC_KEY": ("assertion-pub", "assertion.pub"), "PGSSLROOTCERT": ("db-ca", "ca.crt")}
GATEWAY_FILES = {"LTC_GATEWAY_ASSERTION_KEY": ("assertion-key", "assertion.key"),
                 "LTC_GATEWAY_TLS_CA": ("gateway-public-tls", "ca.crt")}


def writable_volume(name):
    """The one writable volume of each process: a stage's audit spool, the gateway's refusals file."""
    return "gateway-audit" if name == "gateway" else f"audit-spool-{name}"


def dsn_params(dsn):
    return dict(kv.split("=", 1) for kv in dsn.split() if "=" in kv)

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


def mounts(s):
    """A service's volumes as dicts (type, source, target, read_only), whichever syntax docker-compose printed."""
    out = []
    for v in s.get("volumes") or []:
        if isinstance(v, dict):
            out.append({"type": v.get("type"), "source": str(v.get("source", "")), "target": str(v.get("target", "")),
                        "read_only": bool(v.get("read_only"))})
        else:
            parts = str(v).split(":")
            out.append({"type": "bind" if parts[0].startswith((".", "/")) else "volume", "source": parts[0],
                        "target": parts[1] if len(parts) > 1 else "", "read_only": len(parts) > 2 and "ro" in parts[2]})
    return out


def volume_of(s, path):
    """(volume name, file name) a path of the service's environment lies in, or None."""
    for m in mounts(s):
        if m["target"] and path.startswith(m["target"].rstrip("/") + "/"):
            return m["source"], path[len(m["target"].rstrip("/")) + 1:], m
    return None


def check_tls(name, s, env):
    """No plaintext; the TLS variables point into read-only volumes of the process's own."""
    where = f"{name}:"
    check("LTC_PLAINTEXT" not in env, f"{where} sets LTC_PLAINTEXT={env.get('LTC_PLAINTEXT')!r}: production only")
    check(env.get("LTC_GATEWAY_AUTH", "on") == "on", f"{where} LTC_GATEWAY_AUTH={env.get('LTC_GATEWAY_AUTH')}")
    for k, v in env.items():
        check("-----BEGIN" not in str(v) and "PRIVATE KEY" not in str(v), f"{where} env {k} holds PEM inline")
    want = {k: (f"tls-{name}", f) for k, f in TLS_VARS.items()}
    if name == "gateway":
        want.update(GATEWAY_VARS)
        want.update(GATEWAY_FILES)
    else:
        want.update(STAGE_FILES)
    for k in list(GATEWAY_VARS) + list(GATEWAY_FILES):
        if name != "gateway":
            check(k not in env, f"{where} gets {k} (the gateway's)")
    for k in STAGE_FILES:
        if name == "gateway":
            check(k not in env, f"{where} gets {k} (a stage's)")
    for k, (vol, fname) in want.items():
        v = env.get(k)
        if not check(v, f"{where} {k} is not set"):
            continue
        hit = volume_of(s, v)
        if not check(hit is not None, f"{where} {k}={v} is not in a mounted volume"):
            continue
        got_vol, got_file, m = hit
        check(m["type"] == "volume" and got_vol == vol and got_file == fname,
              f"{where} {k}={v} is {got_file!r} of {m['type']} {got_vol!r}, want {fname!r} of volume {vol!r}")
        check(m["read_only"], f"{where} {got_vol} is mounted writable")
    allowed = {f"tls-{name}"} | ({"gateway-public-tls", "jwt-keys", "assertion-key"} if name == "gateway"
                                 else {"assertion-pub", "db-ca"})
    rw = writable_volume(name)
    for m in mounts(s):
        check(m["type"] == "volume" and ((m["source"] in allowed and m["read_only"]) or
                                         (m["source"] == rw and not m["read_only"])),
              f"{where} mounts {m['type']} {m['source']} at {m['target']} (read_only {m['read_only']}): only its own "
              f"volumes {sorted(allowed)}, read-only, and {rw}, writable")
    # the audit: a stage's spool folder, the gateway's refusals file, on its own writable volume
    var = "LTC_GATEWAY_AUDIT_FILE" if name == "gateway" else "LTC_AUDIT_SPOOL_DIR"
    path = env.get(var)
    if check(path, f"{where} {var} is not set (its audit rows would not survive a restart)"):
        spool = [m for m in mounts(s) if m["source"] == rw]
        check(spool and (path == spool[0]["target"].rstrip("/") if name != "gateway" else
                         path.startswith(spool[0]["target"].rstrip("/") + "/")),
              f"{where} {var}={path} is not on its volume {rw} ({spool})")
    if name != "gateway":
        check_db_tls(where, s, env, env.get(f"LTC_{name.upper()}_DSN", ""))


def check_db_tls(where, s, env, dsn):
    """The database connection verifies PostgreSQL's certificate and name: sslmode=verify-full in the DSN (and
    libpq's default PGSSLMODE where set), sslrootcert a file of the read-only volume db-ca."""
    params = dsn_params(dsn)
    check(params.get("sslmode") == "verify-full", f"{where} DSN sslmode={params.get('sslmode')}, want verify-full")
    root = params.get("sslrootcert")
    hit = volume_of(s, root) if root else None
    check(hit is not None and hit[0] == "db-ca" and hit[1] == "ca.crt" and hit[2]["read_only"],
          f"{where} DSN sslrootcert={root} is not ca.crt of the read-only volume db-ca")
    if "PGSSLMODE" in env:
        check(env["PGSSLMODE"] == "verify-full", f"{where} PGSSLMODE={env['PGSSLMODE']}")


def check_postgres_tls(pg):
    where = "postgres:"
    cmd = [str(c) for c in (pg.get("command") or [])]
    opts = {cmd[i + 1].split("=", 1)[0]: cmd[i + 1].split("=", 1)[1] for i in range(len(cmd) - 1)
            if cmd[i] == "-c" and "=" in cmd[i + 1]}
    check(opts.get("ssl") == "on", f"{where} ssl is not on: {cmd}")
    for k, f in (("ssl_cert_file", "server.crt"), ("ssl_key_file", "server.key")):
        hit = volume_of(pg, opts.get(k, "")) if opts.get(k) else None
        check(hit is not None and hit[0] == "postgres-tls" and hit[1] == f and hit[2]["read_only"],
              f"{where} {k}={opts.get(k)} is not {f} of the read-only volume postgres-tls")
    hba = opts.get("hba_file")
    ms = [m for m in mounts(pg) if hba and m["target"] == hba]
    if check(ms and ms[0]["source"].endswith("deploy/postgres/pg_hba.conf") and ms[0]["read_only"],
             f"{where} hba_file={hba} is not deploy/postgres/pg_hba.conf mounted read-only"):
        lines = [ln.split() for ln in (REPO / "deploy/postgres/pg_hba.conf").read_text().splitlines()
                 if ln.strip() and not ln.lstrip().startswith("#")]
        check(all(ln[0] in ("local", "hostssl") or (ln[0] in ("host", "hostnossl") and ln[-1] == "reject")
                  for ln in lines), f"deploy/postgres/pg_hba.conf lets TCP in without TLS: {lines}")
    deps = pg.get("depends_on") or {}
    check(isinstance(deps, dict) and deps.get("pki", {}).get("condition") == "service_completed_successfully",
          f"{where} does not wait for the pki service (its certificate): {deps}")


def check_pki_service(pki, images):
    where = "pki:"
    if not check(pki is not None, f"{where} missing (it makes each process's TLS volume)"):
        return
    images.add(pki.get("image"))
    check(str(pki.get("restart", "no")) == "no", f"{where} restart {pki.get('restart')}: a one-shot")
    check(pki.get("network_mode") == "none", f"{where} network_mode {pki.get('network_mode')}: it needs none")
    check(pki.get("read_only") is True and pki.get("cap_drop") == ["ALL"] and not pki.get("privileged") and
          "no-new-privileges:true" in (pki.get("security_opt") or []), f"{where} not hardened")
    check(set(pki.get("cap_add") or []) <= {"CHOWN", "DAC_OVERRIDE", "FOWNER"}, f"{where} cap_add {pki.get('cap_add')}")
    check(not pki.get("ports") and not pki.get("environment"), f"{where} ports or environment")
    ms = mounts(pki)
    binds = [m for m in ms if m["type"] == "bind"]
    check(len(binds) == 1 and binds[0]["read_only"] and binds[0]["source"].endswith("/.ltc-compose/pki"),
          f"{where} binds {binds}: want the host's ./.ltc-compose/pki, read-only")
    check({m["source"] for m in ms if m["type"] == "volume"} == PKI_VOLUMES,
          f"{where} volumes {sorted(m['source'] for m in ms if m['type'] == 'volume')}, want {sorted(PKI_VOLUMES)}")
    cmd = pki.get("command") or []
    check(len(cmd) == 3 and cmd[0] == "sh", f"{where} command is not `sh -ec SCRIPT`")
    ignored = (REPO / ".gitignore").read_text().split()
    check("/.ltc-compose/" in ignored or ".ltc-compose/" in ignored, ".gitignore does not ignore /.ltc-compose/")


def check_tls_files(services):
    """Runs the pki service's script on a PKI of scripts/pki (its paths mapped to a temporary folder, chown a no-op),
    then checks the files each process's environment names."""
    pki = services["pki"]
    with tempfile.TemporaryDirectory(prefix="ltc-compose-pki-") as tmp:
        tmp = Path(tmp)
        p = subprocess.run([str(REPO / "scripts/pki"), "init", str(tmp / "pki")], capture_output=True, text=True,
                           timeout=120)
        if not check(p.returncode == 0, f"scripts/pki init failed: {p.stderr}"):
            return
        root = {m["target"]: m for m in mounts(pki)}
        script = pki["command"][2].replace("$$", "$")
        # the bind's target becomes the temporary PKI, the volumes' common parent folder a temporary one
        vol_dir = {}
        parents = {str(Path(tg).parent) for tg, m in root.items() if m["type"] == "volume"}
        if not check(len(parents) == 1, f"pki: its volumes are not under one folder: {sorted(root)}"):
            return
        for target, m in root.items():
            if m["type"] == "bind":
                script = script.replace(target, str(tmp / "pki"))
            else:
                vol_dir[m["source"]] = tmp / "vol" / Path(target).name
                vol_dir[m["source"]].mkdir(parents=True)
        parent = parents.pop()
        script = script.replace(parent, str(tmp / "vol"))
        # it runs here, as this user: only if no path of the container is left in it
        left = [p2 for p2 in list(root) + [parent] if p2 in script.replace(str(tmp), "")]
        if not check(not left, f"pki: its script uses {left} besides its mounts: not run here"):
            return
        shim = tmp / "bin"
        shim.mkdir()
        (shim / "chown").write_text("#!/bin/sh\nexit 0\n")
        (shim / "chown").chmod(0o755)
        env = {"PATH": f"{shim}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
        p = subprocess.run(["sh", "-ec", script], env=env, capture_output=True, text=True, timeout=60)
        if not check(p.returncode == 0, f"pki: its script failed on a scripts/pki folder: {p.stderr.strip()[:400]}"):
            return
        for name in PROCS:
            s = services[name]
            env = s.get("environment", {})

            def read(var):
                vol, fname, _ = volume_of(s, env[var])
                return (vol_dir[vol] / fname).read_bytes()
            where = f"{name} (files of the pki service)"
            for f in tlscheck.identity_problems(where, read("LTC_TLS_CERT"), read("LTC_TLS_KEY"), read("LTC_TLS_CA"),
                                                name, f"ltc-{name}"):
                check(False, f)
            own = {vol for vol, _f, _m in (volume_of(s, env[k]) for k in env if k in TLS_VARS or k in GATEWAY_VARS)}
            for vol in own:
                for other in PROCS:
                    if other != name:
                        theirs = (tmp / "pki" / f"{other}.key").read_bytes()
                        check(all(f.read_bytes() != theirs for f in vol_dir[vol].iterdir()),
                              f"{name}: volume {vol} holds {other}'s private key")
            if name == "gateway":
                for f in tlscheck.identity_problems(f"{where}: public", read("LTC_GATEWAY_TLS_CERT"),
                                                    read("LTC_GATEWAY_TLS_KEY"), read("LTC_GATEWAY_TLS_CA"), None,
                                                    "ltc-gateway"):
                    check(False, f + " (ltc-gateway --health-probe verifies it so)")
                for f in tlscheck.not_issued_by(f"{where}: public", read("LTC_GATEWAY_TLS_CERT"), read("LTC_TLS_CA"),
                                                "the mesh CA (LTC_TLS_CA)"):
                    check(False, f + ": the edge certificate would join the mesh")
                for other in STAGES:
                    o = services[other]
                    vol, fname, _ = volume_of(o, o["environment"]["LTC_ASSERTION_PUBLIC_KEY"])
                    for f in tlscheck.assertion_pair_problems(f"{where} and {other}", read("LTC_GATEWAY_ASSERTION_KEY"),
                                                              (vol_dir[vol] / fname).read_bytes()):
                        check(False, f)
                vol, _f, _m = volume_of(s, env["LTC_GATEWAY_JWT_KEYS"])
                files = {f.name: f.read_bytes() for f in vol_dir[vol].iterdir()}
                for f in tlscheck.jwt_problems(f"{where}: {vol}", files):
                    check(False, f)
            else:
                for f in tlscheck.not_issued_by(where, (tmp / "pki" / "gateway-public.crt").read_bytes(),
                                                read("LTC_TLS_CA"), "its mesh CA (LTC_TLS_CA)"):
                    check(False, f + ": the gateway's public certificate would join the mesh")
                dsn = dsn_params(env[f"LTC_{name.upper()}_DSN"])
                vol, fname, _ = volume_of(s, dsn["sslrootcert"])
                pg = services["postgres"]
                cmd = [str(c) for c in pg["command"]]
                crt = next(c.split("=", 1)[1] for c in cmd if c.startswith("ssl_cert_file="))
                pvol, pfile, _ = volume_of(pg, crt)
                for f in tlscheck.server_problems(f"{where}: PostgreSQL's certificate", (vol_dir[pvol] / pfile).read_bytes(),
                                                  (vol_dir[vol] / fname).read_bytes(), dsn["host"]):
                    check(False, f + " (sslmode=verify-full checks it so)")


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
    check(set(services) == set(PROCS) | set(MIGRATES) | {"postgres", "pki"}, f"services are {sorted(services)}")

    pg = services.get("postgres", {})
    check(str(pg.get("image", "")).startswith("postgres:15"), f"postgres image is {pg.get('image')}")
    vols = [str(v.get("source", "")) + ":" + str(v.get("target", "")) if isinstance(v, dict) else str(v)
            for v in pg.get("volumes", [])]
    check(any("deploy/postgres/init.sql" in v and "/docker-entrypoint-initdb.d/" in v for v in vols),
          f"postgres does not run deploy/postgres/init.sql at init: {vols}")
    check("healthcheck" in pg, "postgres has no healthcheck")
    check_postgres_tls(pg)

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
        want = (["postgres", f"{name}-migrate"] if name in STAGES else list(STAGES)) + ["pki"]
        check(isinstance(deps, dict) and sorted(deps) == sorted(want), f"{where} depends_on {deps}")
        for d, spec in (deps.items() if isinstance(deps, dict) else []):
            cond = "service_completed_successfully" if d.endswith("-migrate") or d == "pki" else "service_healthy"
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
        # configuration through the environment only: no files or folders mounted but its TLS material
        check(not s.get("configs") and not s.get("env_file") and not s.get("secrets"),
              f"{where} mounts {s.get('configs') or s.get('env_file') or s.get('secrets')}")
        check_tls(name, s, env)
    for name in STAGES:
        m = services.get(f"{name}-migrate")
        where = f"{name}-migrate:"
        if not check(m is not None, f"{where} missing"):
            continue
        images.add(m.get("image"))
        check(m.get("command") == [f"ltc-{name}", "--migrate-only"], f"{where} command {m.get('command')}")
        check(str(m.get("restart", "no")) == "no", f"{where} restart {m.get('restart')}: a one-shot")
        deps = m.get("depends_on", {})
        check(isinstance(deps, dict) and sorted(deps) == ["pki", "postgres"] and
              deps["postgres"].get("condition") == "service_healthy" and
              deps["pki"].get("condition") == "service_completed_successfully", f"{where} depends_on {deps}")
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
        check(not m.get("configs") and not m.get("env_file"), f"{where} mounts files")
        check([(v["source"], v["read_only"]) for v in mounts(m)] == [("db-ca", True)],
              f"{where} mounts {mounts(m)}: only the read-only volume db-ca")
        check_db_tls(where, m, env, dsn)
    check_pki_service(services.get("pki"), images)
    check(len(images) == 1, f"the LTC processes use several images: {images}")
    if "pki" in services:   # the files each process would read, made as `up` would make them
        try:
            check_tls_files(services)
        except (KeyError, TypeError, IndexError, OSError) as e:
            check(False, f"the TLS files each process names cannot be followed: {type(e).__name__} {e}")

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
