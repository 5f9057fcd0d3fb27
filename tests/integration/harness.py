"""harness - what the integration suites share: the stack (scripts/stack), targets, psql checks, deal fixtures.

The stack is started by the ctest fixture (integration_stack_up) with LTC_STATE_DIR, LTC_BIN_DIR and LTC_PORT_OFFSET
in the environment; run alone, a suite brings the stack up itself when `scripts/stack status` says it is down (and
leaves it running; `scripts/stack down` stops it).

    import harness as h
    stubs = h.gateway()                   # ltc_client.Stubs on the gateway
    h.stop("bto"); ...; h.start("bto")     # one process at a time
    h.sql("SELECT count(*) FROM bto.quotes")  -> [["3"]]
"""

import os
import shlex
import subprocess
import sys
import time
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STACK = REPO / "scripts" / "stack"
sys.path.insert(0, str(REPO / "tests" / "clients" / "python"))

import grpc  # noqa: E402

import lead_to_cash  # noqa: E402,F401  (re-exported for the suites)
import ltc_client as lc  # noqa: E402

# These tests drive the stack in plaintext without authentication (the security tests run it secure: tests/security).
os.environ.setdefault("LTC_STACK_SECURITY", "off")

SERVICES = ("ltb", "bto", "otd", "dtc")
PROCESSES = SERVICES + ("gateway",)
DEFAULT_PORTS = {"gateway": 50051, "ltb": 50061, "bto": 50062, "otd": 50063, "dtc": 50064, "postgres": 55432}
PROCESS_WAIT_S = 30.0


def offset():
    return int(os.environ.get("LTC_PORT_OFFSET", "0") or 0)


# ------------------------------------------------------------------------------------------------------------------
# scripts/stack
# ------------------------------------------------------------------------------------------------------------------

