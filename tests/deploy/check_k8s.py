#!/usr/bin/env python3
"""check_k8s - renders deploy/overlays/dev and deploy/overlays/prod with kubectl's kustomize and checks what the
rendered objects must hold (the schema itself is checked by k8s_schema.sh):

  - per process (gateway ltb bto otd dtc): a Deployment, a Service, a PodDisruptionBudget, a HorizontalPodAutoscaler
    and a NetworkPolicy, all selecting the same pods;
  - Deployments: startup and readiness probes that exec `ltc-<process> --health-probe`, liveness probes that exec
    `ltc-<process> --liveness-probe` (mTLS: native gRPC
    probes cannot present a certificate), resources with requests and limits (memory limit at most 256Mi), pod and
    container security context (runAsNonRoot, numeric non-root user, RuntimeDefault seccomp, no privilege escalation, all
    capabilities dropped, read-only root filesystem), termination grace above preStop + LTC_SHUTDOWN_GRACE_MS,
    configuration from the ConfigMap, DSNs from Secrets only, ports named grpc and metrics;
  - stage services: one init container running `<svc> --migrate-only` with LTC_<SVC>_MIGRATE_DSN from the Secret
    ltc-<svc>-db-owner (the schema owner), hardened like the service; the serving container never gets the owner's
    Secret (its DSN is the serving role's, ltc-<svc>-db); the gateway has no init container;
  - TLS: no LTC_PLAINTEXT and no LTC_GATEWAY_AUTH other than on, in the ConfigMap or any container; each process
    mounts read-only (mode without world bits, fsGroup) its own Secret ltc-tls-<process> and points LTC_TLS_CERT,
    LTC_TLS_KEY, LTC_TLS_CA at its tls.crt, tls.key, ca.crt; the gateway also ltc-gateway-public-tls
    (LTC_GATEWAY_TLS_CERT/KEY) and ltc-jwt-keys (LTC_GATEWAY_JWT_KEYS = keys.json); no other process mounts another's
    Secret; no env value is PEM; the migration init containers get no TLS material. Then the Secrets
    create-secrets.sh makes from a `scripts/pki init` folder are followed to the files each process would read: its
    certificate names it (CN <process>, SAN ltc-<process>), the key is the certificate's, the CA signed it; the
    gateway's public pair passes its --health-probe; the key set's files are all there and none is a private key;
  - identity and the database (issue #19): the stages' LTC_ASSERTION_PUBLIC_KEY (Secret ltc-assertion-public) and
    the gateway's LTC_GATEWAY_ASSERTION_KEY (ltc-gateway-assertion, the gateway's only) are mounted Secret files of
    one Ed25519 pair; the gateway's LTC_GATEWAY_TLS_CA is the edge CA of ltc-gateway-public-tls, which signed its
    public certificate, while the mesh CA (every LTC_TLS_CA) did not; every mesh certificate has the URI SAN
    spiffe://ltc/<process>; each stage's LTC_AUDIT_SPOOL_DIR and the gateway's LTC_GATEWAY_AUDIT_FILE lie on a
    writable volume; the stage containers and their migration init containers have PGSSLMODE=verify-full and
    PGSSLROOTCERT in the Secret ltc-db-ca (the only thing the init container mounts), the DSNs create-secrets.sh makes
    say sslmode=verify-full with that sslrootcert, and ltc-db-ca's CA signed the in-cluster PostgreSQL's certificate
    for the host the DSNs name; that PostgreSQL runs with ssl=on, its key pair from the Secret ltc-postgres-tls and
    deploy/postgres/pg_hba.conf (TCP with TLS only);
  - Services: ports named grpc and metrics; stage services headless (round-robin over every replica);
  - the ConfigMap: each process listens where its container port is, metrics on 0.0.0.0:9464, targets name Services;
  - network policies, evaluated: default deny, and exactly the expected connections between the processes (gateway to
    all four; ltb->bto/otd/dtc, bto->otd, otd->dtc, dtc->bto, dtc->ltb), the gateway open to any source, DNS and
    PostgreSQL egress for the stage services, nothing else;
  - no Secret is rendered (no secret value committed), and the dev secrets script makes exactly the Secrets and keys
    the dev overlay references; no env var holds a DSN or password literally;
  - a Namespace with Pod Security "restricted", every object in it; images set by the overlay.
"""
import base64
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
STAGES = ("ltb", "bto", "otd", "dtc")
PROCS = ("gateway",) + STAGES
PORTS = {"gateway": 50051, "ltb": 50061, "bto": 50062, "otd": 50063, "dtc": 50064}
# Who may open a gRPC connection to whom (hand-offs: ltb->bto, otd and dtc, bto->otd, otd->dtc, dtc->bto and ltb).
ALLOWED = {("gateway", s) for s in STAGES} | {("ltb", "bto"), ("ltb", "otd"), ("ltb", "dtc"), ("bto", "otd"),
                                               ("otd", "dtc"), ("dtc", "bto"), ("dtc", "ltb")}