def stack(*args, check=True, timeout=240):
    """Runs `scripts/stack ARGS` with this environment; returns the CompletedProcess. Raises on failure when check."""
    if not STACK.exists():
        raise RuntimeError(f"{STACK} does not exist")
    p = subprocess.run([str(STACK), *args], env=os.environ.copy(), capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError(f"scripts/stack {' '.join(args)} failed (exit {p.returncode}):\n{p.stdout}{p.stderr}")
    return p


_env_cache = None


def stack_env(refresh=False):
    """The variables `scripts/stack env` exports (`export NAME=VALUE` lines), as a dict."""
    global _env_cache
    if _env_cache is None or refresh:
        env = {}
        for line in stack("env").stdout.splitlines():
            line = line.strip()
            if line.startswith("export "):
                line = line[len("export "):]
            if "=" not in line or line.startswith("#"):
                continue
            k, v = line.split("=", 1)
            try:
                parts = shlex.split(v)
                v = parts[0] if len(parts) == 1 else " ".join(parts)
            except ValueError:
                pass
            env[k.strip()] = v
        _env_cache = env
    return _env_cache


def target(name):
    """HOST:PORT of a process (gateway, ltb, bto, otd, dtc): LTC_<NAME>_TARGET from `stack env`, else the default
    port shifted by LTC_PORT_OFFSET."""
    try:
        env = stack_env()
    except Exception:
        env = {}
    for key in (f"LTC_{name.upper()}_TARGET", f"LTC_{name.upper()}_LISTEN"):
        v = env.get(key)
        if v:
            return v.replace("0.0.0.0", "127.0.0.1")
    return f"127.0.0.1:{DEFAULT_PORTS[name] + offset()}"


def ensure_up():
    """Brings the stack up unless `scripts/stack status` says it is up; then waits until every process answers."""
    if stack("status", check=False).returncode != 0:
        _tolerant(("up",), "gateway")
    for name in PROCESSES:
        wait_ready(name)


def stop(name):
    stack("stop", name)


def _tolerant(args, name):
    """Runs a scripts/stack command that starts `name`; when it fails but the process serves anyway (a start race
    of the script), warns instead of failing the test."""
    p = stack(*args, check=False)
    if p.returncode == 0:
        wait_ready(name)
        return
    try:
        wait_ready(name, timeout=10)
    except lc.WaitTimeout:
        raise RuntimeError(f"scripts/stack {' '.join(args)} failed (exit {p.returncode}):\n{p.stdout}{p.stderr}")
    print(f"warning: scripts/stack {' '.join(args)} exited {p.returncode} but {name} serves: "
          f"{(p.stderr.strip().splitlines() or [''])[0]}", file=sys.stderr)


def start(name):
    _tolerant(("start", name), name)


def ensure_started(name):
    """Starts a process that may be stopped or running (cleanup after a fault test), then waits until it serves."""
    stack("start", name, check=False)
    wait_ready(name)


def kill(name):
    """kill -9 of one process."""
    stack("kill", name)


def restart(name):
    _tolerant(("restart", name), name)


# A cheap read per process, called on its own port, to know it serves (health is not in the Python stubs).
def _probe(name, channel):
    md = lc.request_metadata()
    if name == "gateway" or name == "ltb":
        lc.ltb_grpc.LeadToBidServiceStub(channel).ListLeads(lc.ltb.ListLeadsRequest(page_size=1), timeout=3,
                                                              metadata=md)
    elif name == "bto":
        lc.bto_grpc.BidToOrderServiceStub(channel).ListDeals(lc.bto.ListDealsRequest(page_size=1), timeout=3,
                                                              metadata=md)
    elif name == "otd":
        lc.otd_grpc.OrderToDeliveryServiceStub(channel).ListOrders(lc.otd.ListOrdersRequest(page_size=1), timeout=3,
                                                                   metadata=md)
    elif name == "dtc":
        lc.dtc_grpc.DeliveryToCashServiceStub(channel).ListInvoices(lc.dtc.ListInvoicesRequest(page_size=1),
                                                                     timeout=3, metadata=md)
    return True


def wait_ready(name, timeout=PROCESS_WAIT_S):
    """Waits until a process answers a read on its own port (the gateway: a read it proxies to LTB)."""
    ch = grpc.insecure_channel(target(name))
    try:
        lc.wait_for(lambda: _probe(name, ch), timeout, interval=0.2, what=f"{name} at {target(name)} to serve")
    finally:
        ch.close()


def gateway():
    return lc.Stubs(target("gateway"))


def intake(name):
    """Hand-off receivers on a service's own port."""
    return lc.IntakeStubs(target(name))


# ------------------------------------------------------------------------------------------------------------------
# psql
# ------------------------------------------------------------------------------------------------------------------

PSQL = "/usr/lib/postgresql/15/bin/psql" if Path("/usr/lib/postgresql/15/bin/psql").exists() else "psql"
_PSQL_OPTS = ["-X", "-q", "-A", "-t", "-F", "\x1f", "-v", "ON_ERROR_STOP=1"]
_super_cmd = None


def state_dir():
    return Path(os.environ.get("LTC_STATE_DIR") or REPO / ".ltc")


def _pg_base():
    """The embedded cluster's folder, as scripts/stack chooses it ($STATE/pg, or the one in $STATE/pg-location)."""
    loc = state_dir() / "pg-location"
    if loc.exists():
        first = loc.read_text().splitlines()[0].strip()
        if first:
            return Path(first)
    return state_dir() / "pg"


def _superuser_candidates():
    """psql command prefixes that may reach the stack's database as a superuser: the embedded cluster's socket with
    peer authentication (as the postgres OS user when we are root, which owns the cluster then), else a superuser
    DSN from the environment (LTC_TEST_SUPERUSER_DSN, for an external PostgreSQL)."""
    port = str(DEFAULT_PORTS["postgres"] + offset())
    sock = str(_pg_base() / "run")
    cands = []
    if os.environ.get("LTC_TEST_SUPERUSER_DSN"):
        cands.append([PSQL, "-d", os.environ["LTC_TEST_SUPERUSER_DSN"]])
    if os.geteuid() == 0:
        cands.append(["runuser", "-u", "postgres", "--", PSQL, "-h", sock, "-p", port, "-U", "postgres", "-d", "ltc"])
    else:
        import getpass
        cands.append([PSQL, "-h", sock, "-p", port, "-U", getpass.getuser(), "-d", "ltc"])
    return cands


def _psql_run(prefix, query, params=None, timeout=30):
    cmd = list(prefix) + _PSQL_OPTS
    for k, v in (params or {}).items():
        cmd += ["-v", f"{k}={v}"]
    return subprocess.run(cmd, input=query + "\n", capture_output=True, text=True, timeout=timeout, cwd="/")


def superuser_psql():
    """The psql command prefix of a superuser session on the stack's database (found once, then cached)."""
    global _super_cmd
    if _super_cmd:
        return _super_cmd
    tried = []
    for prefix in _superuser_candidates():
        try:
            p = _psql_run(prefix, "SELECT current_setting('is_superuser')", timeout=10)
        except (OSError, subprocess.TimeoutExpired) as e:
            tried.append(f"{' '.join(prefix)}: {e}")
            continue
        if p.returncode == 0 and p.stdout.strip() == "on":
            _super_cmd = prefix
            return prefix
        tried.append(f"{' '.join(prefix)}: {(p.stderr or p.stdout).strip()}")
    raise RuntimeError("no superuser psql session on the stack's database; tried:\n  " + "\n  ".join(tried))


def sql(query, **params):
    """Runs one statement as the superuser; returns rows as lists of strings ("" for NULL). Parameters are psql
    variables quoted as literals: sql("SELECT count(*) FROM bto.deals WHERE id = :'id'", id=some_uuid)."""
    p = _psql_run(superuser_psql(), query, params)
    if p.returncode != 0:
        raise RuntimeError(f"psql failed: {p.stderr.strip()}\nquery: {query}")
    return [line.split("\x1f") for line in p.stdout.splitlines() if line != ""]


def sql_value(query, **params):
    rows = sql(query, **params)
    if len(rows) != 1 or len(rows[0]) != 1:
        raise RuntimeError(f"expected one value from {query!r}, got {rows!r}")
    return rows[0][0]


def sql_int(query, **params):
    return int(sql_value(query, **params))


# ------------------------------------------------------------------------------------------------------------------
# Fixtures and assertions
# ------------------------------------------------------------------------------------------------------------------

def new_deal(stubs, log=None):
    """A lead_to_cash.Deal whose steps a test runs as far as it needs (deal.run_until("wait_otd_order"))."""
    return lead_to_cash.Deal(stubs, log=log or (lambda *_: None))


def expect_error(fn, code):
    """Calls fn(); it must fail with `code`. Returns the decoded ltc_client.ErrorDetails."""
    try:
        v = fn()
    except grpc.RpcError as e:
        d = lc.error_details(e)
        if d.code != code:
            raise AssertionError(f"expected {code.name}, got {d}") from None
        return d
    raise AssertionError(f"expected {code.name}, got a response: {str(v)[:300]!r}")


def expect_error_any(fn, codes):
    """Calls fn(); it must fail with one of `codes`. Returns the decoded ltc_client.ErrorDetails."""
    try:
        v = fn()
    except grpc.RpcError as e:
        d = lc.error_details(e)
        if d.code not in codes:
            raise AssertionError(f"expected one of {[c.name for c in codes]}, got {d}") from None
        return d
    raise AssertionError(f"expected one of {[c.name for c in codes]}, got a response: {str(v)[:300]!r}")


class StackTestCase(unittest.TestCase):
    """Brings the stack up if needed and opens a gateway channel for the class."""
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        ensure_up()
        cls.stubs = gateway()

    @classmethod
    def tearDownClass(cls):
        cls.stubs.close()

    def assertDetails(self, d, code=None, reason=None, fields=None):
        """The error carries a google.rpc.Status with ErrorInfo (and the reason/fields asked for)."""
        if code is not None:
            self.assertEqual(d.code, code, str(d))
        self.assertIsNotNone(d.status, f"no grpc-status-details-bin trailer: {d}")
        self.assertEqual(d.status.code, d.code.value[0], f"google.rpc.Status.code differs from the gRPC code: {d}")
        self.assertIsNotNone(d.error_info, f"no ErrorInfo in the details: {d}")
        self.assertTrue(d.error_info.reason, f"ErrorInfo.reason empty: {d}")
        self.assertRegex(d.error_info.reason, r"^[A-Z][A-Z0-9_]*$", f"reason not UPPER_SNAKE: {d}")
        self.assertTrue(d.error_info.domain, f"ErrorInfo.domain empty: {d}")
        if reason is not None:
            self.assertEqual(d.reason, reason, str(d))
        for f in fields or ():
            self.assertIn(f, d.fields, f"field {f} not named in BadRequest: {d}")


def main():
    """unittest.main with a verbose summary; exits non-zero on failure."""
    unittest.main(verbosity=2, buffer=False)


def wait_until(fn, timeout=30.0, what=None, interval=0.2):
    """Polls a plain predicate (no RPC) until true."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or 'a condition'}")
        time.sleep(interval)