NAMESPACE = {"dev": "ltc-dev", "prod": "ltc"}
# The TLS variables and the (Secret, key) each must name, through a read-only volume mount.
TLS_VARS = {"LTC_TLS_CERT": "tls.crt", "LTC_TLS_KEY": "tls.key", "LTC_TLS_CA": "ca.crt"}
GATEWAY_VARS = {"LTC_GATEWAY_TLS_CERT": ("ltc-gateway-public-tls", "tls.crt"),
                "LTC_GATEWAY_TLS_KEY": ("ltc-gateway-public-tls", "tls.key"),
                "LTC_GATEWAY_JWT_KEYS": ("ltc-jwt-keys", "keys.json")}
TLS_SECRETS = {f"ltc-tls-{p}" for p in PROCS} | {"ltc-gateway-public-tls", "ltc-jwt-keys"}
# Files besides the TLS identity, each a key of a Secret: the gateway's and the stages'
GATEWAY_FILES = {"LTC_GATEWAY_ASSERTION_KEY": ("ltc-gateway-assertion", "assertion.key"),
                 "LTC_GATEWAY_TLS_CA": ("ltc-gateway-public-tls", "ca.crt")}
STAGE_FILES = {"LTC_ASSERTION_PUBLIC_KEY": ("ltc-assertion-public", "assertion.pub"),
               "PGSSLROOTCERT": ("ltc-db-ca", "ca.crt")}

failures = []
MADE = ({}, [])   # the Secrets create-secrets.sh makes from a scripts/pki folder: ({name: {key: bytes}}, objects)


def check(cond, msg):
    if not cond:
        failures.append(msg)
    return cond


def mem_bytes(q):
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi|K|M|G)?", str(q))
    if not m:
        raise ValueError(f"bad quantity {q}")
    mult = {"Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "K": 1000, "M": 1000 ** 2, "G": 1000 ** 3, None: 1}
    return int(m.group(1)) * mult[m.group(2)]


def render(overlay):
    p = subprocess.run(["kubectl", "kustomize", str(REPO / "deploy" / "overlays" / overlay)],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError(f"kubectl kustomize deploy/overlays/{overlay} failed:\n{p.stderr}")
    return [o for o in yaml.safe_load_all(p.stdout) if o]


# ---- label selectors and network policies ------------------------------------------------------------------------

def selects(selector, labels):
    """Kubernetes LabelSelector semantics (matchLabels AND matchExpressions; {} selects everything)."""
    if selector is None:
        return False
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        k, op, vals = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and labels.get(k) in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


def port_matches(rule_ports, port_no, port_name):
    if not rule_ports:
        return True
    for p in rule_ports:
        if p.get("protocol", "TCP") != "TCP":
            continue
        if "port" not in p or p["port"] == port_no or p["port"] == port_name:
            return True
    return False


def peer_matches(peers, src_labels):
    """A rule's from/to list against a pod of the same namespace (an absent list matches everything)."""
    if peers is None:
        return True
    for peer in peers:
        if "ipBlock" in peer or "namespaceSelector" in peer:
            continue   # other namespaces or addresses: not a pod of ours
        if selects(peer.get("podSelector"), src_labels):
            return True
    return False


def allowed(policies, src, dst, port_no, port_name, egress=True):
    """Whether pod src may connect to pod dst (label dicts) on that port, under the namespace's NetworkPolicies
    (egress=False: only dst's ingress side, for a source outside the namespace)."""
    ing = [p for p in policies if "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
           and selects(p["spec"]["podSelector"], dst)]
    egr = [p for p in policies if "Egress" in p["spec"].get("policyTypes", [])
           and selects(p["spec"]["podSelector"], src)]
    ok_in = not ing or any(peer_matches(r.get("from"), src) and port_matches(r.get("ports"), port_no, port_name)
                           for p in ing for r in p["spec"].get("ingress") or [])
    ok_out = not egress or not egr or any(peer_matches(r.get("to"), dst) and port_matches(r.get("ports"), port_no, None)
                            for p in egr for r in p["spec"].get("egress") or [])
    return ok_in and ok_out


def egress_rules(policies, labels):
    return [r for p in policies if "Egress" in p["spec"].get("policyTypes", [])
            and selects(p["spec"]["podSelector"], labels) for r in p["spec"].get("egress") or []]


# ---- TLS material: environment -> volume mount -> Secret key ------------------------------------------------------

def secret_file(ps, c, path):
    """(Secret name, key, mount, volume) a file path of container c lies in, or None."""
    vols = {v["name"]: v for v in ps.get("volumes", [])}
    for m in c.get("volumeMounts", []):
        mp = m["mountPath"].rstrip("/") + "/"
        if path.startswith(mp) and "/" not in path[len(mp):]:
            v = vols.get(m["name"], {})
            sec = v.get("secret")
            if not sec:
                return None
            rel = path[len(mp):]
            items = sec.get("items")
            if items:   # a projected subset: the file named by an item's path
                key = next((i["key"] for i in items if i["path"] == rel), None)
            else:
                key = rel
            return sec["secretName"], key, m, v
    return None


def check_tls(w, p, ps, c, ics, secret_refs):
    """The TLS variables of process p's container point into its own read-only Secret volumes."""
    pw = f"{w} {p}:"
    env = {e["name"]: e for e in c.get("env", [])}
    check("LTC_PLAINTEXT" not in env, f"{pw} sets LTC_PLAINTEXT")
    check(env.get("LTC_GATEWAY_AUTH", {}).get("value", "on") == "on" and
          "valueFrom" not in env.get("LTC_GATEWAY_AUTH", {}),
          f"{pw} sets LTC_GATEWAY_AUTH {env.get('LTC_GATEWAY_AUTH')}")
    for k, e in env.items():
        check("-----BEGIN" not in str(e.get("value", "")), f"{pw} env {k} holds PEM inline")
    want = {k: (f"ltc-tls-{p}", key) for k, key in TLS_VARS.items()}
    if p == "gateway":
        want.update(GATEWAY_VARS)
        want.update(GATEWAY_FILES)
        for k in STAGE_FILES:
            check(k not in env, f"{pw} gets {k} (a stage's)")
    else:
        want.update(STAGE_FILES)
        for k in list(GATEWAY_VARS) + list(GATEWAY_FILES):
            check(k not in env, f"{pw} gets {k} (the gateway's)")
        check(env.get("PGSSLMODE", {}).get("value") == "verify-full",
              f"{pw} PGSSLMODE {env.get('PGSSLMODE')}: want verify-full (PostgreSQL's certificate and name checked)")
    # the audit: a stage's spool folder, the gateway's refusals file, on a writable volume of the pod
    var = "LTC_GATEWAY_AUDIT_FILE" if p == "gateway" else "LTC_AUDIT_SPOOL_DIR"
    path = env.get(var, {}).get("value", "")
    folder = path.rsplit("/", 1)[0] if p == "gateway" else path
    vols = {v["name"]: v for v in ps.get("volumes", [])}
    spool = [m for m in c.get("volumeMounts", []) if m["mountPath"].rstrip("/") == folder.rstrip("/")]
    check(path.startswith("/") and spool and not spool[0].get("readOnly") and
          ("emptyDir" in vols.get(spool[0]["name"], {}) or "persistentVolumeClaim" in vols.get(spool[0]["name"], {})),
          f"{pw} {var}={path!r} is not on a writable volume of the pod ({spool})")
    files = {}
    for k, (secret, key) in want.items():
        e = env.get(k)
        if not check(e is not None and isinstance(e.get("value"), str) and e["value"].startswith("/"),
                     f"{pw} {k} is not a file path ({e}): TLS material comes from mounted Secrets, never env values"):
            continue
        hit = secret_file(ps, c, e["value"])
        if not check(hit is not None, f"{pw} {k}={e['value']} is not a file of a Secret volume"):
            continue
        got_secret, got_key, m, v = hit
        check((got_secret, got_key) == (secret, key),
              f"{pw} {k} is key {got_key!r} of Secret {got_secret!r}, want {key!r} of {secret!r}")
        check(m.get("readOnly") is True, f"{pw} volume {m['name']} mounted writable")
        mode = v["secret"].get("defaultMode", 0o644)
        check(mode & 0o007 == 0, f"{pw} Secret {got_secret} mounted with mode {oct(mode)}: readable by everyone")
        check(mode & 0o040 == 0 or ps.get("securityContext", {}).get("fsGroup") ==
              ps.get("securityContext", {}).get("runAsGroup"),
              f"{pw} Secret {got_secret} group-readable ({oct(mode)}) but fsGroup is not the process's group")
        check(mode & 0o440 and (mode & 0o040 or ps.get("securityContext", {}).get("runAsUser") == 0),
              f"{pw} Secret {got_secret} mode {oct(mode)}: the non-root process (via fsGroup) cannot read it")
        secret_refs.add((got_secret, got_key))
        files[k] = (got_secret, got_key)
        if k == "LTC_GATEWAY_JWT_KEYS":   # what the key set's folder shows: the items projected, or every key
            items = v["secret"].get("items")
            files["jwt-folder"] = {i["path"]: i["key"] for i in items} if items else None
    mounted = {v["secret"]["secretName"] for v in ps.get("volumes", []) if "secret" in v}
    own = {f"ltc-tls-{p}"} | ({"ltc-gateway-public-tls", "ltc-jwt-keys", "ltc-gateway-assertion"} if p == "gateway"
                              else {"ltc-assertion-public", "ltc-db-ca"})
    check(mounted == own, f"{pw} pod mounts Secrets {sorted(mounted)}, want exactly its own {sorted(own)}")
    for ic in ics:
        ienv = {e["name"]: e for e in ic.get("env", [])}
        check(not any(k.startswith("LTC_TLS") or k.startswith("LTC_GATEWAY_") or k.startswith("LTC_ASSERTION")
                      for k in ienv), f"{pw} init container {ic.get('name')} gets TLS material (--migrate-only needs none)")
        mounts = [(vols.get(m["name"], {}).get("secret", {}).get("secretName"), m.get("readOnly"))
                  for m in ic.get("volumeMounts", [])]
        check(mounts == [("ltc-db-ca", True)], f"{pw} init container mounts {mounts}: only ltc-db-ca, read-only")
        check(ienv.get("PGSSLMODE", {}).get("value") == "verify-full", f"{pw} init container PGSSLMODE not verify-full")
        root = ienv.get("PGSSLROOTCERT", {}).get("value", "")
        hit = secret_file(ps, ic, root) if root else None
        check(hit is not None and hit[:2] == ("ltc-db-ca", "ca.crt"),
              f"{pw} init container PGSSLROOTCERT={root!r} is not ca.crt of Secret ltc-db-ca")
        if hit:
            secret_refs.add(hit[:2])
    return files


def check_tls_files(w, tls_files, made):
    """Follows each process's TLS variables to the bytes create-secrets.sh put in those Secrets."""
    for p, files in tls_files.items():
        def read(var):
            secret, key = files[var]
            return made.get(secret, {}).get(key, b"")
        where = f"{w} {p} (files from create-secrets.sh)"
        if not all(v in files for v in TLS_VARS):
            continue
        for f in tlscheck.identity_problems(where, read("LTC_TLS_CERT"), read("LTC_TLS_KEY"), read("LTC_TLS_CA"),
                                            p, f"ltc-{p}"):
            check(False, f)
        if p == "gateway" and all(v in files for v in GATEWAY_VARS):
            for f in tlscheck.identity_problems(f"{where}: public", read("LTC_GATEWAY_TLS_CERT"),
                                                read("LTC_GATEWAY_TLS_KEY"), read("LTC_GATEWAY_TLS_CA"), None,
                                                "ltc-gateway"):
                check(False, f + " (ltc-gateway --health-probe verifies it so)")
            for f in tlscheck.not_issued_by(f"{where}: public", read("LTC_GATEWAY_TLS_CERT"), read("LTC_TLS_CA"),
                                            "the mesh CA (LTC_TLS_CA)"):
                check(False, f + ": the edge certificate would join the mesh")
            for other, ofiles in tls_files.items():
                if other != "gateway" and "LTC_ASSERTION_PUBLIC_KEY" in ofiles:
                    sec, key = ofiles["LTC_ASSERTION_PUBLIC_KEY"]
                    for f in tlscheck.assertion_pair_problems(f"{where} and {other}", read("LTC_GATEWAY_ASSERTION_KEY"),
                                                              made.get(sec, {}).get(key, b"")):
                        check(False, f)
            jwt_secret = files["LTC_GATEWAY_JWT_KEYS"][0]
            folder = made.get(jwt_secret, {})
            if files.get("jwt-folder") is not None:
                folder = {path: folder[key] for path, key in files["jwt-folder"].items() if key in folder}
            for f in tlscheck.jwt_problems(f"{where}: {jwt_secret}", folder):
                check(False, f)


def made_secrets(pki):
    """The Secrets create-secrets.sh --print makes from the PKI folder: {name: {key: bytes}} and the objects."""
    p = subprocess.run([str(REPO / "deploy/overlays/dev/create-secrets.sh"), "--print", "--pki", str(pki)],
                       capture_output=True, text=True, timeout=60)
    if not check(p.returncode == 0, f"create-secrets.sh --print --pki failed: {p.stderr}"):
        return {}, []
    docs = [d for d in yaml.safe_load_all(p.stdout) if d]
    made = {}
    for s in docs:
        vals = {k: v.encode() for k, v in (s.get("stringData") or {}).items()}
        vals.update({k: base64.b64decode(v) for k, v in (s.get("data") or {}).items()})
        made[s["metadata"]["name"]] = vals
    return made, docs


# ---- the checks --------------------------------------------------------------------------------------------------

def check_overlay(name, objs):
    w = f"[{name}]"
    by = {}
    for o in objs:
        by.setdefault(o["kind"], {})[o["metadata"]["name"]] = o
    ns = NAMESPACE[name]
    nso = by.get("Namespace", {}).get(ns)
    if check(nso is not None, f"{w} no Namespace {ns}"):
        check(nso["metadata"].get("labels", {}).get("pod-security.kubernetes.io/enforce") == "restricted",
              f"{w} namespace {ns} does not enforce Pod Security restricted")
    for o in objs:
        if o["kind"] != "Namespace":
            check(o["metadata"].get("namespace") == ns, f"{w} {o['kind']} {o['metadata']['name']} not in {ns}")
    check("Secret" not in by, f"{w} renders Secrets {sorted(by.get('Secret', {}))}: secrets are never committed")

    cms = by.get("ConfigMap", {})
    cfg = next((c["data"] for n, c in cms.items() if n.startswith("ltc-config")), None)
    if not check(cfg is not None, f"{w} no ltc-config ConfigMap"):
        return
    grace_ms = int(cfg.get("LTC_SHUTDOWN_GRACE_MS", "5000"))
    for p in PROCS:
        check(cfg.get(f"LTC_{p.upper()}_LISTEN") == f"0.0.0.0:{PORTS[p]}", f"{w} config LTC_{p.upper()}_LISTEN")
        check(cfg.get(f"LTC_{p.upper()}_METRICS_LISTEN") == "0.0.0.0:9464", f"{w} config LTC_{p.upper()}_METRICS_LISTEN")
        t = cfg.get(f"LTC_{p.upper()}_TARGET", "")
        check(t.split(":")[0] in by.get("Service", {}) and t.endswith(f":{PORTS[p]}"),
              f"{w} LTC_{p.upper()}_TARGET={t!r} does not name the {p} Service and port")
    for k, v in cfg.items():
        check(not re.search(r"(?i)password|_DSN$", k) and "password=" not in v, f"{w} ConfigMap holds {k}")
        check("-----BEGIN" not in v, f"{w} ConfigMap {k} holds PEM")
    check("LTC_PLAINTEXT" not in cfg, f"{w} ConfigMap sets LTC_PLAINTEXT={cfg.get('LTC_PLAINTEXT')!r}")
    check(cfg.get("LTC_GATEWAY_AUTH", "on") == "on",
          f"{w} ConfigMap sets LTC_GATEWAY_AUTH={cfg.get('LTC_GATEWAY_AUTH')}")

    pods = {}
    secret_refs = set()
    tls_files = {}
    for p in PROCS:
        pw = f"{w} {p}:"
        d = by.get("Deployment", {}).get(p)
        if not check(d is not None, f"{pw} no Deployment"):
            continue
        spec = d["spec"]
        tmpl = spec["template"]
        labels = tmpl["metadata"].get("labels", {})
        pods[p] = labels
        check(selects(spec["selector"], labels), f"{pw} Deployment selector does not select its pods")
        check("replicas" not in spec, f"{pw} Deployment sets replicas (the HPA owns them)")
        ps = tmpl["spec"]
        check(ps.get("automountServiceAccountToken") is False, f"{pw} service account token mounted")
        psc = ps.get("securityContext", {})
        check(psc.get("runAsNonRoot") is True, f"{pw} pod runAsNonRoot not true")
        check(isinstance(psc.get("runAsUser"), int) and psc["runAsUser"] > 0, f"{pw} pod runAsUser {psc.get('runAsUser')}")
        check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{pw} seccomp not RuntimeDefault")
        cs = ps.get("containers", [])
        if not check(len(cs) == 1, f"{pw} {len(cs)} containers"):
            continue
        c = cs[0]
        img = c.get("image", "")
        check(re.search(r"(:[\w.-]+|@sha256:[0-9a-f]{64})$", img) and not img.endswith(":latest"),
              f"{pw} image {img!r} not pinned by the overlay")
        check(c.get("args") == [p], f"{pw} args {c.get('args')}")
        ports = {pt.get("name"): pt for pt in c.get("ports", [])}
        check(ports.get("grpc", {}).get("containerPort") == PORTS[p], f"{pw} container port grpc")
        check(ports.get("metrics", {}).get("containerPort") == 9464, f"{pw} container port metrics")
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            pr = c.get(probe) or {}
            # mTLS: only the process's own --health-probe (its certificate) can ask; native gRPC probes cannot
            # readiness and startup: serving, database, backlog (service ""); liveness: the loop answers
            flag = "--liveness-probe" if probe == "livenessProbe" else "--health-probe"
            check(pr.get("exec", {}).get("command") == [f"ltc-{p}", flag] and
                  not any(k in pr for k in ("grpc", "httpGet", "tcpSocket")),
                  f"{pw} {probe} is not exec `ltc-{p} {flag}`: {pr}")
            check(pr.get("timeoutSeconds", 1) >= 3, f"{pw} {probe} timeout {pr.get('timeoutSeconds', 1)}s "
                                                    f"is not above the probe's own 2 s deadline")
        res = c.get("resources", {})
        for kind in ("requests", "limits"):
            for r in ("cpu", "memory"):
                check(r in res.get(kind, {}), f"{pw} no resources.{kind}.{r}")
        if "memory" in res.get("limits", {}) and "memory" in res.get("requests", {}):
            lim, req = mem_bytes(res["limits"]["memory"]), mem_bytes(res["requests"]["memory"])
            check(req <= lim <= 256 * 1024 ** 2, f"{pw} memory request {req} / limit {lim}")
        sc = c.get("securityContext", {})
        check(sc.get("allowPrivilegeEscalation") is False, f"{pw} allowPrivilegeEscalation not false")
        check(sc.get("readOnlyRootFilesystem") is True, f"{pw} root filesystem not read-only")
        check(sc.get("runAsNonRoot") is not False and not sc.get("privileged"), f"{pw} container may run as root")
        check(sc.get("capabilities", {}).get("drop") == ["ALL"] and not sc.get("capabilities", {}).get("add"),
              f"{pw} capabilities {sc.get('capabilities')}")
        pre = c.get("lifecycle", {}).get("preStop", {})
        pre_s = 0
        if pre.get("exec", {}).get("command", [None])[0] == "sleep":
            pre_s = float(pre["exec"]["command"][1])
        elif "sleep" in pre:
            pre_s = float(pre["sleep"]["seconds"])
        tgp = ps.get("terminationGracePeriodSeconds", 30)
        check(tgp * 1000 >= (pre_s * 1000 + grace_ms) + 5000,
              f"{pw} terminationGracePeriodSeconds {tgp} not above preStop {pre_s}s + grace {grace_ms}ms + 5s")
        refs = [e["configMapRef"]["name"] for e in c.get("envFrom", []) if "configMapRef" in e]
        check(any(r.startswith("ltc-config") and r in cms for r in refs), f"{pw} envFrom ltc-config {refs}")
        env = {e["name"]: e for e in c.get("env", [])}
        for k, e in env.items():
            check("value" not in e or not re.search(r"(?i)password|_DSN$", k), f"{pw} env {k} holds a literal value")
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                secret_refs.add((ref["name"], ref["key"]))
        dsn = env.get(f"LTC_{p.upper()}_DSN")
        if p in STAGES:
            check(dsn is not None and dsn.get("valueFrom", {}).get("secretKeyRef") == {"name": f"ltc-{p}-db", "key": "dsn"},
                  f"{pw} LTC_{p.upper()}_DSN not from Secret ltc-{p}-db key dsn")
            check({k for k in env if k.endswith("_DSN")} == {f"LTC_{p.upper()}_DSN"},
                  f"{pw} the serving container gets DSNs {sorted(k for k in env if k.endswith('_DSN'))}")
        else:
            check(not any(k.endswith("_DSN") for k in env), f"{pw} the gateway gets a DSN")
        tls_files[p] = check_tls(w, p, ps, c, ps.get("initContainers", []), secret_refs)
        check(not any(e.get("secretRef", {}).get("name", "").endswith("-owner") for e in c.get("envFrom", [])) and
              not any(e.get("valueFrom", {}).get("secretKeyRef", {}).get("name", "").endswith("-owner")
                      for e in env.values()), f"{pw} the serving container gets the schema owner's Secret")

        # the migration init container (stage services), as the schema owner
        ics = ps.get("initContainers", [])
        if p not in STAGES:
            check(not ics, f"{pw} the gateway has init containers")
        elif check(len(ics) == 1, f"{pw} {len(ics)} init containers, want 1 (the migrations)"):
            ic = ics[0]
            check(ic.get("image") == img, f"{pw} init container image {ic.get('image')} is not the service's {img}")
            check(ic.get("args") == [p, "--migrate-only"], f"{pw} init container args {ic.get('args')}")
            ienv = {e["name"]: e for e in ic.get("env", [])}
            check({k for k in ienv if k.endswith("_DSN")} == {f"LTC_{p.upper()}_MIGRATE_DSN"},
                  f"{pw} init container DSNs {sorted(ienv)}")
            check(ienv.get(f"LTC_{p.upper()}_MIGRATE_DSN", {}).get("valueFrom", {}).get("secretKeyRef") ==
                  {"name": f"ltc-{p}-db-owner", "key": "dsn"},
                  f"{pw} init container LTC_{p.upper()}_MIGRATE_DSN not from Secret ltc-{p}-db-owner key dsn")
            for k, e in ienv.items():
                check("value" not in e or not re.search(r"(?i)password|_DSN$", k), f"{pw} init env {k} literal")
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    secret_refs.add((ref["name"], ref["key"]))
            isc = ic.get("securityContext", {})
            check(isc.get("allowPrivilegeEscalation") is False and isc.get("readOnlyRootFilesystem") is True and
                  isc.get("runAsNonRoot") is not False and not isc.get("privileged") and
                  isc.get("capabilities", {}).get("drop") == ["ALL"] and not isc.get("capabilities", {}).get("add"),
                  f"{pw} init container security context {isc}")
            ires = ic.get("resources", {})
            check(all(r in ires.get(k, {}) for k in ("requests", "limits") for r in ("cpu", "memory")),
                  f"{pw} init container resources {ires}")

        s = by.get("Service", {}).get(p)
        if check(s is not None, f"{pw} no Service"):
            sp = {x.get("name"): x for x in s["spec"].get("ports", [])}
            check(set(sp) == {"grpc", "metrics"}, f"{pw} Service ports {sorted(sp)}")
            check(sp.get("grpc", {}).get("port") == PORTS[p], f"{pw} Service grpc port")
            check(sp.get("grpc", {}).get("targetPort") in ("grpc", PORTS[p]), f"{pw} Service grpc targetPort")
            check(selects({"matchLabels": s["spec"].get("selector", {})}, labels), f"{pw} Service selects no pod")
            if p in STAGES:
                check(s["spec"].get("clusterIP") == "None", f"{pw} Service not headless")
        pdb = by.get("PodDisruptionBudget", {}).get(p)
        if check(pdb is not None, f"{pw} no PodDisruptionBudget"):
            check(selects(pdb["spec"].get("selector"), labels), f"{pw} PDB selects no pod")
            check("maxUnavailable" in pdb["spec"] or "minAvailable" in pdb["spec"], f"{pw} PDB without a budget")
        hpa = by.get("HorizontalPodAutoscaler", {}).get(p)
        if check(hpa is not None, f"{pw} no HorizontalPodAutoscaler"):
            hs = hpa["spec"]
            check(hs["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": p},
                  f"{pw} HPA target {hs['scaleTargetRef']}")
            check(1 <= hs.get("minReplicas", 1) <= hs["maxReplicas"], f"{pw} HPA replicas {hs.get('minReplicas')}..")
            if name == "prod":
                check(hs.get("minReplicas", 1) >= 2, f"{pw} prod HPA minReplicas {hs.get('minReplicas')} < 2")
            check(hs.get("metrics"), f"{pw} HPA without metrics")
        check(p in by.get("NetworkPolicy", {}), f"{pw} no NetworkPolicy {p}")

    # network policies, evaluated between our pods
    pols = list(by.get("NetworkPolicy", {}).values())
    dd = by.get("NetworkPolicy", {}).get("default-deny")
    check(dd is not None and dd["spec"]["podSelector"] == {} and sorted(dd["spec"].get("policyTypes", [])) ==
          ["Egress", "Ingress"] and not dd["spec"].get("ingress") and not dd["spec"].get("egress"),
          f"{w} no default-deny policy for ingress and egress")
    for src, sl in pods.items():
        for dst, dl in pods.items():
            if src == dst:
                continue
            got = allowed(pols, sl, dl, PORTS[dst], "grpc")
            want = (src, dst) in ALLOWED
            check(got == want, f"{w} network policy: {src} -> {dst} grpc is {'allowed' if got else 'denied'}, "
                               f"want {'allowed' if want else 'denied'}")
            check(not allowed(pols, sl, dl, 9464, "metrics"), f"{w} network policy: {src} -> {dst} metrics allowed")
    outsider = {"app.kubernetes.io/name": "somebody-else"}
    for dst, dl in pods.items():
        got = allowed(pols, outsider, dl, PORTS[dst], "grpc", egress=False)
        check(got == (dst == "gateway"),
              f"{w} network policy: a pod of another namespace -> {dst} is {'allowed' if got else 'denied'}")
    gw_ing = [r for pl in pols if selects(pl["spec"]["podSelector"], pods.get("gateway", {}))
              and "Ingress" in pl["spec"].get("policyTypes", []) for r in pl["spec"].get("ingress") or []]
    check(any(r.get("from") is None for r in gw_ing), f"{w} the gateway is not open to sources outside the namespace")
    for p, labels in pods.items():
        rules = egress_rules(pols, labels)
        dns = any(port_matches(r.get("ports"), 53, None) and r.get("to") for r in rules)
        check(dns, f"{w} {p}: no DNS egress")
        pg = any(any(pt.get("port") == 5432 for pt in r.get("ports") or []) for r in rules)
        check(pg == (p in STAGES), f"{w} {p}: PostgreSQL egress is {pg}")
        check(all(r.get("to") for r in rules), f"{w} {p}: an egress rule open to every destination")

    # dev: the in-cluster PostgreSQL and the Secrets the secrets script makes
    if name == "dev":
        sts = by.get("StatefulSet", {}).get("postgres")
        if check(sts is not None, f"{w} no postgres StatefulSet"):
            for e in sts["spec"]["template"]["spec"]["containers"][0].get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    secret_refs.add((ref["name"], ref["key"]))
                check("value" not in e or "PASSWORD" not in e["name"], f"{w} postgres env {e['name']} literal")
            check(any(c["metadata"]["name"].startswith("ltc-postgres-init") for c in cms.values()),
                  f"{w} no init.sql ConfigMap")
            init = next((c["data"] for n2, c in cms.items() if n2.startswith("ltc-postgres-init")), {})
            check(list(init.values()) == [(REPO / "deploy/postgres/init.sql").read_text()],
                  f"{w} the init ConfigMap is not deploy/postgres/init.sql")
        pgc = sts["spec"]["template"]["spec"]["containers"][0] if sts else {}
        pgs = sts["spec"]["template"]["spec"] if sts else {}
        args = [str(a) for a in pgc.get("args", [])]
        opts = {args[i + 1].split("=", 1)[0]: args[i + 1].split("=", 1)[1] for i in range(len(args) - 1)
                if args[i] == "-c" and "=" in args[i + 1]}
        check(opts.get("ssl") == "on", f"{w} postgres args {args}: ssl is not on")
        for k, key in (("ssl_cert_file", "tls.crt"), ("ssl_key_file", "tls.key")):
            hit = secret_file(pgs, pgc, opts.get(k, "")) if opts.get(k) else None
            if check(hit is not None and hit[:2] == ("ltc-postgres-tls", key),
                     f"{w} postgres {k}={opts.get(k)} is not {key} of Secret ltc-postgres-tls"):
                secret_refs.add(hit[:2])
        hba = opts.get("hba_file", "")
        hba_dir = hba.rsplit("/", 1)[0]
        hm = [m for m in pgc.get("volumeMounts", []) if m["mountPath"].rstrip("/") == hba_dir]
        pvols = {v["name"]: v for v in pgs.get("volumes", [])}
        cm_name = pvols.get(hm[0]["name"], {}).get("configMap", {}).get("name", "") if hm else ""
        hba_data = next((c["data"] for n2, c in cms.items() if n2 == cm_name), {})
        check(hba_data.get(hba.rsplit("/", 1)[-1]) == (REPO / "deploy/postgres/pg_hba.conf").read_text(),
              f"{w} postgres hba_file={hba!r} is not deploy/postgres/pg_hba.conf from a ConfigMap")
        made, docs = MADE
        if made:
            for svc in STAGES:
                for o in ("", "-owner"):
                    dsn = dict(kv.split("=", 1) for kv in made.get(f"ltc-{svc}-db{o}", {}).get("dsn", b"").decode()
                               .split() if "=" in kv)
                    check(dsn.get("sslmode") == "verify-full" and dsn.get("sslrootcert") == "/etc/ltc/db-ca/ca.crt",
                          f"{w} create-secrets.sh's DSN of ltc-{svc}-db{o}: sslmode {dsn.get('sslmode')}, sslrootcert "
                          f"{dsn.get('sslrootcert')}: want verify-full with the mounted ltc-db-ca")
                    if o == "" and "ltc-postgres-tls" in made:
                        for f in tlscheck.server_problems(f"{w} PostgreSQL's certificate",
                                                          made["ltc-postgres-tls"].get("tls.crt", b""),
                                                          made.get("ltc-db-ca", {}).get("ca.crt", b""),
                                                          dsn.get("host", "")):
                            check(False, f + " (sslmode=verify-full checks it so)")
            for s in docs:
                check(s["metadata"].get("namespace") == ns, f"{w} secret {s['metadata']['name']} namespace")
                for k, v in made[s["metadata"]["name"]].items():
                    check(len(v) >= 16, f"{w} secret {s['metadata']['name']}/{k} is short")
            pairs = {(n2, k) for n2, vals in made.items() for k in vals}
            # the key set's files are mounted with keys.json (no reference of their own): any the script adds
            extra = {(n2, k) for n2, k in pairs - secret_refs if not (n2 == "ltc-jwt-keys" and k != "keys.json")}
            check(not extra and secret_refs <= pairs,
                  f"{w} create-secrets.sh makes {sorted(extra)} extra, {sorted(secret_refs - pairs)} missing")
            tls = {s["metadata"]["name"]: s.get("type") for s in docs if s["metadata"]["name"].startswith("ltc-tls-")}
            check(all(ty == "kubernetes.io/tls" for ty in tls.values()), f"{w} TLS Secrets' types {tls}")
    else:
        check(secret_refs == {(f"ltc-{s}-db{o}", "dsn") for s in STAGES for o in ("", "-owner")} |
              {(f"ltc-tls-{p}", k) for p in PROCS for k in TLS_VARS.values()} | set(GATEWAY_VARS.values()) |
              set(GATEWAY_FILES.values()) | set(STAGE_FILES.values()),
              f"{w} secret references {sorted(secret_refs)}")
    # the files each process would read, from the Secrets the script makes (the same names in prod)
    check_tls_files(w, tls_files, MADE[0])
    return len(objs)


def check_tree():
    """No password, key or certificate committed under deploy/."""
    for f in sorted((REPO / "deploy").rglob("*")):
        if not f.is_file():
            continue
        t = f.read_text(errors="replace")
        check("PRIVATE KEY" not in t, f"{f}: a private key")
        if f.suffix in (".yaml", ".yml"):
            for o in yaml.safe_load_all(t):
                if isinstance(o, dict) and o.get("kind") == "Secret":
                    check(not o.get("data") and not o.get("stringData"), f"{f}: a Secret with values")
            for m in re.finditer(r"(?i)password=([^\s\"$]+)", t):
                check(False, f"{f}: a literal password {m.group(0)[:20]}...")


def main():
    if not shutil.which("kubectl"):
        print("SKIPPED: kubectl (with kustomize) not found", file=sys.stderr)
        return 77
    global MADE
    with tempfile.TemporaryDirectory(prefix="ltc-k8s-pki-") as tmp:
        p = subprocess.run([str(REPO / "scripts/pki"), "init", f"{tmp}/pki"], capture_output=True, text=True,
                           timeout=120)
        if not check(p.returncode == 0, f"scripts/pki init failed: {p.stderr}"):
            MADE = ({}, [])
        else:
            MADE = made_secrets(f"{tmp}/pki")
            # the script refuses what would mount the wrong files
            (Path(tmp) / "pki/bto.crt").write_bytes((Path(tmp) / "pki/ltb.crt").read_bytes())
            p = subprocess.run([str(REPO / "deploy/overlays/dev/create-secrets.sh"), "--print", "--pki",
                                f"{tmp}/pki"], capture_output=True, text=True, timeout=60)
            check(p.returncode != 0 and "spiffe://ltc/bto" in p.stderr, "create-secrets.sh accepts ltb's certificate as bto's")
    n = 0
    for overlay in ("dev", "prod"):
        n += check_overlay(overlay, render(overlay))
    check_tree()
    for f in failures:
        print(f"FAIL: {f}")
    print(f"k8s: dev and prod rendered, {n} objects checked, {len(failures)} problem(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
